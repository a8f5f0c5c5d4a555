"""A study: one experiment trained once per declared variant, into one run directory, to compare them.

An experiment declares its variants as name -> config overrides, each listing only what differs from Config:

    VARIANTS = {"sgd": {"optimizer": "sgd"}, "momentum": {"optimizer": "sgd", "momentum": 0.9}, "adam": {}}

`nnlab run <name>` then trains every variant on the same data split, each from the same seed, through
job.train_model, and writes per variant history-<variant>.csv, model-<variant>.keras and
<variant>-<metric>.png; for the study comparison.png (all variants' curves overlaid) and metrics.json
{"status": "done", "variants": {variant: {"overrides": ..., <train_model's metrics>}}, "best": {...}}.
"""

import dataclasses
import re
import sys
from pathlib import Path

import keras

from nnlab import config as config_lib
from nnlab.errors import NnlabError
from nnlab.plots import curves, tables
from nnlab.results import layout, ranking
from nnlab.train import job as job_lib

COMPARISON = layout.STUDY_COMPARISON
# Variants share one data set (loaded once), so they may not change what it is.
DATA_FIELDS = ("dataset", "limit_examples", "validation_fraction")


@dataclasses.dataclass
class StudyJob:
    """A finished study: what figures get instead of a single job.TrainingJob."""

    experiment: object
    config: object
    splits: object
    run_dir: object
    variants: dict  # variant name -> its finished job.TrainingJob (with its config), in declaration order
    metrics: dict


def jobs_of(job):
    """{name: TrainingJob} for a study's variants, or {"": job} for a plain run: figures accept either."""
    return job.variants if isinstance(job, StudyJob) else {"": job}


def variant_configs(experiment, config):
    """Each declared variant's config: `config` with the variant's overrides, type-checked like any override.

    Raises:
      NnlabError: VARIANTS is malformed, names an unknown field or a bad value, changes the data, or sets a
        field the user also overrode (the override would be silently replaced).
    """
    declared = experiment.optional("VARIANTS")
    where = f"{experiment.path}: VARIANTS"
    if not isinstance(declared, dict) or not declared:
        raise NnlabError(
            f"{where} must be a non-empty dict of variant name -> config overrides, e.g. "
            f'{{"sgd": {{"optimizer": "sgd"}}, "adam": {{}}}}; got {declared!r}.'
        )
    user_fields = config_lib.changed_fields(config, experiment.config_class())
    configs = {}
    for name, overrides in declared.items():
        if not (isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9_]+", name)):
            raise NnlabError(
                f"{where}: variant name {name!r} is not usable in file names; use letters, digits and _ only."
            )
        if not isinstance(overrides, dict):
            raise NnlabError(f"{where}[{name!r}] must be a dict of config overrides, got {overrides!r}.")
        for field in overrides:
            if field in DATA_FIELDS:
                raise NnlabError(
                    f"{where}[{name!r}] sets '{field}', but all variants share one data set; move it to Config "
                    f"or make it a separate experiment."
                )
            if field in user_fields:
                raise NnlabError(
                    f"{where}[{name!r}] sets '{field}', so your override {field}={user_fields[field]!r} would be "
                    f"ignored for it; drop that override, or change the variants in {experiment.path}."
                )
        values = {**dataclasses.asdict(config), **overrides}
        try:
            configs[name] = config_lib.resolve(type(config), values, source=f"{where}[{name!r}]")
        except NnlabError as error:  # Config.check()'s messages do not say where the value came from
            message = str(error)
            raise NnlabError(message if where in message else f"{where}[{name!r}]: {message}") from None
    return configs


def train_variants(experiment, config, splits, setup, run_dir, verbose):
    """Train every variant with job.train_model; write the comparison figure; return the StudyJob."""
    configs = variant_configs(experiment, config)  # every variant is checked before any trains
    declared = experiment.optional("VARIANTS")
    jobs = {}
    for name, variant_config in configs.items():
        print(f"variant {name}: {declared[name] or 'the defaults'}", file=sys.stderr)
        keras.utils.set_random_seed(variant_config.seed)  # each variant starts from the same draws
        jobs[name] = job_lib.train_model(
            experiment, variant_config, splits, setup, run_dir, verbose, name=name, plot=False
        )
    variants = {name: {"overrides": declared[name], **job.metrics} for name, job in jobs.items()}
    metrics = {"status": "done", "variants": variants, "best": best_variant(variants)}
    if metrics["best"]:
        best = metrics["best"]
        print(f"best variant: {best['variant']} ({best['by']} {best['value']:.4f})", file=sys.stderr)
    histories = {name: job.history.path for name, job in jobs.items()}
    plot_comparison(histories, run_dir.file(COMPARISON), config.metrics)
    return StudyJob(experiment, config, splits, run_dir, jobs, metrics)


def best_variant(variants):
    """{"variant", "by", "value", "overrides"} by the first ranking.BEST_BY measure every variant has; {} if none."""
    for group, metric, pick, _ in ranking.BEST_BY:
        values = {name: record.get(group, {}).get(metric) for name, record in variants.items()}
        if all(value is not None for value in values.values()):
            name = pick(values, key=values.get)  # ties go to the variant declared first
            by = f"{group} {metric}"
            return {"variant": name, "by": by, "value": values[name], "overrides": variants[name]["overrides"]}
    return {}


def plot_comparison(history_csvs, path, metrics=()):
    """Every variant's curves overlaid, one panel per metric (nnlab.plots.curves.overlay, as the report draws it)."""
    histories = [(name, tables.read_csv(csv)) for name, csv in history_csvs.items()]
    figure = curves.overlay(histories, f"study {Path(path).parent.name}: variants", metrics, max_panels=None)
    return curves.save(figure, path) if figure is not None else None
