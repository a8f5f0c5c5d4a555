import textwrap

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
        ("def broken(:\n", r"SyntaxError: [^()]*\(line 1\)\. Fix"),  # the line once, not twice
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


CONTRACT_CASES = [
    (
        "a type outside the rule, never overridden",
        VALID.replace("width: int = 4", "width: int = 4\n        shape: tuple[int, int] = (28, 28)"),
        r"Config field 'shape' \(tuple\[int, int\]\) has a type nnlab cannot read.*A field is str, int, float or bool; "
        r"tuple or list.*Literal",
    ),
    (
        "several such fields",
        VALID.replace("width: int = 4", "width: int = 4\n        rng: object = None\n        pair: int | str = 1"),
        r"Config fields 'rng' \(object\), 'pair' \(int \| str\) have a type",
    ),
    (
        "Config without its own @dataclass",
        VALID.replace("    @dataclasses.dataclass(frozen=True)\n", "").replace(
            "width: int = 4", "width: int = 4\n        epochs: int = 7"
        ),
        r"class Config is not itself decorated with @dataclasses\.dataclass\(frozen=True\).*its fields width, epochs "
        r"would be lost",
    ),
    (
        "Config without its own @dataclass and no fields yet",
        VALID.replace("    @dataclasses.dataclass(frozen=True)\n", "")
        .replace("width: int = 4", "pass")
        .replace("config.width", "4"),
        r"class Config is not itself decorated .*any field it declares would be lost",
    ),
    (
        "a field re-defaulted without an annotation",
        VALID.replace("width: int = 4", "width: int = 4\n        epochs = 7"),
        r"sets epochs without a type annotation.*`epochs: int = 7`",
    ),
    (
        "a default outside its field's type",
        VALID.replace("width: int = 4", "width: int = 4.5"),
        r"the default of Config field 'width', 4\.5, is not an integer",
    ),
    (
        "FIGURES as one string",
        textwrap.dedent(VALID) + "\nFIGURES = 'line_fit'\n",
        r"FIGURES must be a tuple or list of figure names, "
        r"got str 'line_fit'; write e\.g\. FIGURES = \('line_fit',\)",
    ),
    (
        "FIGURES holding a non-name",
        textwrap.dedent(VALID) + "\nFIGURES = ['line_fit', 3]\n",
        r"FIGURES must be a tuple or list of figure",
    ),
    (
        "sys.exit at import",
        textwrap.dedent(VALID) + "\nimport sys\nsys.exit(0)\n",
        r"exits while nnlab imports it \(sys\.exit\(0\) at line 1[0-9]\).*if __name__ == \"__main__\":",
    ),
    (
        "argparse at import",
        textwrap.dedent(VALID) + "\nimport argparse\nargparse.ArgumentParser().parse_args(['--bogus'])\n",
        r"exits while nnlab imports it \(sys\.exit\(2\) at line 1[0-9]\)",
    ),
]


@pytest.mark.parametrize("source, match", [case[1:] for case in CONTRACT_CASES], ids=[c[0] for c in CONTRACT_CASES])
def test_a_module_outside_the_contract_stops_at_load(make_experiment, source, match):
    path = make_experiment("broken", source, load=False)
    with pytest.raises(NnlabError, match=match) as error:
        experiment_lib.load("broken")
    assert str(path) in str(error.value)


def test_a_field_defaulting_to_none_is_optional(make_experiment):
    source = VALID.replace("width: int = 4", "width: int = 4\n        note: str = None\n        cap: int | None = None")
    experiment = make_experiment("optional", source)
    assert experiment.config(["note=hello", "cap=3"]).note == "hello"
    assert experiment.config(["note=none", "cap=none"]).cap is None
