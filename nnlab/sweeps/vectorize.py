"""The `vectorize` sweep setting: how many trials train at once as one compiled program, and sweep.json's record of it.

`vectorize=auto` (the default) picks K from the device kind, the model's parameter count and batch_size
(nnlab.train.vectorized.policy); `vectorize=N` asks for N; `vectorize=1` trains one trial at a time, exactly as
before the setting existed. An experiment that does not qualify (policy.first_failed_rule; Hyperband;
executions_per_trial > 1) trains one trial at a time, and `reason` says why. The setting does not enter the sweep id:
a sweep continues with the k it recorded, and a sweep recorded before the setting existed continues with k = 1.

sweep.json's entry: {requested, k, rule, groups: [[trial ids], ...], xla, reason}.
"""

import dataclasses
import math

from nnlab.errors import NnlabError
from nnlab.results import atomic, layout

AUTO = "auto"
OLD_SWEEP = "this sweep was started before the vectorize setting existed: it continues one trial at a time"


@dataclasses.dataclass
class Decision:
    """What the sweep does about grouping, decided once before its first trial."""

    requested: object  # "auto" or the N asked for
    k: int  # trials per group program (1: one at a time, the loop of nnlab run)
    rule: str  # how k was chosen, in words
    xla: bool = False  # whether the group program is XLA-compiled
    reason: str = ""  # why trials train one at a time, or what made a group fall back to that


def parse(value, where):
    """`auto` or a whole number >= 1 (as given to tune); anything else is one paragraph."""
    text = str(AUTO if value is None else value).strip()
    if text.lower() == AUTO:
        return AUTO
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1 or str(number) != text.lstrip("+"):
        raise NnlabError(
            f"{where}: vectorize={text!r} must be auto or a whole number of trials, at least 1, to train at once as "
            f"one compiled program: vectorize=auto picks it for this device and model, vectorize=1 trains one trial "
            f"at a time, as nnlab run does."
        )
    return number


def check_recorded(sweep, recorded, path):
    """A resumed sweep keeps its recorded k (k = 1 when sweep.json predates the setting); an explicit vectorize=N
    that is neither that k nor what the sweep was started with stops with one paragraph."""
    entry = recorded.get("vectorize")
    sweep.recorded_vectorize = entry if isinstance(entry, dict) and isinstance(entry.get("k"), int) else {}
    k = sweep.recorded_vectorize.get("k", 1)
    requested = sweep.vectorize_requested
    if requested != AUTO and requested not in (k, sweep.recorded_vectorize.get("requested")):
        started = (
            f"was started with vectorize k={k}" if sweep.recorded_vectorize else "was started before vectorize existed"
        )
        raise NnlabError(
            f"{path}: sweep '{sweep.sweep_id}' {started} ({k} trial{'s' if k != 1 else ''} at a time); "
            f"vectorize={requested} would train its remaining trials otherwise. Continue it with vectorize={k} or "
            f"vectorize=auto, or start a new sweep for vectorize={requested} with sweep=<new-name>."
        )


def decide(sweep, model):
    """The sweep's Decision, from the model preflight built (nnlab.train.modeling.prepare of the base config)."""
    from nnlab.train.vectorized import policy

    config, requested = sweep.config, sweep.vectorize_requested
    failed_rule = _sweep_rule(sweep) or policy.first_failed_rule(
        sweep.experiment, config, model, sweep.splits, sweep.setup.replicas
    )
    recorded = sweep.recorded_vectorize
    if recorded is not None and not recorded:  # sweep.json predates the setting
        return Decision(requested=requested, k=1, rule=OLD_SWEEP, reason=failed_rule or OLD_SWEEP)
    if recorded:  # a resumed sweep keeps its k (and the reason a group fell back, if one did)
        requested, k, rule = recorded.get("requested", requested), recorded["k"], recorded.get("rule", "")
        reason = failed_rule or recorded.get("reason") or ""
    else:
        if requested == AUTO:
            device = sweep.setup.devices.get("used", "CPU")
            memory = policy.gpu_memory_bytes() if device == "GPU" else None
            k, rule = policy.auto_slots(device, policy.parameter_count(model), config.batch_size, memory)
        else:
            k, rule = requested, f"vectorize={requested} as requested"
        k, rule = _balanced(k, rule, sweep.max_trials, sweep.workers)
        reason = failed_rule
    if failed_rule and k > 1:
        k, rule = 1, f"{rule}; one at a time: {failed_rule}"
    train_examples = len(sweep.splits.train[0])
    xla = k > 1 and policy.uses_xla(policy.steps_of(config, train_examples))
    return Decision(requested=requested, k=k, rule=rule, xla=xla, reason=reason)


def ensure(sweep):
    """`sweep` with its Decision. Preflight makes it in the process that prepares the sweep; a distributed sweep's
    chief and workers read it from sweep.json (k = 1 when the entry is missing: a sweep from before the setting), and
    a worker that starts before any sweep.json exists makes its own."""
    if sweep.vectorize is not None:
        return sweep
    path = sweep.sweep_dir / layout.SWEEP
    if path.exists():
        entry = _read_entry(sweep) or {}
        if isinstance(entry.get("k"), int):
            sweep.vectorize = Decision(
                requested=entry.get("requested", AUTO),
                k=entry["k"],
                rule=str(entry.get("rule") or ""),
                xla=bool(entry.get("xla")),
                reason=str(entry.get("reason") or ""),
            )
        else:
            sweep.vectorize = Decision(requested=sweep.vectorize_requested, k=1, rule=OLD_SWEEP, reason=OLD_SWEEP)
        return sweep
    from nnlab.train import modeling

    if sweep.splits is None:
        sweep.load_data()
    sweep.vectorize = decide(sweep, modeling.prepare(sweep.experiment, sweep.config, sweep.splits, sweep.setup))
    return sweep


def _sweep_rule(sweep):
    if sweep.algorithm == "hyperband":
        return "algorithm=hyperband trains one trial at a time: its later rounds continue earlier trials' weights"
    if sweep.executions > 1:
        return f"executions_per_trial={sweep.executions} trains one trial at a time"
    return ""


def _balanced(k, rule, max_trials, workers=0):
    """Groups of equal size: k no larger than needed to cover max_trials in as few groups as k allows, and with
    several workers, no more than each worker's share (each worker forms its own groups)."""
    if k <= 1:
        return k, rule
    share = math.ceil(max_trials / max(1, workers))
    groups = math.ceil(share / k)
    balanced = math.ceil(share / groups)
    if balanced < k:
        per = f" per worker of {workers}" if workers > 1 else ""
        return balanced, f"{rule}; {share} trials{per} in {groups} group{'s' if groups > 1 else ''}: {balanced}"
    return k, rule


def record(sweep):
    """The `vectorize` entry of sweep.json: the decision (or what sweep.json recorded, in a process that made none) and
    the groups, read from the trials' nnlab_trial.json records."""
    from nnlab.sweeps import tables

    decision = sweep.vectorize
    if decision is None:
        recorded = _read_entry(sweep)
        if recorded is None:
            return None
        entry = dict(recorded)
    else:
        entry = dataclasses.asdict(decision)
    entry["groups"] = tables.read_groups(sweep.sweep_dir)
    return {key: entry.get(key) for key in ("requested", "k", "rule", "groups", "xla", "reason")}


def _read_entry(sweep):
    try:
        entry = atomic.read_json(sweep.sweep_dir / layout.SWEEP).get("vectorize")
    except (OSError, ValueError, AttributeError):
        return None
    return entry if isinstance(entry, dict) else None


def repeatable(trial_record, default):
    """What `repeatable` in best_config.json says of a trial trained in a group; `default` for one trained alone."""
    if not trial_record or trial_record.get("group") is None:
        return default
    if trial_record.get("random_in_training"):
        return "same data, initialisation and batch order; dropout masks differ"
    return f"within tolerance (trained in a group of {trial_record.get('k')})"
