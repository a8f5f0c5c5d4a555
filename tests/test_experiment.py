import pytest

from nnlab import NnlabError
from nnlab import experiment as experiment_lib

VALID = """
    import dataclasses
    import keras
    import nnlab

    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        width: int = 4

    def build_model(config):
        return keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(config.width)])
"""


def test_loads_by_name(make_experiment):
    experiment = make_experiment("tiny", VALID)
    assert experiment.name == "tiny"
    assert experiment.config(["width=8"]).width == 8


def test_missing_experiment_lists_available(make_experiment):
    make_experiment("tiny", VALID)
    with pytest.raises(NnlabError, match="No experiment named 'tinny'.*Available.*tiny"):
        experiment_lib.load("tinny")


def test_repository_experiments_all_load(repo_experiments):
    names = experiment_lib.available()
    assert "mnist" in names
    for name in names:
        assert experiment_lib.load(name).description, f"experiments/{name}.py needs a docstring"


@pytest.mark.parametrize(
    "source, match",
    [
        ("def broken(:\n", r"SyntaxError.*\(line 1\)"),
        ("import nnlab\nraise RuntimeError('boom')\n", r"RuntimeError: boom \(line 2\)"),
        ("import no_such_module_xyz\n", "ModuleNotFoundError"),
        ("def build_model(config):\n    pass\n", "must define `Config`"),
        (VALID.replace("def build_model", "def make_model"), "must define build_model"),
    ],
)
def test_broken_modules_name_the_file(make_experiment, source, match):
    path = make_experiment("broken", source, load=False)
    with pytest.raises(NnlabError, match=match) as error:
        experiment_lib.load("broken")
    assert str(path) in str(error.value)
