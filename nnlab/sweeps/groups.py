"""Grouped sweeps: keras-tuner's oracle asked for K trials at once, and same-structure trials trained as one program.

keras-tuner stays the engine. As in its distributed mode, the tuner asks the oracle for trials under several tuner
ids, one per slot (`<tuner id>-0` ... `<tuner id>-<K-1>`): each id holds one trial until that trial is reported, so
the oracle hands out at most K at once and gives a restarted process its own trials back. Random and grid search
propose the same trial i as one trial at a time would; Bayesian search fills in placeholder results for the trials
it has handed out, so it proposes other values than vectorize=1.

Of the trials it holds, the tuner trains the largest set that may share a program (configs equal apart from
policy.PER_TRIAL_FIELDS; models with equal variable shapes, checked when they are built) as one group
(nnlab.train.vectorized.group), and a trial with no partner alone, in the loop of `nnlab run`. Once every trial of a
group has stopped, each is reported to the oracle, in trial-id order, through keras-tuner's usual path (so its line
is printed then). A group that fails for any other reason than divergence, an interruption or the environment (a
full disk) prints one `nnlab:` warning line, records the error's first line as vectorize.reason, and its trials
train again one at a time.

Each group has a number, counting from 0 in the order groups form, and one file, tuner/group_<n>.npz (claimed with
O_EXCL, so workers never share a number): its members and owner, its state after every chunk while it trains, and
each member's outcome once it has finished. A resumed sweep re-forms its unfinished group first and continues it to
the same bits; a group that finished but was not wholly reported is reported without training.
"""

import dataclasses
import math
import os
import sys
import time
from pathlib import Path

from keras_tuner.errors import FatalError

from nnlab import config as config_lib
from nnlab.errors import NnlabError, first_line, from_os_error
from nnlab.experiment import module_failure
from nnlab.results import atomic, checkpoint, layout
from nnlab.results.history import HistoryFile, read_rows
from nnlab.sweeps import tables
from nnlab.sweeps.oracle import TUNER_KEYS
from nnlab.sweeps.trial import SweepTuner, peak_rss_mb, release_memory, rss_mb, trial_seed

RUNNING, STOPPED = "RUNNING", "STOPPED"


def tuner_class(sweep):
    """The tuner for this sweep: GroupedSweepTuner when it trains groups (k > 1), else the one-at-a-time SweepTuner."""
    return GroupedSweepTuner if sweep.vectorize is not None and sweep.vectorize.k > 1 else SweepTuner


@dataclasses.dataclass
class Outcome:
    """How a grouped trial ended, for run_trial to report: an error it would have raised alone, or None."""

    error: Exception = None


class GroupedSweepTuner(SweepTuner):
    """nnlab's tuner, asking the oracle for K trials at once and training same-structure ones as groups."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outcomes = {}  # trial id -> Outcome, for the trials of a finished group being reported
        self.failed_structures = set()  # structures whose group program failed: their trials train alone
        self.programs = None
        self.asked = set()
        self.trained = False  # whether this process trained anything yet (then memory is released per group)
        self.slots_of = {}  # structure -> how many trials its program holds

    def search(self, *args, verbose=1, **kwargs):
        """keras-tuner's trial loop over K slots (see the module docstring); as quiet as SweepTuner's (no display)."""
        self.on_search_begin()
        slots = [f"{self.tuner_id}-{index}" for index in range(self.sweep.vectorize.k)]
        unfinished = own_groups(self.project_dir, self.tuner_id)
        while True:
            trials = [self._ask(slot) for slot in slots]
            running = sorted(
                (trial for trial in trials if trial.status == RUNNING),
                key=lambda trial: tables.trial_order(trial.trial_id),
            )
            if not running:
                if all(trial.status == STOPPED for trial in trials):
                    break
                time.sleep(1)  # the oracle is waiting for trials to end (IDLE)
                continue
            self._advance(running, unfinished)
        self.on_search_end()

    def _ask(self, slot):
        trial = self.oracle.create_trial(slot)
        if trial.status == RUNNING and trial.trial_id not in self.asked:
            self.asked.add(trial.trial_id)
            # Grid search derives a trial from one that has ended; for several workers it also derives from
            # ongoing ones (keras-tuner's comment), which is what K slots need to get K trials.
            populate_next = getattr(self.oracle, "_populate_next", None)
            if isinstance(populate_next, list):
                populate_next.append(trial.trial_id)
        return trial

    def _advance(self, running, unfinished):
        """Train one group (or one trial) from the held trials: an unfinished group of this tuner first."""
        by_id = {trial.trial_id: trial for trial in running}
        while unfinished:
            path, meta = unfinished[0]
            present = [by_id[trial_id] for trial_id in meta.get("trials", []) if trial_id in by_id]
            unfinished.pop(0)
            if not present:
                continue  # every member already reported
            if meta.get("finished"):
                self._report(present, meta)
                return
            if len(present) == len(meta["trials"]):
                self._train_group(present, path, meta)
                return
            _discard(path)  # some of its trials went elsewhere (another worker): it cannot be re-formed
        partitions = {}
        for trial in running:
            key = self._structure(trial)
            if key is None:  # its config cannot be made: it fails alone, as it would with vectorize=1
                self._train_alone(trial)
                return
            partitions.setdefault(key, []).append(trial)
        # The largest set first; between equals, the one holding the earliest trial.
        key, chosen = max(partitions.items(), key=lambda item: (len(item[1]), -min(_index(t) for t in item[1])))
        try:
            slots = self._slots(key, chosen[0])
        except BaseException as error:  # its model cannot be built (module code raised or exited): it fails alone
            if module_failure(error, self.sweep.experiment.path) is None:
                raise
            self._train_alone(chosen[0])
            return
        chosen = chosen[:slots]
        if len(chosen) < self._enough(slots, chosen[0]) or key in self.failed_structures:
            self._train_alone(min(running, key=_index))
            return
        number, path = claim(self.project_dir)
        meta = {"group": number, "owner": self.tuner_id, "trials": [trial.trial_id for trial in chosen], "k": slots}
        checkpoint.save_arrays(path, {}, {**meta, "finished": False})
        self._train_group(chosen, path, meta)

    def _enough(self, slots, trial):
        """The fewest trials worth a group. Empty slots cost as much as live ones, and a slot in a group about half a
        trial alone (README, "Where the time goes"): with many steps, a group of fewer than half its slots trains
        slower than its trials alone. With few steps (too few for XLA) each trial's own trace and gc dominate, and any
        two share them."""
        from nnlab.train.vectorized import policy

        steps = policy.steps_of(self._config(trial), len(self.sweep.splits.train[0]))
        return max(2, math.ceil(slots / 2)) if policy.uses_xla(steps) else 2

    def _slots(self, key, trial):
        """How many trials a program of this structure holds: the sweep's k, or with vectorize=auto at most what
        vectorize=auto gives this structure's own parameter count (a sweep over width holds fewer wide models)."""
        from nnlab.train import modeling
        from nnlab.train.vectorized import policy

        decision = self.sweep.vectorize
        if decision.requested != "auto":
            return decision.k
        if key not in self.slots_of:
            config = self._config(trial)
            model = modeling.prepare(self.sweep.experiment, config, self.sweep.splits, self.sweep.setup)
            device = self.sweep.setup.devices.get("used", "CPU")
            memory = policy.gpu_memory_bytes() if device == "GPU" else None
            own, _ = policy.auto_slots(device, policy.parameter_count(model), config.batch_size, memory)
            self.slots_of[key] = max(2, min(decision.k, own))
        return self.slots_of[key]

    def _structure(self, trial):
        """The key of trials that may share a program, or None when the trial's config cannot be made."""
        from nnlab.train.vectorized import policy

        try:
            return policy.group_key(self._config(trial))
        except BaseException as error:
            if module_failure(error, self.sweep.experiment.path) is None:
                raise
            return None

    def _config(self, trial):
        """The trial's config, as SweepTuner.run_trial resolves it (before its own seed is set)."""
        values = {key: value for key, value in trial.hyperparameters.values.items() if key not in TUNER_KEYS}
        return config_lib.resolve(
            self.sweep.experiment.config_class, {**config_lib.to_dict(self.sweep.config), **values}
        )

    def _train_group(self, trials, path, meta):
        from nnlab.train.vectorized.group import Member, Programs, TrainingGroup

        sweep = self.sweep
        if self.programs is None:
            self.programs = Programs(sweep.splits)
        members = []
        for trial in trials:
            config = self._config(trial)
            trial_dir = Path(self.get_trial_dir(trial.trial_id))
            members.append(
                Member(
                    name=trial.trial_id,
                    config=dataclasses.replace(config, seed=trial_seed(config.seed, trial.trial_id)),
                    history=HistoryFile(trial_dir / layout.TRIAL_HISTORY),
                    where=str(sweep.experiment.path),
                )
            )
        if self.trained:  # once per group: the previous group's (or trial's) models and graphs; nothing before
            release_memory()
        self.trained = True
        group = TrainingGroup(sweep.experiment, sweep.setup, sweep.splits, members, meta["k"], self.programs,
                              path, meta)  # fmt: skip
        try:
            left_out = group.build()
            if len(group.members) >= 2:
                group.train()
        except Exception as error:
            if from_os_error(error) is not None:  # the disk, not the group: stop the sweep, resumable, as trials do
                raise FatalError(str(error)) from error
            self.failed_structures.add(self._structure(trials[0]))
            sweep.vectorize.reason = f"{type(error).__name__}: {first_line(error)}"
            print(
                f"nnlab: warning: trials {', '.join(t.trial_id for t in trials)} could not train as one group program "
                f"({sweep.vectorize.reason}); training them one at a time.",
                file=sys.stderr,
            )
            _discard(path)
            for trial in trials:
                self._train_alone(trial)
            return
        by_id = {trial.trial_id: trial for trial in trials}
        if len(group.members) < 2:  # no group formed after all
            _discard(path)
            for member in left_out:
                self._train_alone(by_id[member.name])
            return
        if sweep.vectorize.xla and not group.program.xla:
            sweep.vectorize.xla = False  # XLA could not compile it; it ran uncompiled
        finished = {**meta, "finished": True, "members": []}
        for member in group.members:
            self._write_record(by_id[member.name], member, meta, group.randomness)
            finished["members"].append(
                {"name": member.name, "outcome": member.outcome, "error": str(member.error) if member.error else None}
            )
        checkpoint.save_arrays(path, {}, finished)  # the state is no longer needed; the membership stays
        self._report([by_id[member.name] for member in group.members], finished)
        for member in left_out:
            self._train_alone(by_id[member.name])

    def _write_record(self, trial, member, meta, randomness):
        trial_dir = Path(self.get_trial_dir(trial.trial_id))
        values = {key: value for key, value in trial.hyperparameters.values.items() if key not in TUNER_KEYS}
        atomic.write_json(
            trial_dir / layout.TRIAL_RECORD,
            {
                "trial_id": trial.trial_id,
                "seed": member.config.seed,
                "executions": 1,
                "execution_seeds": [member.config.seed],
                "values": {key: getattr(member.config, key) for key in values},
                "seconds": member.seconds,
                "rss_mb": rss_mb(),
                "peak_rss_mb": peak_rss_mb(),
                "pid": os.getpid(),
                "group": meta["group"],
                "group_trials": meta["trials"],
                "k": meta["k"],
                "outcome": member.outcome,
                "random_in_training": randomness,
            },
        )

    def _report(self, trials, meta):
        """Report a finished group's trials to the oracle in trial-id order, through keras-tuner's usual path."""
        saved = {member["name"]: member for member in meta.get("members", [])}
        for trial in sorted(trials, key=lambda trial: tables.trial_order(trial.trial_id)):
            error = (saved.get(trial.trial_id) or {}).get("error")
            self.outcomes[trial.trial_id] = Outcome(NnlabError(error) if error else None)
            self.on_trial_begin(trial)
            self._try_run_and_update_trial(trial)
            self.on_trial_end(trial)

    def _train_alone(self, trial):
        self.trained = True
        self.on_trial_begin(trial)
        self._try_run_and_update_trial(trial)
        self.on_trial_end(trial)

    def run_trial(self, trial, *args, **kwargs):
        """A grouped trial's result (its best epoch, or the error it would have raised alone); else train it alone."""
        outcome = self.outcomes.pop(trial.trial_id, None)
        if outcome is None:
            return super().run_trial(trial, *args, **kwargs)
        if outcome.error is not None:
            raise outcome.error
        rows = read_rows(Path(self.get_trial_dir(trial.trial_id)) / layout.TRIAL_HISTORY)
        return tables.mean_best(rows, self.sweep.objective, self.sweep.direction)


def own_groups(project_dir, tuner_id):
    """[(path, meta)] of the group files this tuner owns, in group order: to re-form or report after a restart."""
    found = []
    for path in sorted(Path(project_dir).glob(layout.ALL_GROUP_STATES), key=lambda p: layout.group_number(p.name) or 0):
        try:
            _, meta = checkpoint.read_arrays(path)
        except NnlabError:
            continue  # claimed, then killed before anything was written: nothing to resume
        if meta.get("owner") == tuner_id and isinstance(meta.get("trials"), list):
            found.append((path, meta))
    return found


def claim(project_dir):
    """(n, path) of the next free group number, its file created exclusively so that no other process takes it."""
    taken = [layout.group_number(path.name) for path in Path(project_dir).glob(layout.ALL_GROUP_STATES)]
    number = max((n for n in taken if n is not None), default=-1) + 1
    while True:
        path = Path(project_dir) / layout.group_state(number)
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            return number, path
        except FileExistsError:
            number += 1


def _discard(path):
    Path(path).unlink(missing_ok=True)


def _index(trial):
    return int(trial.trial_id) if trial.trial_id.isdigit() else 0
