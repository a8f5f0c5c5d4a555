import dataclasses
import json

import pytest

from nnlab import Config, NnlabError
from nnlab import config as config_lib


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
