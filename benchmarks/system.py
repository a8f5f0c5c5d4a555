"""Whole-process figures, each a fresh `python -m nnlab.cli ...` measured by benchmarks/memory.py:

- run memory:    peak memory of `nnlab run mnist` (the bench's MNIST settings, one epoch);
- sweep speed-up: the same small MNIST sweep with a chief + 1 worker, then a chief + 2 workers;
- sweep memory:  a 20-trial MNIST sweep in one process (workers=0), where anything a trial leaks piles up.

Seconds here are whole commands (interpreter start, TensorFlow import, data, every trial), not training alone.
"""

import importlib.util
import tempfile

import memory


def tuning_missing():
    """Why sweeps cannot be measured (nnlab.sweeps.tuning absent), or None."""
    if importlib.util.find_spec("nnlab.sweeps.tuning") is None:
        return "not available: nnlab.sweeps.tuning is missing"
    return None


def run_memory(limit_examples, seed):
    fields = ["epochs=1", f"limit_examples={limit_examples}", f"seed={seed}"]
    return [_measure("memory_run", "nnlab run mnist", ["run", "mnist", *fields])]


def sweep_speedup(trials, epochs, limit_examples, seed, worker_counts=(1, 2)):
    """One sweep per worker count, each from scratch in its own results directory."""
    fields = [f"max_trials={trials}", f"epochs={epochs}", f"limit_examples={limit_examples}", f"seed={seed}"]
    return [
        _measure("sweep", f"workers={workers}", ["tune", "mnist", *fields, "--workers", str(workers)])
        for workers in worker_counts
    ]


def sweep_memory(trials, epochs, limit_examples, seed):
    fields = [f"max_trials={trials}", f"epochs={epochs}", f"limit_examples={limit_examples}", f"seed={seed}"]
    return [_measure("memory_sweep", f"{trials} trials, workers=0", ["tune", "mnist", *fields])]


def _measure(benchmark, side, arguments):
    with tempfile.TemporaryDirectory(prefix="nnlab-bench-system-") as results:
        measured = memory.run_nnlab(results, arguments)
    row = {
        "benchmark": benchmark,
        "side": side,
        "seconds": measured["seconds"],
        "max_process_rss_mb": measured["max_process_rss_mb"],
        "peak_tree_rss_mb": measured["peak_tree_rss_mb"],
        "settings": " ".join(arguments),
        "status": "ok",
    }
    if measured["returncode"] != 0:
        last = (measured["output_tail"].strip().splitlines() or ["no output"])[-1]
        row["status"] = f"failed (exit {measured['returncode']}): {last}"
    return row
