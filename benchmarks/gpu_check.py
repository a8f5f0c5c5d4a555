"""`make gpu-check`: does nnlab train on this machine's GPUs, and how fast? For users who have GPUs.

    make gpu-check                          # mnist 2 epochs, linreg 200 epochs, a 2-trial mnist sweep
    make gpu-check ARGS="--quick"           # 2 epochs on 3,000 images, 50 linreg epochs: seconds, also on a CPU

Runs the real `nnlab.train.runner.run` and `nnlab.sweeps.tuning.tune` in a temporary results directory and prints,
for each: the devices TensorFlow used, the strategy and replicas, the XLA setting, seconds per epoch (first and
steady) and the accuracy or loss reached. It also runs on a machine without a GPU (then it says so), which is how
it is tested; it claims nothing: the figures are what this machine did just now.
"""

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 epochs on 3,000 images; 50 linreg epochs")
    parser.add_argument("--out", help="keep the runs here instead of a temporary directory")
    args = parser.parse_args(argv)
    from nnlab.train import startup

    startup.import_tensorflow()
    import tensorflow as tf

    from nnlab.train import system_gpus

    mnist = {"epochs": 2, "limit_examples": 3000} if args.quick else {"epochs": 2}
    linreg = {"epochs": 50 if args.quick else 200, "learning_rate": 0.1}
    shown = system_gpus.listed()
    seen = tf.config.list_physical_devices("GPU")
    print(f"system GPUs: {len(shown)} {shown}")
    print(f"TensorFlow {tf.__version__} sees {len(seen)} GPU(s): {[device.name for device in seen]}")
    xla_flags = os.environ.get("TF_XLA_FLAGS")
    print(
        f"XLA: auto-clustering {tf.config.optimizer.get_jit() or 'off'}, TF_XLA_FLAGS={xla_flags!r}; nnlab's loop "
        "compiles a hand-written train_step (linreg) with XLA on one replica"
    )
    with tempfile.TemporaryDirectory(prefix="nnlab-gpu-check-") as scratch:
        results = Path(args.out or scratch)
        rows = [
            check_run("mnist", mnist, results),
            check_run("linreg", linreg, results),
            check_sweep("mnist", {**mnist, "max_trials": 2}, results),
        ]
    print()
    print(f"{'what':<14} {'device':<6} {'strategy':<28} {'replicas':>8} {'first s':>8} {'steady s':>8}  result")
    for row in rows:
        print(
            f"{row['what']:<14} {row['device']:<6} {row['strategy']:<28} {row['replicas']:>8} "
            f"{_seconds(row['first'])} {_seconds(row['steady'])}  {row['result']}"
        )
    if shown and not seen:
        print("nnlab: the system shows a GPU but TensorFlow sees none: install with `make install GPU=1`.")
        return 1
    return 0


def check_run(name, overrides, results):
    from nnlab.results import layout
    from nnlab.train import runner

    result = runner.run(name, overrides, results_dir=results, experiments_dir=EXPERIMENTS, verbose=0)
    environment = json.loads((result.run_dir / layout.ENVIRONMENT).read_text())
    with open(result.run_dir / layout.history()) as file:
        seconds = [float(row["seconds"]) for row in csv.DictReader(file)]
    metrics = result.metrics
    outcome = metrics.get("test") or metrics.get("final") or {}
    shown = {key: value for key, value in outcome.items() if "accuracy" in key or key == "loss"}
    return {
        "what": f"run {name}",
        "device": environment["devices"]["used"],
        "strategy": environment["strategy"],
        "replicas": environment["replicas"],
        "first": seconds[0] if seconds else None,
        "steady": sorted(seconds[1:])[len(seconds[1:]) // 2] if len(seconds) > 1 else None,
        "result": ", ".join(f"{key} {value:.4f}" for key, value in shown.items()),
    }


def check_sweep(name, overrides, results):
    from nnlab.sweeps import tuning

    started = time.perf_counter()
    result = tuning.tune(name, overrides, results_dir=results, experiments_dir=EXPERIMENTS, verbose=0)
    seconds = time.perf_counter() - started
    best = json.loads(Path(result.best_config).read_text())["objective"]
    return {
        "what": "sweep 2 trials",
        "device": "-",
        "strategy": "-",
        "replicas": "-",
        "first": seconds,
        "steady": None,
        "result": f"best trial {result.best_trial}: {best['name']} {best['value']:.4f} (whole sweep in 'first s')",
    }


def _seconds(value):
    return f"{value:8.3f}" if isinstance(value, (int, float)) else f"{'-':>8}"


if __name__ == "__main__":
    sys.exit(main())
