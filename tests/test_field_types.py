"""The one rule for Config field types (nnlab/field_types.py): which annotations are accepted, and that every way a
value reaches a config (the command line, config.json through from=, a sweep trial's values, the command that
continues a run) gives the same value back."""

import dataclasses
import json
import typing
from typing import Literal, Optional

import pytest

import nnlab
from nnlab import NnlabError, field_types
from nnlab import config as config_lib


@dataclasses.dataclass(frozen=True)
class Every(nnlab.Config):
    """One field of each kind the rule allows."""

    metrics: tuple = ("accuracy",)  # bare tuple: trained in run but failed every sweep trial before
    tags: list = dataclasses.field(default_factory=lambda: ["a", 1, 2.5, True])
    widths: tuple[int, ...] = (64, 32)
    rates: list[float] = dataclasses.field(default_factory=lambda: [0.1])
    names: typing.List[str] = dataclasses.field(default_factory=list)  # noqa: UP006 (the typing spelling counts too)
    weights: dict = dataclasses.field(default_factory=lambda: {"cat": 1.0, "dog": 2})
    sizes: dict[str, int] = dataclasses.field(default_factory=dict)
    cap: Optional[int] = None  # noqa: UP045
    label: str | None = None
    implicit: str = None  # a default of None makes the field Optional
    maybe_widths: tuple[int, ...] | None = None
    activation: Literal["relu", "tanh"] = "relu"
    factor: Literal[1, 2, 0.5] = 1
    chosen: Optional[Literal["a", "b"]] = "a"  # noqa: UP045


ACCEPTED = [str, int, float, bool, tuple, list, tuple[str, ...], list[int], typing.Tuple[float, ...], dict,  # noqa: UP006
            dict[str, bool], typing.Dict[str, str], Optional[int], int | None, Optional[dict[str, float]],  # noqa: UP006, UP045
            Literal["a", "b"], Literal[1, 2.5], Literal["auto", 0]]  # fmt: skip
REFUSED = [typing.Any, object, bytes, complex, int | str, tuple[int, int], tuple[int, ...] | list[int],
           tuple[tuple[int, ...], ...], list[list[int]], list[Optional[int]], dict[int, float],  # noqa: UP045
           dict[str, list[int]], Literal[True], set, frozenset[str], type(None)]  # fmt: skip


@pytest.mark.parametrize("annotation", ACCEPTED, ids=map(field_types.spelled, ACCEPTED))
def test_the_rule_accepts_exactly_its_types(annotation):
    field_types.kind_of(annotation)


@pytest.mark.parametrize("annotation", REFUSED, ids=map(field_types.spelled, REFUSED))
def test_anything_else_is_refused(annotation):
    with pytest.raises(field_types.Unsupported):
        field_types.kind_of(annotation)


COMMAND_LINE = [
    "metrics=accuracy,auc",
    "tags=x,3,0.5,false",
    "widths=128,64,32",
    "rates=0.5,1e-3",
    "names=",
    'weights={"cat": 0.5, "bird": "heavy"}',
    'sizes={"small": 1}',
    "cap=12",
    "label=none",
    "implicit=text",
    "maybe_widths=none",
    "activation=tanh",
    "factor=0.5",
    "chosen=none",
]


def test_command_line_values_take_their_fields_types():
    config = config_lib.resolve(Every, COMMAND_LINE)
    assert config.metrics == ("accuracy", "auc")
    assert config.tags == ["x", 3, 0.5, False]  # a bare list's items: numbers and booleans where they spell one
    assert config.widths == (128, 64, 32) and config.rates == [0.5, 0.001] and config.names == []
    assert config.weights == {"cat": 0.5, "bird": "heavy"} and config.sizes == {"small": 1}
    assert config.cap == 12 and config.label is None and config.implicit == "text" and config.maybe_widths is None
    assert (config.activation, config.factor, config.chosen) == ("tanh", 0.5, None)
    assert config_lib.resolve(Every, ["cap=None", "maybe_widths=1,2"]).maybe_widths == (1, 2)
    assert config_lib.resolve(Every, ['tags=["3", 4]']).tags == ["3", 4]  # a JSON array keeps its items' types


@pytest.mark.parametrize("overrides", [[], COMMAND_LINE], ids=["defaults", "overridden"])
def test_every_path_round_trips_the_same_config(tmp_path, overrides):
    config = config_lib.resolve(Every, overrides)
    record = config_lib.run_record("every", config, Every())
    saved = tmp_path / "config.json"
    saved.write_text(json.dumps(record))  # what a run writes before training
    assert config_lib.resolve(Every, [f"from={saved}"]) == config  # from=<that run's own config.json>
    assert config_lib.resolve(Every, json.loads(saved.read_text())["config"]) == config  # a sweep trial's base config
    again = [f"{key}={config_lib.command_line_value(value)}" for key, value in record["overrides"].items()]
    assert config_lib.resolve(Every, again) == config  # the command that continues the run


@pytest.mark.parametrize(
    "value",
    [("a,b", "c"), (" padded",), ("3",), ("none",), ("[x",), ("",), (1, "true"), ()],
    ids=["comma", "space", "numeric text", "none text", "bracket", "empty item", "mixed", "empty"],
)
def test_awkward_lists_survive_the_command_line(value):
    spelled = field_types.command_line(list(value))
    assert field_types.convert(spelled, list) == list(value)


@pytest.mark.parametrize(
    "override, expects",
    [
        ("activation=sigmoid", "one of 'relu', 'tanh'"),
        ("factor=3", "one of 1, 2, 0.5"),
        ("widths=64,wide", "a comma-separated list of integers"),
        ('sizes={"small": 1.5}', "a JSON object of integers"),
        ("weights=[1, 2]", "a JSON object of numbers, strings or true/false values"),
        ('weights={"a": [1]}', "a JSON object of"),
        ("cap=many", "an integer, or none"),
    ],
)
def test_a_wrong_value_names_the_field_and_its_type(override, expects):
    with pytest.raises(NnlabError, match=f"field '{override.split('=')[0]}' expects {expects}") as error:
        config_lib.resolve(Every, [override])
    assert "for example" in str(error.value)


def test_none_clears_only_an_optional_field():
    assert config_lib.resolve(Every, ["metrics=none"]).metrics == ("none",)  # a metric's name, since not Optional
    assert config_lib.resolve(Every, ["implicit=none"]).implicit is None
