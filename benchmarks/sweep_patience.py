"""What early stopping buys a sweep: the same MNIST sweep without and with `patience`, wall time and best objective.

    python benchmarks/sweep_patience.py                       # 6 trials x 8 epochs on 3,000 images, patience 1
    python benchmarks/sweep_patience.py --trials 4 --patience 2
    make bench ARGS="--sweeps"                                 # adds the same two rows to the bench

Each sweep is one fresh `nnlab tune mnist` process in its own results directory, with the same seed, so both
sample the same trials (random search draws values from the sweep seed alone). Seconds are the whole command
(start-up, data, every trial).
"""

import argparse
import math
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import memory  # noqa: E402
import sweep_record  # noqa: E402

from nnlab.results import layout  # noqa: E402


def measure(trials=6, epochs=8, limit_examples=3000, patience=1, seed=0):
    """Two rows (patience 0, then `patience`): seconds, best objective, epochs trained in all, status."""
    rows = []
    for value in (0, patience):
        fields = [
            f"max_trials={trials}",
            f"epochs={epochs}",
            f"limit_examples={limit_examples}",
            f"seed={seed}",
            f"patience={value}",
            "sweep=patience-bench",
        ]
        with tempfile.TemporaryDirectory(prefix="nnlab-bench-patience-") as results:
            measured = memory.run_nnlab(results, ["tune", "mnist", *fields])
            row = {"benchmark": "sweep_patience", "side": f"patience={value}", "seconds": measured["seconds"]}
            row["max_process_rss_mb"] = measured["max_process_rss_mb"]
            row.update(_outcome(Path(results) / "mnist" / layout.SWEEPS / "patience-bench"))
        row["settings"] = " ".join(fields)
        row["status"] = "ok" if measured["returncode"] == 0 else f"failed (exit {measured['returncode']})"
        rows.append(row)
    return rows


def summary(rows):
    """One bench summary row: wall time without patience (seed_ columns) vs with it (nnlab_ columns)."""
    ok = {row["side"]: row for row in rows if row["status"] == "ok"}
    without, with_patience = ok.get("patience=0"), next((r for s, r in ok.items() if s != "patience=0"), None)
    line = {
        "benchmark": "sweep without -> with patience",
        "seed": "seed_* columns: patience=0; nnlab_* columns: " + (with_patience or {}).get("side", "patience"),
        "timing": "whole `nnlab tune` command",
        "note": "; ".join(row["status"] for row in rows if row["status"] != "ok"),
    }
    if not rows:
        return []
    if without and with_patience:
        line.update(
            seed_median_s=without["seconds"],
            nnlab_median_s=with_patience["seconds"],
            ratio=without["seconds"] / with_patience["seconds"],
        )
        line["note"] = (
            f"best {without['objective']} {without['best']:.4f} vs {with_patience['best']:.4f}; epochs trained "
            f"{without['epochs_trained']} vs {with_patience['epochs_trained']} ({without['settings']})"
        )
    return [line]


def _outcome(sweep_dir):
    """The best objective and the epochs every trial trained, from the sweep's own files."""
    try:
        sweep = sweep_record.read(sweep_dir)
        epochs = sum(int(row["epochs_run"]) for row in sweep.trials)
    except (OSError, ValueError, KeyError, TypeError):
        return {"objective": "", "best": math.nan, "epochs_trained": 0}
    return {"objective": sweep.objective, "best": sweep.best, "epochs_trained": epochs}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--limit-examples", type=int, default=3000)
    parser.add_argument("--patience", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rows = measure(args.trials, args.epochs, args.limit_examples, args.patience, args.seed)
    for row in rows:
        print(
            f"{row['side']:12} {row['seconds']:7.1f} s  best {row['objective']} {row['best']:.4f}  "
            f"epochs trained {row['epochs_trained']}  {row['status']}"
        )
    print(summary(rows)[0]["note"])


if __name__ == "__main__":
    main()
