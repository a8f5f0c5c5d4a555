"""`make bench`: nnlab against the seed programs written plainly, on this machine, in one invocation.

    make bench                                   # 3 repeats of MNIST, line fit, regression
    make bench ARGS="--quick"                    # 1 repeat, 1 MNIST epoch on 3,000 images, 300 regression steps
    make bench ARGS="--repeats 5 --only mnist"   # any subset: mnist, linefit, linreg
    make bench ARGS="--sweeps"                   # also the sweep rows (slow): 1 vs 2 workers, peak memory, patience,
                                                 # grouped sweeps against keras-tuner and vectorize=1, the default sweep
    make bench ARGS="--only '' --sweeps --sweep-rows vectorize,default"   # only the grouped-sweep rows

Each repetition runs the seed and nnlab back to back, the first of the two alternating between repetitions, in
this one process (a tiny untimed fit warms TensorFlow up first); the PyTorch seed runs in its own interpreter.
Reported: median [min–max] seconds per side, ratio = seed median / nnlab median, pass/fail against the targets,
and each side's result (accuracy, or w, b and MSE) so that speed never hides a worse fit. What the seconds cover is
in each row's `timing` column: for the comparisons with a target, nnlab's own training loop (metrics.json
train_seconds, or for the line fit the compiled loop after compilation) against the seed's training loop.
Writes results/bench/bench.csv, bench_summary.csv and bench.png (or --out); the grouped-sweep rows
(benchmarks/sweep_vectorize.py) also keep each sweep's sweep.json, trials.csv and best_config.json under sweeps/.
"""

import argparse
import dataclasses
import os
import shlex
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import bench_output  # noqa: E402
import cases  # noqa: E402
import sweep_patience  # noqa: E402
import sweep_vectorize  # noqa: E402
import system  # noqa: E402

SWEEP_ROWS = ("workers", "memory", "patience", "vectorize", "default")


@dataclasses.dataclass(frozen=True)
class Settings:
    repeats: int = 3
    seed: int = 0
    mnist_epochs: int = 5
    mnist_limit: int = 0
    linefit_epochs: int = 8
    linreg_steps: int = 5_000
    torch_threads: int = 0  # 0: torch's default (one per core)
    sweeps: bool = False
    sweep_trials: int = 4
    sweep_epochs: int = 1
    sweep_limit: int = 5_000
    memory_trials: int = 20
    sweep_rows: tuple = SWEEP_ROWS
    group_trials: int = 8  # the grouped-sweep rows: keras-tuner, vectorize=auto and vectorize=1 sides
    group_epochs: int = 3
    group_limit: int = 20_000
    default_sweep: str = ""  # overrides of the default-sweep row beyond sweep= (empty: `make tune EXP=mnist`)


QUICK = {
    "repeats": 1,
    "mnist_epochs": 1,
    "mnist_limit": 3_000,
    "linreg_steps": 300,
    "sweep_trials": 2,
    "group_trials": 2,
    "group_epochs": 1,
    "group_limit": 3_000,
    "default_sweep": "max_trials=2 epochs=1 limit_examples=3000",
}


def main(argv=None):
    args = parse(argv)
    settings = Settings(**{key: value for key, value in vars(args).items() if key in Settings.__dataclass_fields__})
    out = Path(args.out)
    chosen = [case for case in cases.all_cases(settings) if case.name in args.only]
    print(f"nnlab bench: {', '.join(case.name for case in chosen)}; {settings}", flush=True)
    print(f"machine: {os.cpu_count()} CPUs, load average {_load():.2f} at the start; {cases.device_note()}")
    cases.warm_up()
    measurements = []
    for repeat in range(settings.repeats):
        for case in chosen:
            sides = ("seed", "nnlab") if repeat % 2 == 0 else ("nnlab", "seed")
            for order, side in enumerate(sides):
                row = measure(case, side, settings.seed + repeat)
                row.update(repeat=repeat, order=order)
                measurements.append(row)
                print(f"  {case.name:8} {side:5} repeat {repeat}: {_brief(row)}", flush=True)
                bench_output.write_csv(out / "bench.csv", measurements, bench_output.MEASUREMENT_COLUMNS)
    summary = [line for case in chosen for line in case.summarize(measurements)]
    if settings.sweeps:
        measurements, summary = _system(settings, measurements, summary, out)
    else:
        print("sweep rows not measured (add --sweeps; they take many minutes)")
    bench_output.write_csv(out / "bench.csv", measurements, bench_output.MEASUREMENT_COLUMNS)
    bench_output.write_csv(out / "bench_summary.csv", summary, bench_output.SUMMARY_COLUMNS)
    title = f"nnlab vs seed programs, {os.cpu_count()} CPUs, load average {_load():.1f} (shared machine)"
    bench_output.plot(out / "bench.png", summary, title)
    print(bench_output.table(summary))
    print(_overhead_line(summary))
    grouped = [row for row in measurements if row["benchmark"] in (sweep_vectorize.GROUPED, sweep_vectorize.DEFAULT)]
    if grouped:
        print("\n".join(sweep_vectorize.report(grouped)))
    print(f"load average {_load():.2f} at the end; written to {out}/bench.csv, bench_summary.csv, bench.png")
    return summary


def _overhead_line(summary):
    """nnlab's first-epoch overhead as a fraction of its steady epoch, against the target of one half."""
    rows = {row["benchmark"]: row for row in summary}
    overhead = rows.get("mnist first-epoch overhead", {}).get("nnlab_median_s")
    steady = next((row["nnlab_median_s"] for name, row in rows.items() if name.startswith("mnist epoch")), None)
    if overhead is None or not steady:
        return "mnist first-epoch overhead: not measured (needs at least 2 epochs)"
    fraction = overhead / steady
    verdict = "pass" if fraction <= 0.5 else "FAIL"
    return (
        f"mnist first-epoch overhead: nnlab {overhead:.2f} s = {fraction:.2f} of a steady epoch ({steady:.2f} s); "
        f"target <= 0.5: {verdict}"
    )


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 repeat on small settings: " + str(QUICK))
    parser.add_argument("--repeats", type=int, help="seed/nnlab pairs per benchmark (default 3)")
    parser.add_argument("--only", default=",".join(cases.NAMES), help="comma-separated: " + ",".join(cases.NAMES))
    parser.add_argument("--out", default="results/bench", help="output directory (default results/bench)")
    parser.add_argument("--seed", type=int, help="seed of the first repeat; repeat i uses seed + i (default 0)")
    parser.add_argument("--mnist-epochs", type=int, dest="mnist_epochs")
    parser.add_argument("--mnist-limit", type=int, dest="mnist_limit", help="first N examples per split (0: all)")
    parser.add_argument("--linefit-epochs", type=int, dest="linefit_epochs")
    parser.add_argument("--linreg-steps", type=int, dest="linreg_steps")
    parser.add_argument(
        "--torch-threads", type=int, dest="torch_threads", help="threads for the PyTorch seed (default: torch's)"
    )
    parser.add_argument("--sweeps", action="store_true", help="also the sweep rows of --sweep-rows (slow)")
    parser.add_argument(
        "--sweep-rows",
        dest="sweep_rows",
        help=f"with --sweeps, comma-separated: {','.join(SWEEP_ROWS)} (default all): 1 vs 2 workers; peak memory; "
        "without vs with patience; the 8-trial sweep at vectorize=auto against keras-tuner's RandomSearch and "
        "against vectorize=1; the default mnist sweep",
    )
    parser.add_argument("--group-trials", type=int, dest="group_trials", help="trials of the grouped-sweep rows (8)")
    parser.add_argument("--group-epochs", type=int, dest="group_epochs", help="epochs of the grouped-sweep rows (3)")
    parser.add_argument(
        "--group-limit", type=int, dest="group_limit", help="limit_examples of the grouped-sweep rows (20000)"
    )
    parser.add_argument(
        "--default-sweep",
        dest="default_sweep",
        help="overrides for the default-sweep row, e.g. 'max_trials=2 epochs=1' (default: none, the real default)",
    )
    args = parser.parse_args(argv)
    defaults = {**dataclasses.asdict(Settings()), **(QUICK if args.quick else {})}
    for key, value in defaults.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(args.only) - set(cases.NAMES))
    if unknown:
        parser.error(f"--only: unknown benchmark {', '.join(unknown)}; choose from {', '.join(cases.NAMES)}")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if isinstance(args.sweep_rows, str):
        args.sweep_rows = tuple(name.strip() for name in args.sweep_rows.split(",") if name.strip())
    unknown = sorted(set(args.sweep_rows) - set(SWEEP_ROWS))
    if unknown:
        parser.error(f"--sweep-rows: unknown row {', '.join(unknown)}; choose from {', '.join(SWEEP_ROWS)}")
    return args


def measure(case, side, seed):
    """One run of one side; a side that cannot run gives a row whose status says why instead of stopping."""
    row = {"benchmark": case.name, "side": side, "load_1min": _load(), "device": cases.DEVICE}
    try:
        row.update(case.run(side, seed))
        row["status"] = "ok"
    except Exception as error:  # the benchmark reports a missing or broken side instead of dying halfway
        row["status"] = f"not available: {type(error).__name__}: {str(error).strip().splitlines()[0][:300]}"
    return row


def _system(settings, measurements, summary, out):
    """The --sweeps rows chosen by --sweep-rows, each in fresh processes; their measurements and summary rows."""
    chosen = settings.sweep_rows
    missing = system.tuning_missing()
    rows = system.run_memory(settings.mnist_limit, settings.seed) if "memory" in chosen else []
    patience, grouped = [], []
    if missing:
        print(f"sweeps {missing}")
        rows.append({"benchmark": "sweep", "side": "sweeps", "status": missing})
    else:
        print(f"measuring the sweep rows {', '.join(chosen)} (fresh processes) ...", flush=True)
        if "workers" in chosen:
            rows += system.sweep_speedup(
                settings.sweep_trials, settings.sweep_epochs, settings.sweep_limit, settings.seed
            )
        if "memory" in chosen:
            rows += system.sweep_memory(settings.memory_trials, 1, 2_000, settings.seed)
        if "patience" in chosen:
            patience = sweep_patience.measure(seed=settings.seed)  # the same sweep without and with patience
    for row in rows + patience:
        print(f"  {row['benchmark']:12} {row['side']:22} {_brief(row)}", flush=True)
    sides = [side for side in sweep_vectorize.SIDES if _grouped_row(side) in chosen]
    if sides and not missing:
        work = sweep_vectorize.Work(
            settings.group_trials,
            settings.group_epochs,
            settings.group_limit,
            tuple(shlex.split(settings.default_sweep)),
        )
        echo = lambda row: print(f"  {row['benchmark']:15} {row['side']:15} {sweep_vectorize.brief(row)}", flush=True)
        grouped = sweep_vectorize.measure(work, settings.repeats, settings.seed, out, sides, echo)
    summary += cases.system_summary(rows) + sweep_patience.summary(patience) + sweep_vectorize.summary(grouped)
    return measurements + rows + patience + grouped, summary


def _grouped_row(side):
    """Which --sweep-rows name a side of benchmarks/sweep_vectorize.py belongs to."""
    return "default" if side == "default" else "vectorize"


def _brief(row):
    if row.get("status") != "ok":
        return row.get("status", "")
    shown = ("seconds", "warm_seconds", "accuracy", "w", "b", "loss", "max_process_rss_mb", "peak_tree_rss_mb")
    return ", ".join(f"{key} {row[key]:.4g}" for key in shown if isinstance(row.get(key), float))


def _load():
    return os.getloadavg()[0]


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"bench took {time.perf_counter() - started:.0f} s")
