"""A training group: several trials of one structure trained by one compiled program, each the trial it would be alone.

Each member is built exactly as nnlab would build it alone (Keras' state reset, seeded with its own seed, then
nnlab.train.modeling.prepare), so its initial weights are bitwise the lone trial's; the program orders its batches by
its own seed (nnlab.train.loop.order). Around the program, per member and as nnlab.train.loop does for one model:
its learning rate, schedule and early stopping (nnlab.train.controls), its history rows, and the divergence guard
(loop.healthy_rows / loop.diverged). A member that stops early or diverges is frozen: the program keeps its weights
and optimizer state from then on, and its history ends where it would have ended alone. Slots beyond the members
(a group smaller than K) hold frozen copies, so one program serves every group of its structure.

After every compiled chunk the whole state (stacked weights, optimizer state, step counts, each member's controls
and progress) is saved in one file, so a killed group resumes to the same bits.
"""

import dataclasses
import time

import keras
import numpy as np
import tensorflow as tf

from nnlab.errors import NnlabError
from nnlab.experiment import module_failure
from nnlab.results import checkpoint
from nnlab.train import batches, loop, modeling
from nnlab.train import controls as controls_lib
from nnlab.train.vectorized import policy, updates
from nnlab.train.vectorized.program import GroupProgram

DONE, STOPPED_EARLY, DIVERGED = "done", "stopped early", "diverged"


@dataclasses.dataclass
class Member:
    """One trial of a group: what the caller gives, and what the group fills in."""

    name: str  # the trial's id, for messages and the state file
    config: object  # the config it trains with: its own seed (initialisation and batch order) and epochs
    history: object  # a nnlab.results.history.HistoryFile for its rows
    where: str  # the experiment file, for messages
    controls: object = None
    rate: float = 0.0  # the rate its optimizer would hold (float32), set per epoch by its schedule
    epochs_done: int = 0
    outcome: str = ""  # "" while it trains; DONE, STOPPED_EARLY or DIVERGED
    error: Exception = None  # the divergence error it would get alone
    seconds: float = 0.0  # its share of the group's time: the group's time divided by its size

    @property
    def live(self):
        return not self.outcome


class Programs:
    """The programs of one sweep process, one per structure (traced once each), and the data they train on."""

    def __init__(self, splits):
        self.splits = splits
        self.by_structure = {}
        self._tensors = None

    def tensors(self):
        if self._tensors is None:
            validation = self.splits.validation
            self._tensors = (
                batches.tensors(self.splits.train),
                None if validation is None else batches.tensors(validation),
            )
        return self._tensors


class TrainingGroup:
    """Members trained as one program of `slots` trials (K); `build()`, then `train()`.

    Args:
      experiment, setup, splits: as for nnlab.train.job.train_model (one replica).
      members: Member objects, their configs equal apart from policy.PER_TRIAL_FIELDS.
      slots: K; at least len(members).
      programs: the process's Programs (a program per structure, reused by later groups).
      state_path: where the group's state is saved after each chunk, and resumed from if it exists.
      meta: JSON-able facts the caller stores in that file (membership, group number).
    """

    def __init__(self, experiment, setup, splits, members, slots, programs, state_path, meta=None):
        self.experiment, self.setup, self.splits = experiment, setup, splits
        self.members, self.slots, self.programs = list(members), slots, programs
        self.state_path, self.meta = state_path, dict(meta or {})
        self.config = self.members[0].config
        self.program = self.state = None
        self.epoch = 0
        self.randomness = False  # whether training drew random numbers (dropout): best_config.json says so
        self.started = None  # when this session of the group began: its time is shared among the members

    def build(self):
        """Build every member's model as it would be built alone; returns the members that cannot join the group.

        A member whose model fails to build, or whose variables differ in shape or dtype from the first member's,
        is left out (it trains alone, where it fails or trains as it would have anyway).
        """
        self.started = time.perf_counter()
        weights, left_out, signature, template = [], [], None, None
        for member in self.members:
            keras.backend.clear_session(free_memory=False)  # what the lone trial's release_memory resets, but no gc
            keras.utils.set_random_seed(member.config.seed)
            try:
                model = modeling.prepare(self.experiment, member.config, self.splits, self.setup)
            except BaseException as error:  # module code that raised or exited: the member fails alone
                if module_failure(error, self.experiment.path) is None:
                    raise
                left_out.append(member)
                continue
            variables = (model.trainable_variables, model.non_trainable_variables)
            shapes = tuple((tuple(v.shape), str(v.dtype)) for part in variables for v in part)
            if signature is None:
                signature, template = shapes, model
            elif shapes != signature:
                left_out.append(member)
                continue
            weights.append(([v.numpy() for v in variables[0]], [v.numpy() for v in variables[1]]))
        self.members = [member for member in self.members if member not in left_out]
        if len(self.members) < 2:
            return left_out + self.members
        self.program = self._program(template, signature)
        while len(weights) < self.slots:  # empty slots: frozen copies of the first member
            weights.append(weights[0])
        self.state = self.program.initial_state([w[0] for w in weights], [w[1] for w in weights])
        for member in self.members:
            member.controls = controls_lib.make(member.config, None, member.where)  # no best-weights copies
            member.rate = float(np.float32(member.config.learning_rate))
        if self.state_path is not None and self.state_path.exists():
            self._restore()
        for member in self.members:
            member.history.resume(before_epoch=member.epochs_done, checkpoint=self.state_path)
        return left_out

    def _program(self, template, signature):
        count = int(np.shape(self.splits.train[0])[0])
        xla = policy.uses_xla(policy.steps_of(self.config, count))
        key = (policy.group_key(self.config), signature, self.slots, xla)
        if key not in self.programs.by_structure:
            train, validation = self.programs.tensors()
            rule = updates.for_optimizer(template.optimizer)
            self.programs.by_structure[key] = GroupProgram(
                template, self.slots, train, validation, self.config.batch_size, rule, xla
            )
        return self.programs.by_structure[key]

    def train(self):
        """Train until every member has stopped; each member's history, outcome and error say how it ended."""
        epochs, chunk = self.config.epochs, 1
        size = len(self.members)
        seeds = self._per_slot(lambda member: member.config.seed, 0, np.int64)
        momentum = self._per_slot(lambda member: getattr(member.config, "momentum", 0.0), 0.0, np.float32)
        self._finish_if_over(epochs)
        while any(member.live for member in self.members):
            live_members = [member for member in self.members if member.live]
            count = 1 if any(member.controls.active for member in live_members) else min(chunk, epochs - self.epoch)
            for member in live_members:
                rate = member.controls.before_epoch(self.epoch)
                if rate is not None:
                    member.rate = float(np.float32(rate))
            rates = self._per_slot(lambda member: member.rate, 0.0, np.float32)
            live = self._per_slot(lambda member: member.live, False, bool)
            started = time.perf_counter()
            done, self.state, columns = self.program.run(self.state, self.epoch, count, seeds, rates, momentum, live)
            seconds = time.perf_counter() - started
            for slot, member in enumerate(self.members):
                if member.live:
                    self._record(member, slot, columns, done, seconds / count / size)
            self.epoch += done
            self._finish_if_over(epochs)
            if self.state_path is not None and any(member.live for member in self.members):
                self._save()
            timed = int(loop.CHUNK_SECONDS * count / max(seconds, 1e-9))
            chunk = max(1, min(loop.MAX_CHUNK, 10 * count, timed))
        self.randomness = self._drew_random_numbers()
        share = self._share()
        for member in self.members:
            member.seconds += share

    def _share(self):
        """Each member's share of this session's time so far: the group's time divided by its size."""
        return (time.perf_counter() - self.started) / len(self.members)

    def _record(self, member, slot, columns, done, seconds):
        rows = [
            {"epoch": self.epoch + i, **{key: float(values[i][slot]) for key, values in columns.items()}}
            for i in range(done)
        ]
        for row in rows:
            row["seconds"] = seconds
        healthy = loop.healthy_rows(rows, member.history.rows)
        if healthy:
            member.history.rows.extend(healthy[:-1])
            member.history.append(healthy[-1])
        member.epochs_done += len(healthy)
        if len(healthy) < len(rows):
            member.outcome, member.error = DIVERGED, loop.diverged(member, rows[len(healthy)], member.history.rows)
            return
        if any([member.controls.after_epoch(row["epoch"], row) for row in rows]):
            member.outcome = STOPPED_EARLY

    def _finish_if_over(self, epochs):
        if self.epoch >= epochs:
            for member in self.members:
                member.outcome = member.outcome or DONE

    def _per_slot(self, value, empty, dtype):
        values = [value(member) for member in self.members]
        return np.array(values + [empty] * (self.slots - len(values)), dtype=dtype)

    def _drew_random_numbers(self):
        """Whether training drew random numbers (dropout masks): a Keras SeedGenerator's state is [seed, draws]."""
        template = self.program.model
        for variable, stacked in zip(template.non_trainable_variables, self.state["non_trainable"], strict=True):
            if "seed_generator" in variable.path and np.any(stacked.numpy()[: len(self.members), 1] != 0):
                return True
        return False

    # The state file: stacked arrays, each member's progress and controls, and the caller's meta.

    def _save(self):
        arrays = {"iterations": self.state["iterations"].numpy()}
        for part in ("trainable", "non_trainable"):
            arrays.update({f"{part}_{index}": value.numpy() for index, value in enumerate(self.state[part])})
        for slot_index, slot in enumerate(self.state["slots"]):
            arrays.update({f"slot{slot_index}_{index}": value.numpy() for index, value in enumerate(slot)})
        share = self._share()
        meta = {
            **self.meta,
            "slots": self.slots,
            "epoch": self.epoch,
            "members": [
                {
                    "name": member.name,
                    "epochs_done": member.epochs_done,
                    "outcome": member.outcome,
                    "error": str(member.error) if member.error is not None else None,
                    "controls": member.controls.state(),
                    "rate": member.rate,
                    "seconds": member.seconds + share,
                }
                for member in self.members
            ],
        }
        checkpoint.save_arrays(self.state_path, arrays, meta)

    def _restore(self):
        arrays, meta = checkpoint.read_arrays(self.state_path)
        if "members" not in meta:
            return  # the group was formed, but no chunk had finished: it starts afresh
        names = [saved.get("name") for saved in meta.get("members", [])]
        if names != [member.name for member in self.members] or meta.get("slots") != self.slots:
            raise NnlabError(
                f"{self.state_path} holds the state of a group of {names} in {meta.get('slots')} slots, not of "
                f"{[member.name for member in self.members]} in {self.slots}; it cannot resume them. Delete it to "
                f"train these trials again from epoch 0."
            )
        try:
            state = {
                "trainable": [tf.constant(arrays[f"trainable_{i}"]) for i in range(len(self.state["trainable"]))],
                "non_trainable": [
                    tf.constant(arrays[f"non_trainable_{i}"]) for i in range(len(self.state["non_trainable"]))
                ],
                "slots": [
                    [tf.constant(arrays[f"slot{j}_{i}"]) for i in range(len(slot))]
                    for j, slot in enumerate(self.state["slots"])
                ],
                "iterations": tf.constant(arrays["iterations"]),
            }
        except KeyError as error:
            raise NnlabError(
                f"{self.state_path} lacks the array {error}; delete it to train the group afresh."
            ) from None
        if tf.nest.map_structure(lambda t: (tuple(t.shape), t.dtype), state) != tf.nest.map_structure(
            lambda t: (tuple(t.shape), t.dtype), self.state
        ):
            raise NnlabError(
                f"{self.state_path} holds another model's state (shapes differ from what build_model builds now); "
                f"delete it to train the group's trials again from epoch 0."
            )
        self.state, self.epoch = state, int(meta["epoch"])
        for member, saved in zip(self.members, meta["members"], strict=True):
            member.epochs_done, member.outcome = int(saved["epochs_done"]), saved["outcome"]
            member.error = NnlabError(saved["error"]) if saved.get("error") else None
            member.controls.restore(saved.get("controls") or {})
            member.rate, member.seconds = float(saved["rate"]), float(saved.get("seconds", 0.0))
