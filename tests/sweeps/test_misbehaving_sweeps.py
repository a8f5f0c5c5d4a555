"""Sweeps over module code that misbehaves: a Config field named like a sweep setting, and a trial whose module code
raises its own BaseException (which fails that trial alone, as sys.exit does)."""

import json
import textwrap

import pandas as pd
import pytest

from nnlab import NnlabError
from nnlab.sweeps import tuning
from tests.tiny import TINY


def test_a_config_field_named_like_a_sweep_setting_is_refused_when_given(make_experiment, results_dir):
    source = textwrap.dedent(TINY).replace("width: int = 8", "width: int = 8\n    factor: int = 2")
    make_experiment("clash", source)
    with pytest.raises(NnlabError, match=r"factor= is both a sweep setting and a field of the Config"):
        tuning.tune("clash", ["factor=5", "max_trials=2"], results_dir=results_dir, verbose=0)
    assert not results_dir.exists()


def test_a_base_exception_in_a_trial_fails_that_trial_alone(make_experiment, results_dir):
    source = textwrap.dedent(TINY) + textwrap.dedent("""
        class Stop(BaseException):
            pass

        _build = build_model

        def build_model(config):
            if config.width == 4:
                raise Stop("no width 4")
            return _build(config)
    """)
    make_experiment("stops", source)
    overrides = ["algorithm=grid", "epochs=1", "learning_rate=0.01", "vectorize=1"]
    result = tuning.tune("stops", overrides, results_dir=results_dir, verbose=0)
    trials = pd.read_csv(result.sweep_dir / "trials.csv", dtype={"trial_id": str})
    failed = trials[trials["status"] == "FAILED"]
    assert list(failed["width"]) == [4] and set(trials[trials["status"] == "COMPLETED"]["width"]) == {8, 16}
    log = (result.sweep_dir / "tuner" / f"trial_{failed['trial_id'].iloc[0]}" / "error.log").read_text()
    assert log.startswith("Stop: no width 4 (raised in build_model(), line")
    assert json.loads((result.sweep_dir / "best_config.json").read_text())["config"]["width"] in (8, 16)


@pytest.mark.parametrize("field", ["seconds", "status", "group"])
def test_a_swept_field_named_like_a_trials_csv_column_is_refused_before_training(make_experiment, results_dir, field):
    """Before, trials.csv's own column overwrote the swept values (`seconds`), or the trial's status (`status`), and
    the sweep failed after training every trial."""
    source = textwrap.dedent(TINY).replace("width: int = 8", f"width: int = 8\n    {field}: int = 1")
    make_experiment("clash", source + f'\nSEARCH_SPACE = {{"{field}": search_space.Choice([1, 2])}}\n')
    with pytest.raises(NnlabError, match=rf"SEARCH_SPACE\['{field}'\]: trials.csv has a column '{field}' of its own"):
        tuning.tune("clash", ["algorithm=grid"], results_dir=results_dir, verbose=0)
    assert not results_dir.exists()
