import dataclasses
import json
import math

import pytest

from nnlab import Config, NnlabError
from nnlab import config as config_lib
from nnlab.results import atomic


@dataclasses.dataclass(frozen=True)
class Example(Config):
    width: int = 128
    dropout_rate: float = 0.2
    batch_norm: bool = False
    metrics: tuple[str, ...] = ("accuracy",)


def test_overrides_are_converted_to_field_types():
    config = config_lib.resolve(Example, ["width=256", "dropout_rate=0.5", "batch_norm=true", "metrics=accuracy,auc"])
    assert (config.width, config.dropout_rate, config.batch_norm) == (256, 0.5, True)
    assert config.metrics == ("accuracy", "auc")


def test_defaults_without_overrides():
    assert config_lib.resolve(Example) == Example()


def test_unknown_field_lists_valid_ones():
    with pytest.raises(NnlabError, match="unknown config field 'widht'") as error:
        config_lib.resolve(Example, ["widht=3"])
    assert "width" in str(error.value) and "dropout_rate" in str(error.value)


@pytest.mark.parametrize(
    "override, field",
    [
        ("width=abc", "width"),
        ("width=2.5", "width"),
        ("dropout_rate=x", "dropout_rate"),
        ("batch_norm=maybe", "batch_norm"),
    ],
)
def test_wrong_type_names_field_and_example(override, field):
    with pytest.raises(NnlabError, match=f"field '{field}' expects") as error:
        config_lib.resolve(Example, [override])
    assert f"{field}=" in str(error.value)


@pytest.mark.parametrize("override", ["epochs=0", "batch_size=-1", "learning_rate=0", "validation_fraction=1.0"])
def test_impossible_values_are_rejected(override):
    with pytest.raises(NnlabError, match=override.split("=")[0]):
        config_lib.resolve(Example, [override])


def test_malformed_override():
    with pytest.raises(NnlabError, match="key=value"):
        config_lib.resolve(Example, ["width"])


def test_from_file_then_overrides_win(tmp_path):
    saved = tmp_path / "best_config.json"
    saved.write_text(json.dumps({"experiment": "x", "config": {"width": 64, "learning_rate": 0.01}}))
    config = config_lib.resolve(Example, [f"from={saved}", "width=32"])
    assert (config.width, config.learning_rate) == (32, 0.01)


def test_from_flat_file_round_trips_to_dict(tmp_path):
    original = config_lib.resolve(Example, ["width=7", "metrics=mae"])
    saved = tmp_path / "config.json"
    saved.write_text(json.dumps(config_lib.to_dict(original)))
    assert config_lib.resolve(Example, [f"from={saved}"]) == original


@pytest.mark.parametrize(
    "content, match", [(None, "no such file"), ("", "cannot read it as JSON"), ("[1]", "JSON object")]
)
def test_from_bad_file(tmp_path, content, match):
    path = tmp_path / "config.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(NnlabError, match=match):
        config_lib.resolve(Example, [f"from={path}"])


def test_from_file_with_unknown_field_names_the_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"depth": 3}))
    with pytest.raises(NnlabError, match=f"{path}.*unknown config field 'depth'"):
        config_lib.resolve(Example, [f"from={path}"])


@dataclasses.dataclass(frozen=True)
class NonFinite(Config):
    margin: float = 1.0
    bounds: tuple[float, ...] = (0.0, 1.0)
    scales: dict[str, float] = dataclasses.field(default_factory=dict)


def test_non_finite_floats_round_trip_through_a_saved_config(tmp_path):
    """JSON has no NaN or infinity: config.json names them, and from= gives the same floats back."""
    original = config_lib.resolve(NonFinite, ["margin=inf", "bounds=-inf,nan", 'scales={"a": -Infinity}'])
    saved = tmp_path / "config.json"
    atomic.write_json(saved, config_lib.run_record("x", original, NonFinite()))
    again = config_lib.resolve(NonFinite, [f"from={saved}"], experiment="x")
    assert again.margin == math.inf and again.bounds[0] == -math.inf and math.isnan(again.bounds[1])
    assert again.scales == {"a": -math.inf}
    assert config_lib.changed_fields(again, NonFinite()) == config_lib.changed_fields(original, NonFinite())


@dataclasses.dataclass(frozen=True)
class SelfChecked(Config):
    width: int = 2

    def check(self):
        super().check()
        if self.width % 2:
            raise ValueError(f"width must be even, got {self.width}")


def test_a_plain_error_from_the_configs_own_check_is_one_paragraph():
    with pytest.raises(
        NnlabError, match=r"test_config.py: Config.check\(\) refused the config: ValueError: width must be even, got 3"
    ):
        config_lib.resolve(SelfChecked, ["width=3"])
