"""keras-tuner's oracle for a sweep: chosen by algorithm name, saving its state atomically, resuming safely.

keras-tuner 1.4.8 writes oracle.json and trial.json with a plain open() (a kill mid-write left a 0-byte file in
25 of 40 tries) and, in distributed mode, leaves a finished trial listed as ongoing in oracle.json until the next
save; reloading that would run the trial again. The oracle classes here fix both; `check_files` turns damage
left by other tools into a clear error instead of a JSONDecodeError deep inside keras-tuner.
"""

import math
import stat
from pathlib import Path

from keras_tuner import oracles
from keras_tuner.src.engine import oracle as oracle_module

from nnlab.errors import NnlabError
from nnlab.results import atomic, bounded, layout, limits, text

ALGORITHMS = {
    "random": oracles.RandomSearchOracle,
    "grid": oracles.GridSearchOracle,
    "bayesian": oracles.BayesianOptimizationOracle,
    "hyperband": oracles.HyperbandOracle,
}
# Values Hyperband adds to a trial's hyperparameters; they are not config fields.
TUNER_KEYS = {"tuner/epochs", "tuner/initial_epoch", "tuner/bracket", "tuner/round", "tuner/trial_id"}
ENDED = {"COMPLETED", "FAILED"}


class AtomicOracle:
    """Mixed into keras-tuner's oracles: atomic state files, and ended trials never queued to run again."""

    def save(self):
        atomic.write_json(self._get_oracle_fname(), self.get_state())

    def _save_trial(self, trial):
        atomic.write_json(Path(self._get_trial_dir(trial.trial_id)) / layout.TRIAL_STATE, trial.get_state())

    @oracle_module.synchronized
    def end_trial(self, trial):
        super().end_trial(trial)
        self.save()  # keras-tuner saved before dropping the trial from ongoing_trials

    def reload(self):
        super().reload()
        self._retry_queue = [trial_id for trial_id in self._retry_queue if self.trials[trial_id].status not in ENDED]


def make_oracle(algorithm, objective, direction, max_trials, seed, hyperparameters, max_epochs, factor):
    """The oracle for `algorithm` (random, grid, bayesian, hyperband), capped at `max_trials` trials."""
    import keras_tuner

    base = ALGORITHMS[algorithm]
    oracle_class = type(f"Atomic{base.__name__}", (AtomicOracle, base), {})
    common = {
        "objective": keras_tuner.Objective(objective, direction),
        "seed": seed,
        "hyperparameters": hyperparameters,
        "allow_new_entries": False,
        # nnlab judges failures itself (every trial failed = failed sweep); keras-tuner's limit raises a
        # RuntimeError inside the chief's gRPC handler in distributed sweeps.
        "max_consecutive_failed_trials": None,
    }
    if algorithm == "hyperband":
        oracle = oracle_class(max_epochs=max_epochs, factor=factor, **common)
    else:
        oracle = oracle_class(max_trials=max_trials, **common)
    oracle.max_trials = max_trials  # Hyperband takes no max_trials; the base Oracle still honours the cap
    return oracle


def hyperband_shortest_budget(max_epochs, factor):
    """The fewest epochs Hyperband gives a trial (its last bracket's first round), as keras-tuner computes it."""
    brackets, epochs = 0, max_epochs
    while epochs >= 1:
        epochs, brackets = epochs / factor, brackets + 1
    return math.ceil(max_epochs / factor ** (brackets - 1))


def hyperband_trials(max_epochs, factor):
    """Trials in one Hyperband iteration, computed as keras-tuner's HyperbandOracle schedules them."""
    bracket0_size = math.ceil(1 + math.log(max_epochs, factor))
    brackets, epochs = 0, max_epochs
    while epochs >= 1:
        epochs, brackets = epochs / factor, brackets + 1
    return sum(
        math.ceil(bracket0_size / (bracket + 1) * factor ** (bracket - round_number))
        for bracket in range(brackets)
        for round_number in range(bracket + 1)
    )


def check_files(tuner_dir, sweep_dir):
    """Raise NnlabError naming any keras-tuner state file that keras-tuner could not read safely: empty, not valid
    JSON, not a regular file (a FIFO would hang it), over TUNER_JSON_MAX_BYTES, nested deeper than JSON_MAX_DEPTH or
    holding an integer of more than JSON_MAX_INT_DIGITS digits. Checked before keras-tuner reads them."""
    tuner_dir = Path(tuner_dir)
    if not tuner_dir.is_dir():
        return
    records = tuner_dir.glob(f"{layout.trial_dir('*')}/{layout.TRIAL_RECORD}")  # nnlab's, read when the sweep ends
    paths = [*tuner_dir.glob(layout.ALL_TUNER_STATES), *tuner_dir.glob(layout.ALL_TRIAL_STATES), *records]
    for path in sorted(paths):
        try:
            _check_shape(path, _read_state(path))
        except (OSError, ValueError) as error:
            size = _regular_size(path)
            detail = f"{size} bytes: {error}" if size is not None else str(error)
            raise NnlabError(
                f"{path} is {'empty' if size == 0 else 'unreadable'} ({detail}); a process was "
                f"probably killed while keras-tuner wrote it (nnlab writes these files atomically, other tools "
                f"may not), or something else was put there. "
                f"The sweep cannot resume from it. Start afresh with a new name (add sweep=<new-name>) or delete "
                f"{sweep_dir} and run the same command again."
            ) from None


# What keras-tuner's Oracle.set_state and Trial.set_state index without checking: valid JSON of another shape (a
# hand edit, another tool's file) otherwise ends the sweep in a KeyError or TypeError traceback inside keras-tuner.
ORACLE_SHAPE = {
    "ongoing_trials": dict,
    "hyperparameters": dict,
    "start_order": list,
    "end_order": list,
    "run_times": dict,
    "retry_queue": list,
    "tried_so_far": list,
    "id_to_hash": dict,
    "display": dict,
}
TRIAL_SHAPE = {"trial_id": str, "hyperparameters": dict, "metrics": dict, "status": str}
TRIAL_STATUSES = {"RUNNING", "IDLE", "INVALID", "STOPPED", "COMPLETED", "FAILED"}  # keras_tuner's TrialStatus


def _check_shape(path, state):
    """Raise bounded.Unreadable (a ValueError) when a keras-tuner state file (or nnlab's trial record) is not of the
    shape its reader indexes."""
    if not isinstance(state, dict):
        raise bounded.Unreadable(f"not keras-tuner state: it holds a JSON {type(state).__name__}, not an object")
    shape = {layout.ORACLE: ORACLE_SHAPE, layout.TRIAL_STATE: TRIAL_SHAPE}.get(path.name, {})
    wrong = [key for key, kind in shape.items() if not isinstance(state.get(key), kind)]
    if path.name == layout.TRIAL_STATE and not wrong and not isinstance(state["hyperparameters"].get("values"), dict):
        wrong = ["hyperparameters.values"]
    if wrong:
        raise bounded.Unreadable(f"not keras-tuner state: {', '.join(wrong)} missing or of the wrong type")
    if path.name == layout.ORACLE:
        _check_oracle_ids(state)
    if path.name == layout.TRIAL_STATE and state["status"] not in TRIAL_STATUSES:
        raise bounded.Unreadable(f"not keras-tuner state: status {text.quoted(state['status'])} is none of its")


def _check_oracle_ids(state):
    """Every trial id oracle.json lists is a string, and every ongoing or queued one a trial that started."""
    started = state["start_order"]
    queued = [*state["retry_queue"], *state["ongoing_trials"].values()]
    if not all(isinstance(trial_id, str) for trial_id in [*started, *state["end_order"], *queued]):
        raise bounded.Unreadable("not keras-tuner state: a trial id in it is not a string")
    unknown = [trial_id for trial_id in queued if trial_id not in started]
    if unknown:
        raise bounded.Unreadable(
            f"not keras-tuner state: ongoing_trials or retry_queue names trial {text.quoted(unknown[0])}, which "
            f"never started"
        )


def _read_state(path):
    """A keras-tuner state file (or nnlab's trial record), within the limits nnlab reads JSON under
    (bounded.Unreadable otherwise)."""
    if path.name == layout.TRIAL_RECORD:
        return bounded.read_json(path)
    return bounded.read_json(path, max_bytes=limits.TUNER_JSON_MAX_BYTES)


def _regular_size(path):
    """The size of `path` if it is a regular file, else None (a FIFO or a directory is not empty, it is wrong)."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def check_trials_present(tuner_dir, sweep_dir):
    """Raise NnlabError when oracle.json lists a trial whose tuner/trial_N/ directory is gone.

    keras-tuner would forget such a trial and hand its slot to new hyperparameters, and the sweep's best trial
    could change without a word. The lost trial's result cannot be rebuilt, so the sweep stops and says so.
    """
    oracle_file = Path(tuner_dir) / layout.ORACLE
    try:
        started = _read_state(oracle_file).get("start_order", [])
    except (OSError, ValueError, AttributeError):
        return  # no oracle state (yet), or damage that check_files reports
    missing = [
        str(trial_id)
        for trial_id in started
        if not (Path(tuner_dir) / layout.trial_dir(trial_id) / layout.TRIAL_STATE).exists()
    ]
    if missing:
        raise NnlabError(
            f"{oracle_file} lists trial(s) {', '.join(missing)}, but their directories "
            f"({', '.join(layout.trial_dir(trial_id) + '/' for trial_id in missing)}) under {tuner_dir} are gone, "
            f"so their results are lost. nnlab does not re-run them with other hyperparameters behind your back. "
            f"Restore "
            f"the directories from a copy, or start afresh: add sweep=<new-name>, or delete {sweep_dir} and run "
            f"the same command again."
        )
