"""`make gpu-check`: does this machine's GPU train, and how fast? For users with GPUs.

Runs mnist, linreg and a 2-trial mnist sweep through nnlab's own entry functions, then prints, per run, the devices
TensorFlow used, the strategy and replicas, the XLA setting, the seconds per epoch and the accuracy (or loss), read
back from the run's env.json and metrics.json; for the sweep, its best objective and how it grouped its trials (k,
the group count and whether the group program used XLA, from sweep.json's `vectorize` record; "-" without one). It
also says when the system shows a GPU that TensorFlow does not see (then `make install GPU=1`). Runs under
results/gpu-check/ (or --results) and never touches results/.

    make gpu-check
    make gpu-check ARGS="--quick"      # small data and one epoch: a minute on a CPU, to try the script itself
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

from nnlab.train import startup

startup.import_tensorflow()  # TensorFlow's start-up chatter filtered, as `nnlab run` does

import math  # noqa: E402

from nnlab import experiment as experiment_lib  # noqa: E402
from nnlab.sweeps import tuning  # noqa: E402
from nnlab.train import loop, runner, system_gpus  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sweep_record  # noqa: E402

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"
QUICK = {
    "mnist": ["epochs=1", "limit_examples=2000"],
    "linreg": ["epochs=50"],
    "sweep": ["epochs=1", "limit_examples=2000"],
}


def xla_setting(name, environment, run_dir):
    """What nnlab.train.loop decides: XLA for a hand-written train_step on one replica in runs of at least
    JIT_MIN_STEPS steps, else none; the step count from the run's own config and data."""
    experiment = experiment_lib.load(name, EXPERIMENTS)
    if experiment.optional("train_step") is None or environment.get("replicas", 1) != 1:
        return "off"
    config = experiment.config(json.loads((Path(run_dir) / "config.json").read_text())["config"])
    count = len(experiment.load_splits(config).train[0])
    steps = config.epochs * math.ceil(count / min(config.batch_size, count))
    decision = "on" if steps >= loop.JIT_MIN_STEPS else "off"
    return f"{decision} (hand-written step, {steps} steps; XLA from {loop.JIT_MIN_STEPS})"


def describe_run(label, run_dir):
    environment = json.loads((Path(run_dir) / "env.json").read_text())
    metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
    final = metrics.get("test") or metrics.get("final") or {}
    score = "accuracy" if "accuracy" in final else "loss"
    devices = environment.get("devices", {})
    return (
        f"{label:8} device {devices.get('used', '?'):3} ({', '.join(devices.get('gpus') or devices.get('cpus') or [])})"
        f"  strategy {environment.get('strategy')} x{environment.get('replicas', 1)}"
        f"  XLA {xla_setting(label, environment, run_dir)}"
        f"  {metrics.get('seconds_per_epoch', float('nan')):.3f} s/epoch"
        f"  {'test ' if 'test' in metrics else 'final '}{score} {final.get(score, float('nan')):.4f}"
    )


def describe_sweep(sweep):
    """The sweep's line: its trials, best objective and grouping (k, groups, XLA), from its own files."""
    objective = json.loads(Path(sweep.best_config).read_text())["objective"]
    grouping = sweep_record.read(sweep.sweep_dir).grouping.text()
    return (
        f"sweep    2 trials {sweep.counts}, best trial {sweep.best_trial}: {objective['name']} {objective['value']:.4f}"
        f"; {grouping}"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results/gpu-check")
    parser.add_argument("--quick", action="store_true", help="small data, one epoch")
    args = parser.parse_args(argv)
    os.environ.setdefault("NNLAB_EXPERIMENTS", str(EXPERIMENTS))
    shown = system_gpus.listed()
    print(f"system GPUs: {', '.join(shown) if shown else 'none'}")
    lines = []
    for name in ("mnist", "linreg"):
        result = runner.run(name, QUICK[name] if args.quick else [], results_dir=args.results, verbose=0)
        lines.append(describe_run(name, result.run_dir))
    sweep_args = [
        "max_trials=2",
        f"sweep=gpu-check-{time.strftime('%Y%m%d-%H%M%S')}",
        *(QUICK["sweep"] if args.quick else ["epochs=2"]),
    ]
    sweep = tuning.tune("mnist", sweep_args, results_dir=args.results, verbose=0)
    lines.append(describe_sweep(sweep))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
