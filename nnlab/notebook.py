"""Results as pandas tables, for a notebook: `nnlab.load(run_dir)`, `nnlab.runs(experiment)`, `nnlab.trials(sweep)`.

These read the files a run or a sweep wrote (through nnlab.report.read, which tolerates half-written ones) and
import no TensorFlow, so a notebook that only looks at results starts in a second. `RunView.model()` is the one
exception: loading a Keras model needs Keras.

    import nnlab
    result = nnlab.run("mnist", {"epochs": 2})
    run = nnlab.load(result.run_dir)
    run.history[["epoch", "loss", "val_loss"]]
"""

import dataclasses
import os
from pathlib import Path

import pandas as pd

from nnlab.errors import NnlabError
from nnlab.report import read
from nnlab.results import bounded, layout, paths

ZIP_SIGNATURE = b"PK\x03\x04"  # every .keras file is a zip archive


def default_results_dir(directory=None):
    """The results directory a notebook means: the argument, else $NNLAB_RESULTS, else ./results (as the CLI; an
    empty or over-long one is an error there too)."""
    return paths.results_dir(directory, flag="results_dir")


@dataclasses.dataclass
class RunView:
    """One run directory, read: `.config` and `.metrics` (dicts), `.history` (a DataFrame), `.model()`."""

    path: Path
    experiment: str
    status: str
    config: dict
    overrides: dict
    metrics: dict
    env: dict
    history: pd.DataFrame
    variants: tuple  # a study's variant names, in file order; () for a plain run
    problems: list  # files that were missing or unreadable, in words

    def model(self, variant=None):
        """The saved Keras model (model.keras, or a study variant's model-<variant>.keras)."""
        if self.variants and variant is None:
            raise NnlabError(
                f"{self.path} is a study; name one variant: .model({self.variants[0]!r}) ({self.variants})."
            )
        if variant is not None and variant not in self.variants:
            raise NnlabError(
                f"{self.path} has no variant {variant!r}; its variants: {', '.join(self.variants) or 'none'}."
            )
        path = self.path / layout.model(variant or "")
        _check_model_file(path, self.status)
        import keras

        return keras.saving.load_model(path)


def _check_model_file(path, status):
    """Raise NnlabError unless `path` is a regular file that starts as a .keras archive (a zip) does.

    Keras reads a model.keras linked to /dev/zero until memory runs out, and calls a directory, a named pipe or the
    0-byte file a kill while saving leaves "File not found"; each gets its own message here instead.
    """
    try:
        with bounded.open_regular(path) as stream:
            size, start = os.fstat(stream.fileno()).st_size, stream.read(len(ZIP_SIGNATURE))
    except FileNotFoundError:
        raise NnlabError(
            f"{path} does not exist; the run's status is {status!r} (a model is saved when done)."
        ) from None
    except bounded.Unreadable:
        raise NnlabError(
            f"{path} is not a regular file (a directory, named pipe or device), so it holds no model."
        ) from None
    except OSError as error:
        raise NnlabError(f"{path} cannot be read ({error.strerror}).") from None
    if start != ZIP_SIGNATURE:
        raise NnlabError(
            f"{path} is not a saved Keras model ({size} bytes that are not a .keras zip archive; a run "
            f"killed while saving leaves an empty one). The run's status is {status!r}: re-run it, or continue it "
            f"with --resume if it did not finish."
        )


def load(run_dir):
    """Read one run directory (a path, or the result of nnlab.run) into a RunView.

    A study's `.history` is every variant's history stacked, with a `variant` column.
    """
    path = Path(getattr(run_dir, "run_dir", run_dir))
    if not (path / layout.CONFIG).exists():
        raise NnlabError(f"{path} is not a run directory (no config.json); pass results/<experiment>/<run-id>.")
    record = read.read_run(path.parent.name, path)
    if record.variants:
        tables = [table.assign(variant=name) for name, table in record.variants.items() if table is not None]
        history = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    else:
        history = record.history if record.history is not None else pd.DataFrame()
    return RunView(
        path=path,
        experiment=path.parent.name,
        status=record.status,
        config=record.config,
        overrides=record.overrides,
        metrics=record.metrics,
        env=record.env,
        history=history,
        variants=tuple(record.variants),
        problems=record.problems,
    )


def runs(experiment, *, results_dir=None):
    """One row per run of `experiment`, newest first, as MLflow's search_runs gives them.

    Columns: run_id, status, started, every config field any run overrode (each run's own value; as
    `config.<name>` where the field is named like one of the other columns), the final epoch's metrics as
    `final.<name>`, the test metrics as `test.<name>` (a study: its best variant's), seconds, and path.
    """
    directory = default_results_dir(results_dir) / experiment
    if not directory.is_dir():
        raise NnlabError(
            f"{directory} does not exist: no runs of '{experiment}' there yet (nnlab.run({experiment!r}))."
        )
    records = [read.read_run(experiment, path) for path in sorted(directory.iterdir(), reverse=True) if _is_run(path)]
    varied = list(dict.fromkeys(field for record in records for field in record.overrides))
    rows = []
    for record in records:
        row = {"run_id": record.run_id, "status": record.status, "started": record.started}
        row.update({_field_column(field): _cell(record.config.get(field)) for field in varied})
        row.update({f"final.{key}": value for key, value in record.final.items() if key != "epoch"})
        row.update({f"test.{key}": value for key, value in record.test.items()})
        row["seconds"] = record.summary.get("train_seconds")
        row["path"] = str(record.path)
        rows.append(row)
    return pd.DataFrame(rows)


def trials(sweep_dir):
    """A sweep's trials.csv as a DataFrame (one row per trial, as Optuna's trials_dataframe)."""
    path = Path(getattr(sweep_dir, "sweep_dir", sweep_dir))
    problems = []
    table = read.read_csv(path / layout.TRIALS, problems, text_columns=("trial_id", "status"))
    if table is None:
        raise NnlabError(f"{path}: {'; '.join(problems)}; pass a sweep directory, results/<experiment>/sweeps/<id>.")
    return table


OWN_COLUMNS = ("run_id", "status", "started", "seconds", "path")


def _field_column(field):
    """A config field's column in `runs`: its name, unless nnlab's own columns use that name (a field `status`)."""
    return f"config.{field}" if field in OWN_COLUMNS or field.startswith(("final.", "test.", "config.")) else field


def _is_run(path):
    return path.is_dir() and path.name != layout.SWEEPS and (path / layout.CONFIG).exists()


def _cell(value):
    return ",".join(map(str, value)) if isinstance(value, list) else value
