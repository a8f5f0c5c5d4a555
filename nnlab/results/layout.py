"""Every file name in a run or sweep directory, in one place: writers and readers import these, never spell them.

results/
  report.html  report.md  report_files/              nnlab report (report_files/.manifest.json: what it wrote)
  bench/                                             make bench, make profile
  <experiment>/
    <run-id>/                                          nnlab run
      config.json  status.json  env.json  metrics.json
      history[-<variant>].csv  model[-<variant>].keras  checkpoint[-<variant>].npz (while unfinished)
      [<variant>-]<metric>.png  comparison.png (a study)  tensorboard/  <figure files of the experiment>
      workers/<index>.json  workers/<index>.log        (a run over several workers: status, weights checksum)
    sweeps/<sweep-id>/                                 nnlab tune
      sweep.json  trials.csv  history.csv  best_config.json  <sweep figures>  chief.lock (while a chief runs)
      tensorboard/ (HParams: the search space) tensorboard/trial_<id>/ (one session per ended trial, .written)
      logs/<role>.log  processes.json                  (a sweep with workers)
      tuner/oracle.json  tuner/trial_<id>/{trial.json, history.csv, nnlab_trial.json, checkpoint.npz,
                                            final.weights.h5, error.log (a failed trial's traceback)}
      tuner/group_<n>.npz                              (a group of trials trained as one program: its members,
                                                        and its state while it trains)
"""

# A run directory.
CONFIG = "config.json"
STATUS = "status.json"
ENVIRONMENT = "env.json"
METRICS = "metrics.json"
TENSORBOARD = "tensorboard"
STUDY_COMPARISON = "comparison.png"


def worker_record(index):
    """workers/<index>.json: a worker's status and the SHA-256 of its final weights (a cluster run)."""
    return f"workers/{index}.json"


def worker_log(index):
    """workers/<index>.log: what a worker started by `--processes` printed."""
    return f"workers/{index}.log"


def _variant(stem, extension, variant):
    return f"{stem}-{variant}{extension}" if variant else f"{stem}{extension}"


def history(variant=""):
    """history.csv, or history-<variant>.csv for one variant of a study."""
    return _variant("history", ".csv", variant)


def model(variant=""):
    return _variant("model", ".keras", variant)


def checkpoint(variant=""):
    return _variant("checkpoint", ".npz", variant)


def learning_curve(metric, variant=""):
    """<metric>.png, or <variant>-<metric>.png for one variant of a study."""
    return f"{variant}-{metric}.png" if variant else f"{metric}.png"


# Figures that experiments ask for by name (FIGURES), written into their run directory.
ACTIVATION_FUNCTIONS = "activation_functions.png"
CONFUSION_MATRIX = "confusion_matrix.png"
CONFUSION_MATRIX_TABLE = "confusion_matrix.csv"
DECISION_BOUNDARY = "decision_boundary.png"
INIT_STATISTICS = "init_statistics.png"
INIT_STATISTICS_TABLE = "init_statistics.csv"
LINE_FIT = "line_fit.png"
LINE_FIT_TRAJECTORY = "line_fit_trajectory.png"
LINE_FIT_ANIMATION = "line_fit.gif"

# An experiment directory holds run directories and this folder of sweeps.
SWEEPS = "sweeps"

# A sweep directory.
SWEEP = "sweep.json"
TRIALS = "trials.csv"
SWEEP_HISTORY = "history.csv"  # the long table: one row per (trial, epoch)
BEST_CONFIG = "best_config.json"
TRIAL_CURVES = "trial_curves.png"
PARALLEL_COORDINATES = "parallel_coordinates.png"  # drawn by the report, which embeds one a sweep holds
PROCESSES = "processes.json"
CHIEF_LOCK = "chief.lock"  # the process playing the sweep's chief role (nnlab.results.lock)
TENSORBOARD_WRITTEN = ".written"  # in tensorboard/trial_<id>/ once that trial's logs are complete
LOGS = "logs"


def heatmap(first, second):
    """<first>_<second>_heatmap.png: the best objective over the sweep's two axes (nnlab.plots.sweeps).

    learning_rate is written "lr", so mnist's sweep keeps the name it always had (lr_width_heatmap.png); a sweep
    over one field gets <first>_heatmap.png.
    """
    short = {"learning_rate": "lr"}
    return "_".join(short.get(field, field) for field in (first, second) if field) + "_heatmap.png"


def objective_vs(field):
    """objective_vs_<field>.png: each trial's best objective against one hyperparameter (the sweep's first axis)."""
    return f"objective_vs_{field}.png"


def role_log(role):
    """logs/<role>.log of a distributed sweep's chief or worker."""
    return f"{LOGS}/{role}.log"


# keras-tuner's project inside a sweep directory, and what nnlab keeps in each trial's folder.
TUNER = "tuner"
ORACLE = "oracle.json"
TRIAL_STATE = "trial.json"  # keras-tuner's record of a trial: status, hyperparameters, metrics
TRIAL_HISTORY = "history.csv"
TRIAL_RECORD = "nnlab_trial.json"
TRIAL_WEIGHTS = "final.weights.h5"
TRIAL_ERROR_LOG = "error.log"  # a failed trial's error in one line, then its traceback (the console shows the line)
ALL_TRIAL_STATES = f"trial_*/{TRIAL_STATE}"
ALL_TUNER_STATES = "*.json"  # oracle.json and each tuner's <tuner id>.json


def group_state(number):
    """tuner/group_<n>.npz: group n's membership and owner, and, while it trains, its state after the last chunk."""
    return f"group_{number}.npz"


ALL_GROUP_STATES = "group_*.npz"


def group_number(name):
    """n for a file named group_<n>.npz, else None."""
    stem, dot, extension = name.rpartition(".")
    number = stem.removeprefix("group_")
    return int(number) if dot and extension == "npz" and stem.startswith("group_") and number.isdigit() else None


def tuner_state(tuner_id):
    """keras-tuner's file for one tuner process (chief, worker0, ...), beside oracle.json."""
    return f"{tuner_id}.json"


def trial_dir(trial_id):
    """keras-tuner's folder for one trial, inside the tuner project."""
    return f"trial_{trial_id}"


# The results directory itself.
REPORT_HTML = "report.html"
REPORT_MARKDOWN = "report.md"
REPORT_FILES = "report_files"
BENCH = "bench"  # `make bench` and `make profile` write results/bench/

# Folders nnlab itself writes directly in the results directory: no experiment may take one of these names, or its
# runs would share a folder with them (`nnlab run`/`tune` refuse them, `nnlab list` skips them).
RESERVED_NAMES = (REPORT_FILES, BENCH)

# In report_files/: the plain names of the images the report wrote, the only files a later report may delete.
REPORT_MANIFEST = ".manifest.json"
