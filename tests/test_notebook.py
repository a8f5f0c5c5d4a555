"""The notebook API on the package face: nnlab.run/load/runs (trials and tune are covered in test_sweep_hparams)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import nnlab
from tests.conftest import REPO


def test_run_load_and_runs_through_the_package_face(repo_experiments, results_dir):
    first = nnlab.run("linefit", {"epochs": 2}, results_dir=results_dir)
    second = nnlab.run("linefit", ["epochs=3", f"from={first.run_dir / 'config.json'}"], results_dir=results_dir)
    run = nnlab.load(second.run_dir)
    assert run.config["epochs"] == 3 and run.status == "done" and run.experiment == "linefit"
    assert list(run.history["epoch"]) == [0, 1, 2] and {"loss", "w", "b", "learning_rate"} <= set(run.history)
    assert run.metrics["final"]["loss"] == run.history["loss"].iloc[-1]
    model = run.model()
    assert np.allclose(model.layers[0].get_weights()[0][0, 0], run.history["w"].iloc[-1], atol=1e-6)
    table = nnlab.runs("linefit", results_dir=results_dir)
    assert list(table["run_id"]) == [second.run_dir.name, first.run_dir.name]  # newest first
    assert list(table["epochs"]) == [3, 2] and list(table["status"]) == ["done", "done"]
    assert table["final.loss"].iloc[0] == run.history["loss"].iloc[-1]
    html, markdown = nnlab.write_report(results_dir, experiment="linefit")
    assert second.run_dir.name in markdown.read_text() and html.stat().st_size > 0


def test_a_study_loads_with_a_variant_column_and_one_model_per_variant(tiny_classifier, results_dir):
    tiny_classifier("pair", '\nVARIANTS = {"slow": {"learning_rate": 0.001}, "fast": {}}\n')
    result = nnlab.run("pair", results_dir=results_dir)
    run = nnlab.load(result.run_dir)
    assert sorted(run.variants) == ["fast", "slow"]
    assert run.history.groupby("variant")["epoch"].apply(list).to_dict() == {"fast": [0, 1], "slow": [0, 1]}
    assert run.model("fast").count_params() == (2 * 8 + 8) + (8 * 2 + 2)  # Dense(8) and Dense(2) on 2 features
    with pytest.raises(nnlab.NnlabError, match="is a study; name one variant"):
        run.model()


def test_reading_imports_no_tensorflow(repo_experiments, results_dir):
    """A notebook that only reads results never pays for TensorFlow (nor does `import nnlab`)."""
    run_dir = nnlab.run("linefit", {"epochs": 1}, results_dir=results_dir).run_dir
    code = textwrap.dedent(
        f"""
        import sys, nnlab
        assert "tensorflow" not in sys.modules and "keras" not in sys.modules
        run = nnlab.load({str(run_dir)!r})
        table = nnlab.runs("linefit", results_dir={str(results_dir)!r})
        print(run.history.shape, len(table), "tensorflow" in sys.modules)
        """
    )
    environment = {**os.environ, "PYTHONPATH": REPO}
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=60)
    assert output.returncode == 0, output.stderr
    assert output.stdout.split() == ["(1,", f"{len(nnlab.load(run_dir).history.columns)})", "1", "False"]


def test_load_of_a_directory_that_is_not_a_run(tmp_path):
    with pytest.raises(nnlab.NnlabError, match="not a run directory"):
        nnlab.load(tmp_path)


def test_runs_keeps_config_fields_named_like_its_own_columns(tiny_classifier, results_dir):
    extra = """
    @dataclasses.dataclass(frozen=True)
    class Config(Config):
        status: str = "fine"
        path: str = "here"
    """
    tiny_classifier("named", extra)
    result = nnlab.run("named", {"status": "zzz", "path": "qq", "epochs": 1}, results_dir=results_dir)
    [row] = nnlab.runs("named", results_dir=results_dir).to_dict("records")
    assert row["status"] == "done" and row["path"] == str(result.run_dir)
    assert row["config.status"] == "zzz" and row["config.path"] == "qq"
