"""Module code that misbehaves in ways the hooks' tests do not cover: its own BaseException, an exception whose str()
fails, a hook that changes the working directory or Keras' float type, a base field re-declared with another type,
a field the class computes (init=False), and a Choice over a Literal of mixed types. Each is one paragraph or a run
that lands whole where it was asked to, never a traceback or a split run directory."""

import json
import sys
import textwrap

import pytest

from nnlab import cli, search_space
from nnlab import config as config_lib
from nnlab import experiment as experiment_lib
from nnlab.errors import NnlabError
from tests.tiny import TINY

INTERRUPT = """
    class Stop(BaseException):  # derives from BaseException, so `except Exception` lets it through
        pass
"""


def test_a_base_exception_of_the_module_at_import_is_one_paragraph(make_experiment):
    with pytest.raises(NnlabError) as raised:
        make_experiment("stops", textwrap.dedent(INTERRUPT) + "raise Stop('at import')\n")
    said = str(raised.value)
    assert "Stop: at import (raised while nnlab imports it, line 4)" in said and "raise an Exception" in said


def test_an_exception_whose_str_fails_is_still_one_paragraph(make_experiment):
    source = """
        class Broken(Exception):
            def __str__(self):
                raise RuntimeError("no text")

        def make_data(config):
            raise Broken()
    """
    experiment = make_experiment("broken", textwrap.dedent(TINY) + textwrap.dedent(source))
    with pytest.raises(NnlabError) as raised:
        experiment.load_splits(experiment.config())
    assert "make_data(config) raised Broken: (its message cannot be shown: str() raised RuntimeError)" in str(
        raised.value
    )


def test_a_base_exception_in_build_model_fails_the_run_in_one_paragraph(make_experiment, capsys, results_dir):
    source = textwrap.dedent(TINY) + textwrap.dedent(INTERRUPT) + "\ndef build_model(config):\n    raise Stop('x')\n"
    make_experiment("stops", source, load=False)
    code = cli.main(["--results", str(results_dir), "run", "stops", "epochs=1"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert "Stop: x (raised in build_model(), line" in err and err.count("nnlab: error:") == 1
    (run_dir,) = (results_dir / "stops").glob("*")
    assert json.loads((run_dir / "status.json").read_text())["status"] == "failed"


def test_a_hook_that_changes_directory_and_float_type_leaves_one_whole_run(
    make_experiment, capsys, tmp_path, monkeypatch
):
    """A relative --results still means the directory nnlab started in, and the next run in the same process (a
    notebook's) trains in float32 again."""
    import keras

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    source = f"""
        import os

        def build_model(config):
            os.chdir({str(elsewhere)!r})
            keras.backend.set_floatx("float64")
            return keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(2, activation="softmax")])
    """
    make_experiment("wanders", textwrap.dedent(TINY) + textwrap.dedent(source), load=False)
    monkeypatch.chdir(tmp_path)
    code = cli.main(["--results", "results", "run", "wanders", "epochs=1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    (run_dir,) = (tmp_path / "results" / "wanders").glob("*")
    assert {"status.json", "history.csv", "metrics.json", "model.keras"} <= {path.name for path in run_dir.iterdir()}
    assert json.loads((run_dir / "status.json").read_text())["status"] == "done"
    assert not (elsewhere / "results").exists()
    assert f"run written to {run_dir}" in out  # absolute: the working directory is no longer the one it was named in
    assert keras.backend.floatx() == "float32"


@pytest.mark.parametrize(
    "declaration, refused",
    [
        ('epochs: str = "2"', "Config field 'epochs' is declared str, but it is a field of nnlab.Config"),
        ("seed: float = 0.0", "Config field 'seed' is declared float"),
        ("dataset: Optional[str] = None", "Config field 'dataset' is declared Optional[str]"),
        ('optimizer: Literal["adam", "sgd"] = "sgd"', None),  # narrower: every value is still a str
        ('metrics: list[str] = dataclasses.field(default_factory=lambda: ["accuracy"])', None),
        ('metrics: tuple = ("accuracy",)', None),
        ("learning_rate: Literal[0.1, 1] = 0.1", None),
    ],
)
def test_a_base_field_keeps_a_type_nnlab_can_read_it_as(make_experiment, declaration, refused):
    source = f"""
        import dataclasses
        from typing import Literal, Optional

        import keras
        import nnlab

        @dataclasses.dataclass(frozen=True)
        class Config(nnlab.Config):
            {declaration}

        def build_model(config):
            return keras.Sequential([keras.layers.Dense(1)])
    """
    if refused is None:
        make_experiment("redeclares", source)
        return
    with pytest.raises(NnlabError) as raised:
        make_experiment("redeclares", source)
    assert refused in str(raised.value) and "Keep its type" in str(raised.value)


COMPUTED = """
    import dataclasses
    import keras
    import nnlab

    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        width: int = 4
        doubled: int = dataclasses.field(default=0, init=False)

        def __post_init__(self):
            object.__setattr__(self, "doubled", 2 * self.width)

    def build_model(config):
        return keras.Sequential([keras.layers.Dense(config.doubled)])
"""


def test_a_computed_field_round_trips_through_config_json_and_cannot_be_set(make_experiment):
    experiment = make_experiment("computed", COMPUTED)
    config = experiment.config(["width=5"])
    assert config.doubled == 10
    saved = config_lib.run_record("computed", config, experiment.config_class())  # config.json, as a run writes it
    assert experiment.config_class(width=5) == config_lib.resolve(experiment.config_class, saved["config"])
    with pytest.raises(NnlabError) as raised:
        experiment.config(["width=5", "doubled=3"])
    assert "'doubled' is declared dataclasses.field(init=False)" in str(raised.value) and "not 3" in str(raised.value)


def test_a_choice_over_a_literal_of_mixed_types_reaches_keras_tuner_and_comes_back_typed(make_experiment):
    source = """
        import dataclasses
        from typing import Literal
        import keras
        import nnlab

        @dataclasses.dataclass(frozen=True)
        class Config(nnlab.Config):
            mix: Literal["a", 1, 2.5] = "a"

        def build_model(config):
            return keras.Sequential([keras.layers.Dense(1)])
    """
    experiment = make_experiment("mixed", source)
    space = {"mix": search_space.Choice(["a", 1, 2.5])}
    search_space.validate(space, experiment.config_class, "test")
    (choice,) = search_space.to_hyperparameters(space).space
    assert choice.values == ["a", "1", "2.5"]  # keras-tuner's Choice holds one type
    typed = [experiment.config({"mix": value}).mix for value in choice.values]
    assert typed == ["a", 1, 2.5] and [type(value) for value in typed] == [str, int, float]


def test_module_error_leaves_interrupts_alone(tmp_path):
    path = tmp_path / "module.py"
    assert experiment_lib.module_error(KeyboardInterrupt(), path) is None
    assert experiment_lib.module_error(GeneratorExit(), path) is None  # not raised in the module's file


def test_config_code_that_refuses_or_exits_is_one_paragraph(make_experiment):
    """Building Config runs module code: __post_init__ validating an override, a default_factory that exits."""
    source = """
        import dataclasses
        import sys
        import keras
        import nnlab

        def _no_list():
            sys.exit("no list")

        @dataclasses.dataclass(frozen=True)
        class Config(nnlab.Config):
            width: int = 4

            def __post_init__(self):
                if self.width % 2:
                    raise ValueError("width must be even")

        def build_model(config):
            return keras.Sequential([keras.layers.Dense(config.width)])
    """
    experiment = make_experiment("validates", source)
    with pytest.raises(NnlabError) as raised:
        experiment.config(["width=3"])
    assert "Config refused the values from command line: ValueError: width must be even" in str(raised.value)
    extra = "extra: list = dataclasses.field(default_factory=_no_list)"
    exits = source.replace("width: int = 4", "width: int = 4\n" + " " * 12 + extra)
    with pytest.raises(NnlabError) as raised:
        make_experiment("exits", exits)
    assert "_no_list() exits the process (sys.exit('no list') at line" in str(raised.value)


def test_summarize_may_not_return_an_entry_nnlab_writes_only_in_some_runs(make_experiment, capsys, results_dir):
    """`errors` is written only when a hook fails, `early_stopping` only with patience: a summary that returned one
    crashed the command that reads them back."""
    source = "\ndef summarize(job):\n    return {'errors': ['none really'], 'note': 1}\n"
    make_experiment("summary", textwrap.dedent(TINY) + source, load=False)
    code = cli.main(["--results", str(results_dir), "run", "summary", "epochs=1"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err, err
    assert "summarize(job) returned errors, which nnlab already writes to metrics.json" in err
    (run_dir,) = (results_dir / "summary").glob("*")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics["errors"]) == {"summarize"} and "note" not in metrics and "test" in metrics


def test_nnlab_checks_run_when_a_config_check_forgets_super(make_experiment):
    source = """
        import dataclasses
        import keras
        import nnlab

        @dataclasses.dataclass(frozen=True)
        class Config(nnlab.Config):
            width: int = 4

            def check(self):  # no super().check()
                if self.width < 1:
                    raise ValueError("width must be positive")

        def build_model(config):
            return keras.Sequential([keras.layers.Dense(config.width)])
    """
    experiment = make_experiment("forgets", source)
    for override, refused in [
        ("batch_size=0", "'batch_size' must be a positive number"),
        ("lr_schedule=bogus", "'lr_schedule' must be one of"),
        ("width=0", "Config.check() refused the config: ValueError: width must be positive"),
    ]:
        with pytest.raises(NnlabError) as raised:
            experiment.config([override])
        assert refused in str(raised.value)


def test_a_module_imports_a_helper_beside_it_as_a_script_would(make_experiment, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "_shared_config", raising=False)
    helper = make_experiment("unused", "", load=False).parent / "_shared_config.py"
    helper.write_text(
        textwrap.dedent("""
            import dataclasses
            import nnlab

            @dataclasses.dataclass(frozen=True)
            class Shared(nnlab.Config):
                width: int = 3
        """)
    )
    source = """
        import dataclasses
        import keras
        from _shared_config import Shared

        @dataclasses.dataclass(frozen=True)
        class Config(Shared):
            depth: int = 1

        def build_model(config):
            return keras.Sequential([keras.layers.Dense(config.width)])
    """
    assert make_experiment("shares", source).config(["width=5"]).width == 5
    sys.modules.pop("_shared_config", None)


def test_a_missing_package_is_named_with_how_to_install_it(make_experiment):
    with pytest.raises(NnlabError) as raised:
        make_experiment("needs", "import dataclasses\nimport not_installed_anywhere.sub\n")
    said = str(raised.value)
    assert "No module named 'not_installed_anywhere' (line 2)" in said
    assert f"{sys.executable} -m pip install <package>" in said and "'not_installed_anywhere'" in said


def test_a_relative_results_folder_is_still_named_as_given(tiny_classifier, capsys, tmp_path, monkeypatch):
    tiny_classifier()
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--results", "results", "run", "tiny", "epochs=1"]) == 0
    (run_dir,) = (tmp_path / "results" / "tiny").glob("*")
    assert f"run written to results/tiny/{run_dir.name}\n" in capsys.readouterr().out


@pytest.mark.parametrize(
    "decorator, field, refused",
    [
        ("@dataclasses.dataclass(frozen=True, slots=True)", "width: int = 3", None),  # its slots are no lost values
        ("@dataclasses.dataclass(frozen=True, kw_only=True)", "width: int = 3", None),
        (
            "@dataclasses.dataclass(frozen=True)",
            "check: bool = True",
            "Config field 'check' hides nnlab.Config.check()",
        ),
    ],
)
def test_config_class_options_and_names(make_experiment, decorator, field, refused):
    source = f"""
        import dataclasses
        import keras
        import nnlab

        {decorator}
        class Config(nnlab.Config):
            {field}

        def build_model(config):
            return keras.Sequential([keras.layers.Dense(1)])
    """
    if refused:
        with pytest.raises(NnlabError, match=refused.replace("(", r"\(").replace(")", r"\)")):
            make_experiment("options", source)
        return
    experiment = make_experiment("options", source)
    config = experiment.config(["width=5", "epochs=2"])
    assert (config.width, config.epochs) == (5, 2)
    assert config_lib.resolve(experiment.config_class, config_lib.to_dict(config)) == config
