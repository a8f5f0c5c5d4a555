"""`track(model)` as users write it (variables, tensors, `.numpy()` floats), the same history either way, and the
key and value rules that train_step's extra values share with it, all checked before training."""

import json
import re

import pandas as pd
import pytest

from nnlab import NnlabError, cli
from nnlab.results import console
from nnlab.train import columns, loop, runner
from tests.test_bring_your_own import SUBCLASSED_LINE

# TensorFlow's "Custom training: basics" (https://www.tensorflow.org/guide/basic_training_loops), as the port in
# test_bring_your_own writes it: y = w * x + b on scalar weights, a hand-written step, w and b tracked. Here the
# step's result and the track are swapped for each case.
BASICS = (
    SUBCLASSED_LINE.replace("        return loss\n", "        return STEP_RETURNS(loss)\n")
    .replace('return {"w": model.w, "b": model.b}', "return TRACK(model)")
    .replace("        batch_size: int = 1000", "        batch_size: int = 250")
    + """
    STEP_RETURNS = lambda loss: loss
    TRACK = lambda model: {'w': model.w, 'b': model.b}
"""
)
OVERRIDES = ["epochs=6"]

TRACKS = {
    "variables": "lambda model: {'w': model.w, 'b': model.b}",
    "tensors": "lambda model: {'w': model.w * 1.0, 'b': tf.reshape(model.b, [1])}",
    "numpy floats": "lambda model: {'w': float(model.w.numpy()), 'b': float(model.b.numpy())}",
    "python floats and arrays": "lambda model: {'w': float(model.w), 'b': np.asarray(model.b)}",
}


def module(make_experiment, track=None, step_returns=None):
    source = BASICS
    if track:
        source = source.replace("TRACK = lambda model: {'w': model.w, 'b': model.b}", f"TRACK = {track}")
    if step_returns:
        source = source.replace("STEP_RETURNS = lambda loss: loss", f"STEP_RETURNS = {step_returns}")
    return make_experiment("basics", source)


def test_every_form_of_track_gives_the_same_history(make_experiment, results_dir, monkeypatch, capsys):
    monkeypatch.setattr(loop, "CHUNK_SECONDS", 1e9)  # compiled calls of several epochs where track allows it
    tables = {}
    for name, track in TRACKS.items():
        module(make_experiment, track)
        console.said.clear()
        result = runner.run("basics", OVERRIDES, results_dir=results_dir, verbose=0)
        tables[name] = pd.read_csv(result.run_dir / "history.csv").drop(columns="seconds")
        said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("nnlab:")]
        eager = name in ("numpy floats", "python floats and arrays")
        assert len(said) == eager, (name, said)
        if eager:
            assert "track(model) cannot run inside the compiled loop" in said[0] and "one epoch per call" in said[0]
    reference = tables.pop("variables")
    assert list(reference.columns) == ["epoch", "loss", "w", "b", "learning_rate"] and len(reference) == 6
    assert abs(reference["w"].iloc[-1] - 3.0) < 0.3  # it learned, from w = 5
    for name, table in tables.items():
        pd.testing.assert_frame_equal(reference, table, check_exact=True, obj=name)


@pytest.mark.parametrize(
    "track, match",
    [
        ("lambda model: {'loss': model.w}", r"returned the key 'loss', which is already a history column"),
        ("lambda model: {'val_w': model.w}", r"key 'val_w', which starts with val_"),
        ("lambda model: {'w,b': model.w}", r"key 'w,b', which holds a comma"),
        ("lambda model: {'w\"': model.w}", r"which holds a quote"),
        ("lambda model: {'w\\n': model.w}", r"which holds a line break"),
        ("lambda model: {'learning_rate': model.w}", r"already a history column"),
        ("lambda model: {1: model.w}", r"key 1, which is not a non-empty string"),
        ("lambda model: {'w': model.w, 3: model.b}", r"key 3, which is not a non-empty string"),
        ("lambda model: None", r"track\(model\) must return a dict of single numbers.*returned None"),
        (
            "lambda model: {'w': tf.constant('high')}",
            r"returned 'w': .*dtype string when traced; each value must be one",
        ),
        ("lambda model: {'w': str(model.w.numpy())}", r"returned 'w': '5.0' before training; each value must be one"),
        ("lambda model: {'w': model.w * tf.ones([2])}", r"shape \(2,\).*exactly one number"),
        ("lambda model: [model.w]", r"track\(model\) must return a dict of single numbers"),
        ("lambda model: {'w': 1.0 / int(model.w.numpy() > 4)}", r"raised ZeroDivisionError after epoch 0"),
    ],
    ids=[
        "loss",
        "val_",
        "comma",
        "quote",
        "newline",
        "learning_rate",
        "int key",
        "mixed keys",
        "None",
        "string tensor",
        "string",
        "two numbers",
        "list",
        "raises later",
    ],
)
def test_a_bad_track_stops_with_one_paragraph(make_experiment, results_dir, capsys, track, match):
    module(make_experiment, track)
    code = cli.main(["--results", str(results_dir), "run", "basics", *OVERRIDES])
    stderr = capsys.readouterr().err
    errors = [line for line in stderr.splitlines() if line.startswith("nnlab: error:")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in stderr, stderr
    assert "basics.py" in errors[0]
    assert re.search(match, errors[0]), errors[0]
    if "key" in match:  # refused for its keys, not sent to run eagerly first
        assert "cannot run inside the compiled loop" not in stderr, stderr
    [run_dir] = (results_dir / "basics").iterdir()
    assert json.loads((run_dir / "status.json").read_text())["status"] == "failed"


@pytest.mark.parametrize(
    "returns, match",
    [
        ("lambda loss: {'loss': loss, 'val_extra': loss}", r"train_step returned the key 'val_extra'"),
        ("lambda loss: {'loss': loss, 'mean,max': loss}", r"key 'mean,max', which holds a comma"),
        (
            "lambda loss: {'loss': loss, 'note': 'converging'}",
            r"train_step returned 'note': 'converging', not a number",
        ),
        ("lambda loss: {'loss': loss, 'seconds': loss}", r"key 'seconds', which is already a history column"),
        ("lambda loss: None", r"train_step returned the loss as None, not a number"),
        ("lambda loss: {'loss': loss, 3: loss}", r"train_step returned the key 3, which is not a non-empty string"),
    ],
    ids=["val_", "comma", "string", "seconds", "None", "int key"],
)
def test_train_step_values_follow_the_same_rules(make_experiment, results_dir, returns, match):
    module(make_experiment, step_returns=returns)
    with pytest.raises(NnlabError, match=match):
        runner.run("basics", OVERRIDES, results_dir=results_dir, verbose=0)


def test_train_step_may_return_python_numbers_beside_its_loss(make_experiment, results_dir):
    module(make_experiment, step_returns="lambda loss: {'loss': loss, 'rate': 0.5, 'batch': tf.constant(1)}")
    table = pd.read_csv(runner.run("basics", ["epochs=2"], results_dir=results_dir, verbose=0).run_dir / "history.csv")
    assert list(table["rate"]) == [0.5, 0.5] and list(table["batch"]) == [1.0, 1.0]


def test_a_track_key_may_not_repeat_a_metric():
    with pytest.raises(NnlabError, match=r"track\(model\) returned the key 'accuracy', which is already a history"):
        columns.check_names(["w", "accuracy"], ["loss", "accuracy", "val_loss", "val_accuracy"], "e.py", "track(model)")
    with pytest.raises(NnlabError, match="returned the key 'w', which is already"):
        columns.check_names(["w", "w"], [], "e.py", "track(model)")
