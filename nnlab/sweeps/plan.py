"""What a sweep is: its experiment, settings, search space and directory, checked before the first trial.

`plan_settings` splits overrides into config fields and sweep settings and derives the sweep id; `SweepPlan.preflight`
loads the data once and checks the objective against the metrics a model of this experiment really logs.
"""

import dataclasses
import hashlib
import json
import re
from pathlib import Path

from nnlab import config as config_lib
from nnlab import search_space, structures
from nnlab.errors import NnlabError
from nnlab.plots import sweeps as sweep_plots
from nnlab.results import bounded, layout, paths, ranking
from nnlab.sweeps import vectorize

SETTINGS = {
    "algorithm": str,
    "max_trials": int,
    "sweep": str,
    "objective": str,
    "direction": str,
    "factor": int,
    "executions_per_trial": int,
    "vectorize": str,
}
DEFAULT_TRIALS = 10


@dataclasses.dataclass
class TrialData:
    """The splits as tensors, made once per process and shared by every trial (no per-trial copy of the data)."""

    train_x: object
    train_y: object
    val_x: object
    val_y: object

    def validation(self, batch_size):
        import tensorflow as tf

        if self.val_x is None:
            return None
        return tf.data.Dataset.from_tensor_slices((self.val_x, self.val_y)).batch(batch_size).prefetch(2)


@dataclasses.dataclass
class SweepPlan:
    """What a sweep is, decided once before any trial: the single object every part of `nnlab tune` reads.

    Who owns what (as keras-tuner's BaseTuner divides Oracle from Tuner):
    - the plan (this class) owns the experiment, the base config every trial starts from, the search space, the
      algorithm and objective, the sweep id and directory, and the data, loaded once per process (`load_data`);
      `preflight` checks the objective against what a model of this experiment really logs;
    - keras-tuner's oracle (sweeps/oracle.py) owns which values each trial gets and each trial's status;
    - the tuner (sweeps/trial.py) owns one trial: it trains the experiment with the trial's values through the same
      code as `nnlab run` and records its history;
    - sweeps/tables.py owns the tidy files (trials.csv, history.csv), rebuilt from the sweep directory alone;
    - sweeps/tuning.py runs them in order and writes sweep.json and best_config.json.
    """

    experiment: object
    config: object  # the resolved config every trial starts from
    raw_overrides: dict  # as given, for the processes a distributed sweep starts
    space: dict  # field -> search_space spec, pinned fields removed
    algorithm: str
    objective: str
    direction: str
    max_trials: int
    factor: int
    executions: int  # trainings per trial, from seeds (trial seed, k); the objective is their mean best value
    sweep_id: str
    sweep_dir: Path
    workers: int
    axes: tuple = (None, None)  # the two fields the sweep's figures show (nnlab.plots.sweeps.sweep_axes)
    seconds: float = 0.0
    vectorize_requested: object = "auto"  # the vectorize setting: "auto" or N (nnlab.sweeps.vectorize)
    recorded_vectorize: dict = None  # sweep.json's vectorize entry of a resumed sweep ({} when it has none)
    vectorize: object = None  # the decision (vectorize.Decision), made by preflight
    setup: object = None
    splits: object = None
    data: object = None

    @property
    def booleans(self):
        """Swept bool fields, written as true/false in trials.csv."""
        return [name for name in search_space.boolean_fields(self.experiment.config_class) if name in self.space]

    def describe(self):
        """The settings part of sweep.json."""
        return {
            "experiment": self.experiment.name,
            "sweep_id": self.sweep_id,
            "algorithm": self.algorithm,
            "objective": self.objective,
            "direction": self.direction,
            "max_trials": self.max_trials,
            "executions_per_trial": self.executions,
            "seed": self.config.seed,
            "search_space": {name: search_space.describe(spec) for name, spec in self.space.items()},
            "axes": [axis for axis in self.axes if axis],
            "overrides": config_lib.changed_fields(self.config, self.experiment.config_class()),
            "workers": self.workers,
        }

    def check_resumable(self):
        """An existing sweep of this id must have been started with the same settings."""
        path = self.sweep_dir / layout.SWEEP
        if not path.exists():
            return
        from nnlab.sweeps import oracle as oracles
        from nnlab.sweeps import tables

        oracles.check_files(tables.project_dir(self.sweep_dir), self.sweep_dir)
        oracles.check_trials_present(tables.project_dir(self.sweep_dir), self.sweep_dir)
        try:
            recorded = bounded.read_json(path)
        except (OSError, ValueError):  # damaged, or breaking a limit (bounded.Unreadable): as if absent
            recorded = {}
        recorded = recorded if isinstance(recorded, dict) else {}
        current = self.describe()
        keys = ("algorithm", "objective", "direction", "max_trials", "executions_per_trial", "seed", "search_space")
        for key in (*keys, "overrides"):
            if key in recorded and json.dumps(recorded[key], sort_keys=True) != json.dumps(
                current[key], sort_keys=True
            ):
                raise NnlabError(
                    f"{path}: sweep '{self.sweep_id}' was started with {key}={recorded[key]!r}, now it would be "
                    f"{current[key]!r}; a sweep resumes only with its own settings. Use another sweep=<name> for "
                    f"the new settings, or drop sweep= to get an id derived from them."
                )
        vectorize.check_recorded(self, recorded, path)
        self.seconds = recorded.get("seconds") or 0.0

    def check_trial_conversion(self):
        """Send the base config and one sample of the search space (each hyperparameter's default) through exactly
        the conversion a trial's values take (nnlab.sweeps.trial.trial_config), so that a field whose values cannot
        make that trip stops the sweep here instead of failing every trial."""
        from nnlab.sweeps.trial import trial_config

        sample = search_space.to_hyperparameters(self.space).values
        try:
            trial_config(self, sample)
        except NnlabError as error:
            raise NnlabError(
                f"Before the first trial: the sweep's config with a sample of SEARCH_SPACE ({sample}) does not make "
                f"a trial's config, so every such trial would fail: {error}"
            ) from None

    def load_data(self):
        """Seed, pick devices and load the splits once for every trial this process runs."""
        import tensorflow as tf

        from nnlab.train import devices
        from nnlab.train.vectorized import compile_cache

        compile_cache.enable()  # before the process's first XLA compilation: group programs compiled once per machine
        self.setup = devices.setup(self.config.seed)
        self.splits = self.experiment.load_splits(self.config)
        (train_x, train_y), validation = self.splits.train, self.splits.validation
        tensors = lambda value: tf.nest.map_structure(tf.convert_to_tensor, value)  # an array or several
        val_x, val_y = (None, None) if validation is None else map(tensors, validation)
        self.data = TrialData(tensors(train_x), tensors(train_y), val_x, val_y)

    def preflight(self):
        """Load the data and check the objective is a metric the model logs, before the first trial.

        A model with several outputs logs loss, <output>_loss and <output>_<metric>, so the default objective
        (val_ and the first metric, or val_loss) would pick one output's metric, or the sum of the losses, without
        anyone choosing it: such a sweep must name its objective.
        """
        from nnlab.train import controls, loop, modeling

        self.load_data()
        model = modeling.prepare(self.experiment, self.config, self.splits, self.setup)
        sample = tuple(structures.take(part, slice(None, self.config.batch_size)) for part in self.splits.train)
        logged = list(loop.evaluate(model, self.setup.strategy, sample))
        if self.splits.validation is not None:
            logged += [f"val_{name}" for name in logged]
        controls.check_monitor(self.config, logged, str(self.experiment.path))  # patience's or plateau's metric
        outputs = len(structures.leaves(self.splits.train[1]))
        if outputs > 1 and "objective" not in self.raw_overrides:
            choices = [name for name in logged if name.startswith("val_")] or logged
            raise NnlabError(
                f"{self.experiment.path}: the model has {outputs} outputs, so the sweep's objective must be named; "
                f"the default, {self.objective}, would pick for you. Pass objective=<one of {', '.join(choices)}>, "
                f"e.g. objective={choices[0]}."
            )
        if self.objective not in logged:
            hint = (
                " (there is no validation split: set validation_fraction > 0)"
                if self.objective.startswith("val_")
                else ""
            )
            raise NnlabError(
                f"{self.experiment.path}: objective '{self.objective}' is not a metric this experiment logs{hint}; "
                f"it logs {', '.join(logged)}. Pass e.g. objective={logged[-1]}, or add the metric to Config.metrics."
            )
        self.vectorize = vectorize.decide(self, model)  # how many trials train at once, and why

    def make_tuner(self, verbose):
        """keras-tuner's oracle for the algorithm and nnlab's tuner, reloading any state already on disk."""
        from nnlab.sweeps import groups, tables
        from nnlab.sweeps import oracle as oracles
        from nnlab.sweeps.trial import trial_seed

        oracles.check_files(tables.project_dir(self.sweep_dir), self.sweep_dir)
        oracle = oracles.make_oracle(
            self.algorithm,
            self.objective,
            self.direction,
            self.max_trials,
            # keras-tuner replaces a falsy seed (0, nnlab's default) by random.randint: derive a non-zero one
            trial_seed(self.config.seed, "oracle") or 1,
            search_space.to_hyperparameters(self.space),
            max_epochs=self.config.epochs,
            factor=self.factor,
        )
        tuner_class = groups.tuner_class(vectorize.ensure(self))
        return tuner_class(oracle, self, directory=str(self.sweep_dir), project_name=tables.TUNER_DIR, verbose=verbose)


def plan_settings(experiment, overrides, results_dir, workers):
    """Resolve a SweepPlan from `overrides` (config fields and sweep settings); raises NnlabError for mistakes."""
    pairs = _pairs(overrides)
    settings = {key: pairs.pop(key) for key in list(pairs) if key in SETTINGS}
    where = f"tune {experiment.name}"
    for key, kind in SETTINGS.items():
        if key in settings:
            settings[key] = config_lib.convert(key, settings[key], kind, source=where)
    fields = config_lib.field_types(experiment.config_class)
    both = sorted(set(settings) & set(fields))
    if both:  # taken as the setting, the field's value would be lost without a word
        raise NnlabError(
            f"{where}: {both[0]}= is both a sweep setting and a field of the Config in {experiment.path}; taken as "
            f"the setting, the field's value would be lost. Rename the Config field (e.g. my_{both[0]}), or set it "
            f"through from=<a config.json holding it>."
        )
    unknown = [key for key in pairs if key not in fields and key != "from"]
    if unknown:
        raise NnlabError(
            f"{where}: unknown setting '{unknown[0]}'. tune takes config fields: {', '.join(sorted(fields))}; "
            f"sweep settings: {', '.join(SETTINGS)}; and from=<config.json>."
        )
    config = experiment.config(pairs)
    declared = experiment.optional("SEARCH_SPACE")
    if declared is None:
        raise NnlabError(
            f"{experiment.path} declares no SEARCH_SPACE, so there is nothing to sweep. Add e.g. SEARCH_SPACE = "
            f'{{"learning_rate": search_space.Float(1e-4, 1e-2, log=True)}} (from nnlab import search_space).'
        )
    search_space.validate(declared, experiment.config_class, str(experiment.path))
    space = search_space.pinned(declared, pairs)
    if not space:
        raise NnlabError(
            f"{where}: the overrides {sorted(pairs)} pin every SEARCH_SPACE field, so nothing is left to sweep; "
            f"drop one of them (use `make run` to train a single config)."
        )
    axes = sweep_plots.sweep_axes(space, experiment.optional("SWEEP_AXES"), declared, f"{experiment.path}: SWEEP_AXES")
    algorithm = settings.get("algorithm", "random")
    if algorithm not in ("random", "grid", "bayesian", "hyperband"):
        raise NnlabError(f"{where}: algorithm={algorithm!r} is unknown; use random, grid, bayesian or hyperband.")
    objective = settings.get("objective") or _default_objective(config.metrics)
    direction = settings.get("direction") or ranking.direction(objective)
    if direction not in ("min", "max"):
        raise NnlabError(f"{where}: direction={direction!r} must be min or max.")
    factor = settings.get("factor", 3)
    if factor < 2:
        raise NnlabError(f"{where}: factor={factor} must be at least 2 (Hyperband keeps 1/factor of each round).")
    max_trials = _trial_count(algorithm, settings.get("max_trials"), space, config.epochs, factor, where)
    _check_warmup(config, space, algorithm, factor, where)
    vectorize_requested = vectorize.parse(settings.get("vectorize"), where)
    executions = settings.get("executions_per_trial", 1)
    if executions < 1:
        raise NnlabError(f"{where}: executions_per_trial={executions} must be at least 1 (trainings per trial).")
    if executions > 1 and algorithm == "hyperband":
        raise NnlabError(
            f"{where}: executions_per_trial={executions} with algorithm=hyperband is not supported: Hyperband "
            f"continues one trained model per trial into its next round. Use executions_per_trial=1, or "
            f"algorithm=random, grid or bayesian."
        )
    sweep_id = settings.get("sweep") or _derived_id(
        experiment.name,
        algorithm,
        objective,
        direction,
        max_trials,
        factor,
        config_lib.changed_fields(config, experiment.config_class()),
        space,
        executions,
    )
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", sweep_id):
        raise NnlabError(f"{where}: sweep={sweep_id!r} must be a plain name of letters, digits, '.', '_' or '-'.")
    sweep_dir = Path(results_dir) / experiment.name / layout.SWEEPS / sweep_id
    paths.check(sweep_dir, f"{where}: the sweep directory (sweep=<name> and --results)")
    return SweepPlan(
        experiment=experiment,
        config=config,
        raw_overrides=_pairs(overrides) | {"sweep": sweep_id},
        space=space,
        algorithm=algorithm,
        objective=objective,
        direction=direction,
        max_trials=max_trials,
        factor=factor,
        executions=executions,
        sweep_id=sweep_id,
        sweep_dir=sweep_dir,
        workers=workers,
        axes=axes,
        vectorize_requested=vectorize_requested,
    )


def _check_warmup(config, space, algorithm, factor, where):
    """warmup_epochs must leave every trial some epochs at the full rate: below the shortest epoch budget a trial
    can get (Hyperband's smallest bracket; the smallest `epochs` in the space), for every value the space allows."""
    from nnlab.sweeps import oracle as oracles

    warmup = _extreme(space.get("warmup_epochs"), max, config.warmup_epochs)
    if not warmup:
        return
    epochs = _extreme(space.get("epochs"), min, config.epochs)
    budget, why = epochs, f"epochs={epochs}"
    if algorithm == "hyperband":
        budget = oracles.hyperband_shortest_budget(config.epochs, factor)
        why = f"Hyperband's shortest trial (epochs={config.epochs}, factor={factor}) trains {budget} epochs"
    if warmup >= budget:
        raise NnlabError(
            f"{where}: field 'warmup_epochs' can be {warmup}, but {why}, so some trials would never reach "
            f"learning_rate. Use warmup_epochs below {budget}, or more epochs."
        )


def _extreme(spec, pick, default):
    """The largest (pick=max) or smallest (pick=min) value a search-space entry can take; `default` without one."""
    if spec is None:
        return default
    values = spec.values if isinstance(spec, search_space.Choice) else (spec.min_value, spec.max_value)
    return pick(values)


def _trial_count(algorithm, requested, space, epochs, factor, where):
    from nnlab.sweeps import oracle as oracles

    if requested is not None and requested < 1:
        raise NnlabError(f"{where}: max_trials={requested} must be at least 1.")
    if algorithm == "grid":
        full = search_space.grid_size(search_space.to_hyperparameters(space))
    elif algorithm == "hyperband":
        full = oracles.hyperband_trials(epochs, factor)
    else:
        return requested or DEFAULT_TRIALS
    return min(full, requested) if requested else full


def _default_objective(metrics):
    """val_<the first metric>, else val_loss. Metrics given per output (a dict by output name) have no first one, and
    such a model has several outputs, so `preflight` asks for the objective by name."""
    if isinstance(metrics, dict) or not metrics:
        return "val_loss"
    return "val_" + str(metrics[0])


def _derived_id(name, algorithm, objective, direction, max_trials, factor, overrides, space, executions=1):
    key = {
        "experiment": name,
        "algorithm": algorithm,
        "objective": objective,
        "direction": direction,
        "max_trials": max_trials,
        "factor": factor if algorithm == "hyperband" else None,
        "overrides": overrides,
        "space": {field: search_space.describe(spec) for field, spec in space.items()},
    }
    if executions != 1:  # absent otherwise, so that sweeps started before the setting existed keep their ids
        key["executions_per_trial"] = executions
    return f"{algorithm}-{hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:8]}"


def _pairs(overrides):
    return config_lib.split_pairs(overrides, "tune", example="epochs=2 or max_trials=6")
