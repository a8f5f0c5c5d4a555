"""Grouped sweeps in `make bench ARGS="--sweeps"`: nnlab's 8-trial MNIST learning-rate sweep at vectorize=auto against
keras-tuner's own RandomSearch doing the same work and against vectorize=1, and the default `make tune EXP=mnist`.

    python benchmarks/sweep_vectorize.py               # 3 alternated repeats of the four sides (slow)
    python benchmarks/sweep_vectorize.py --repeats 1 --trials 2 --epochs 1 --limit-examples 3000 \\
        --default-args "max_trials=2 epochs=1 limit_examples=3000"       # a short try of the script itself

Each side is one fresh process (benchmarks/memory.py: wall time and peak memory) in a temporary results directory,
and each nnlab side has a sweep=<name> of its own, so no repeat resumes another. Repeat N (1, 2, ...) runs, with
S = seed + N - 1:

    keras-tuner     python benchmarks/keras_tuner_mnist.py --trials 8 --epochs 3 --limit-examples 20000 --seed S
    vectorize=auto  nnlab tune mnist width=128 max_trials=8 epochs=3 limit_examples=20000 seed=S vectorize=auto
                    sweep=bench-auto-rN
    vectorize=1     the same with vectorize=1 sweep=bench-v1-rN
    default         nnlab tune mnist sweep=bench-default-rN            (`make tune EXP=mnist`, named)

in that order, reversed every other repeat. One repeat's vectorize=1 and auto sweeps share S, so they train the same
trials (data holdout, learning rates drawn, initial weights); the seeds 0, 1, 2 of three repeats give the median
accuracy over seeds that judges MNIST. Timed: the search (keras-tuner: the wall time of tuner.search; nnlab:
sweep.json `seconds`, the time around its own tuner.search) and the whole command, process start to exit. The
grouping (k, the group count, XLA) comes from each nnlab sweep's sweep.json `vectorize` record ("-" without one).
Every nnlab side compiles its group program afresh (NNLAB_XLA_CACHE=0), as the first sweep on a machine does:
keras-tuner keeps no compiled programs between runs, and a warm cache in repeats 2 and 3 would flatter the median.
Kept under <out>/sweeps/: each nnlab sweep's sweep.json, trials.csv and best_config.json, each keras-tuner result.
"""

import argparse
import dataclasses
import json
import math
import shlex
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import memory  # noqa: E402
import sweep_record  # noqa: E402
from bench_output import spread, verdict  # noqa: E402

from nnlab.results import atomic, layout  # noqa: E402

KERAS_TUNER_SCRIPT = Path(__file__).resolve().parent / "keras_tuner_mnist.py"
SIDES = ("keras-tuner", "vectorize=auto", "vectorize=1", "default")
BASELINE_NAMES = {
    "keras-tuner": "keras-tuner RandomSearch (benchmarks/keras_tuner_mnist.py)",
    "vectorize=1": "nnlab vectorize=1",
}
SWEEP_NAMES = {"vectorize=auto": "bench-auto", "vectorize=1": "bench-v1", "default": "bench-default"}
GROUPED = "sweep_vectorize"  # the benchmark name of the 8-trial sides' rows
DEFAULT = "sweep_default"
SPEED_TARGETS = {"keras-tuner": 5.0, "vectorize=1": 1.0}  # auto's search this many times faster (issue 20)
BEST_WITHIN = 0.01  # best val_accuracy: auto against keras-tuner, and auto against vectorize=1
TRIAL_WITHIN = 0.02  # each trial's best val_accuracy, auto against vectorize=1
FLOAT32_SLACK = 1e-6  # accuracies are float32: 3 examples in 300 apart can read 0.0100000x, which is "at most 0.01"


@dataclasses.dataclass(frozen=True)
class Work:
    """What the sides do: the 8-trial sweep's size, and any overrides of the default sweep (none: the default)."""

    trials: int = 8
    epochs: int = 3
    limit_examples: int = 20_000
    default_args: tuple = ()

    def fields(self, seed):
        """The 8-trial sweep's overrides (width pinned, so only the learning rate is swept)."""
        sizes = [f"max_trials={self.trials}", f"epochs={self.epochs}", f"limit_examples={self.limit_examples}"]
        return ["width=128", *sizes, f"seed={seed}"]


@dataclasses.dataclass(frozen=True)
class Check:
    text: str
    met: object  # True, False, or None: not measured
    detail: str

    def line(self):
        verdict = {True: "met", False: "NOT MET", None: "not measured"}[self.met]
        return f"{self.text}: {verdict}" + (f" ({self.detail})" if self.detail else "")


def measure(work=Work(), repeats=3, seed=0, out=None, sides=SIDES, echo=None):
    """Every side `repeats` times, alternating; one row per run (echo(row) as each ends)."""
    rows = []
    for repeat in range(repeats):
        order = sides if repeat % 2 == 0 else tuple(reversed(sides))
        for position, side in enumerate(order):
            row = run_side(side, work, seed + repeat, repeat, out)
            row.update(repeat=repeat, order=position, sweep_trials=work.trials)
            rows.append(row)
            if echo is not None:
                echo(row)
    return rows


def run_side(side, work, seed, repeat, out=None):
    """One run of one side; its row says why when it could not run."""
    if side == "keras-tuner":
        return _keras_tuner(work, seed, repeat, out)
    name = f"{SWEEP_NAMES[side]}-r{repeat + 1}"
    if side == "default":
        return _nnlab(DEFAULT, side, [*work.default_args, f"sweep={name}"], name, out)
    return _nnlab(GROUPED, side, [*work.fields(seed), side, f"sweep={name}"], name, out)


COLD = {"NNLAB_XLA_CACHE": "0"}  # no compiled program from an earlier repeat (nnlab.train.vectorized.compile_cache)


def _nnlab(benchmark, side, overrides, name, out):
    arguments = ["tune", "mnist", *overrides]
    with tempfile.TemporaryDirectory(prefix="nnlab-bench-sweep-") as results:
        measured = memory.run_nnlab(results, arguments, env=COLD)
        sweep_dir = Path(results) / "mnist" / layout.SWEEPS / name
        row = _row(benchmark, side, measured, "nnlab tune mnist " + shlex.join(overrides))
        try:
            figures = outcome(sweep_dir)
        except (OSError, ValueError) as error:
            if row["status"] == "ok":
                row["status"] = f"no sweep record: {error}"
            return row
        unfinished = figures.pop("status", None)
        row.update(figures)
        if unfinished and row["status"] == "ok":
            row["status"] = unfinished
        if out is not None:
            sweep_record.keep(sweep_dir, Path(out) / "sweeps" / name)
    return row


def outcome(sweep_dir):
    """A measurement row's figures from one finished nnlab sweep directory."""
    sweep = sweep_record.read(sweep_dir)
    grouping = sweep.grouping
    figures = {
        "seconds": sweep.seconds,
        "val_accuracy": sweep.best,
        "k": grouping.k,
        "groups": grouping.groups,
        "xla": grouping.xla,
        "grouping": grouping.text(),
        "direction": sweep.direction,
        "trials": [
            {"trial_id": row["trial_id"], "learning_rate": row.get("learning_rate"), "best": row["best_objective"]}
            for row in sweep.trials
        ],
    }
    if sweep.status != "done":
        figures["status"] = f"sweep.json status {sweep.status!r}"
    return figures


def _keras_tuner(work, seed, repeat, out):
    arguments = [f"--trials={work.trials}", f"--epochs={work.epochs}", f"--limit-examples={work.limit_examples}"]
    arguments.append(f"--seed={seed}")
    with tempfile.TemporaryDirectory(prefix="nnlab-bench-keras-tuner-") as scratch:
        result_path = Path(scratch) / "result.json"
        command = [sys.executable, str(KERAS_TUNER_SCRIPT), *arguments, f"--output={result_path}"]
        measured = memory.run_measured(command, env=memory.script_env())
        row = _row(GROUPED, "keras-tuner", measured, "python benchmarks/keras_tuner_mnist.py " + shlex.join(arguments))
        try:
            result = json.loads(result_path.read_text())
        except (OSError, ValueError) as error:
            if row["status"] == "ok":
                row["status"] = f"no result: {error}"
            return row
    if out is not None:
        atomic.write_json(Path(out) / "sweeps" / f"keras-tuner-r{repeat + 1}.json", result)
    row.update(
        seconds=result["search_seconds"],
        val_accuracy=result["best_val_accuracy"],
        direction="max",
        trials=[
            {"trial_id": trial["trial_id"], "learning_rate": trial["learning_rate"], "best": trial["val_accuracy"]}
            for trial in result["trials"]
        ],
    )
    return row


def _row(benchmark, side, measured, command):
    row = {
        "benchmark": benchmark,
        "side": side,
        "wall_seconds": measured["seconds"],
        "max_process_rss_mb": measured["max_process_rss_mb"],
        "peak_tree_rss_mb": measured["peak_tree_rss_mb"],
        "settings": command,
        "status": "ok",
    }
    if measured["returncode"] != 0:
        row["status"] = f"failed (exit {measured['returncode']}): {_last_message(measured['output_tail'])}"
    return row


def _last_message(output):
    """The process's own last word: its last `nnlab:` or `keras_tuner_mnist:` line, else its last line."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()] or ["no output"]
    own = [line for line in lines if line.startswith(("nnlab:", "keras_tuner_mnist:"))]
    last = (own or lines)[-1]
    sentence = last.find(". ")  # an nnlab error paragraph: its first sentence says what; the rest, the fix
    return last[: sentence + 1] if 0 < sentence < 300 else last[:300]


def checks(rows):
    """The issue's conditions on the 8-trial sweep, per baseline side measured: {baseline: [speed, *quality]}."""
    ok = _ok_by_side(rows)
    auto = ok["vectorize=auto"]
    found = {}
    if _measured(rows, "keras-tuner"):
        within = _within_check(
            f"best val_accuracy within {BEST_WITHIN} of keras-tuner's (medians over repeats)",
            _median(ok["keras-tuner"], "val_accuracy"),
            _median(auto, "val_accuracy"),
            BEST_WITHIN,
        )
        found["keras-tuner"] = [_speed_check("keras-tuner", ok["keras-tuner"], auto), within]
    if _measured(rows, "vectorize=1"):
        pairs = _pairs(ok["vectorize=1"], auto)
        found["vectorize=1"] = [_speed_check("vectorize=1", ok["vectorize=1"], auto), *trial_checks(pairs)]
    return found


def trial_checks(pairs):
    """Per repeat, vectorize=1 against auto (a list of (one row, auto row) of equal seed): the three conditions."""
    same, best, each = [], [], []
    for one, auto in pairs:
        rates = lambda row: [(trial["trial_id"], trial["learning_rate"]) for trial in row["trials"]]
        same.append(rates(one) == rates(auto) and bool(rates(one)))
        best.append(_difference(_best(one), _best(auto)))
        by_id = {trial["trial_id"]: trial["best"] for trial in auto["trials"]}
        each += [_difference(trial["best"], by_id.get(trial["trial_id"])) for trial in one["trials"]]
    count = f"{len(pairs)} repeat{'s' if len(pairs) != 1 else ''}"
    return [
        Check(
            "trial i gets the same learning_rate in both",
            all(same) if pairs else None,
            f"{sum(same)} of {count}" if pairs else "",
        ),
        _largest_check(f"the best trial's best val_accuracy differs by at most {BEST_WITHIN}", best, BEST_WITHIN),
        _largest_check(f"each trial's best val_accuracy differs by at most {TRIAL_WITHIN}", each, TRIAL_WITHIN),
    ]


def summary(rows):
    """bench_summary.csv rows: auto against keras-tuner and against vectorize=1 (search, whole command), and the
    default sweep alone."""
    ok = _ok_by_side(rows)
    lines = []
    for baseline, found in checks(rows).items():
        quality = [check.met for check in found[1:]]
        quality_ok = None if None in quality else all(quality)
        problems = _problems(rows, (baseline, "vectorize=auto"))
        note = "; ".join(problems + [check.line() for check in found] + [_commands(rows, (baseline, "vectorize=auto"))])
        trials = _trial_count(rows)
        for key, what, target, said in (
            ("seconds", "search", SPEED_TARGETS[baseline], note),
            ("wall_seconds", "whole command", None, ""),  # its conditions and commands: in the search row's note
        ):
            label = f"{trials}-trial sweep {what}: {baseline} -> auto"
            lines.append(
                _comparison(label, baseline, ok[baseline], ok["vectorize=auto"], key, target, quality_ok, said)
            )
    if _measured(rows, "default"):
        lines.append(_default_line(rows, ok["default"]))
    return lines


def _comparison(label, baseline_side, baseline, auto, key, target, quality_ok, note):
    before, after = spread([row.get(key) for row in baseline]), spread([row.get(key) for row in auto])
    ratio = before[0] / after[0] if before[0] is not None and after[0] else None
    return {
        "benchmark": label,
        "seed": f"seed_* columns: {BASELINE_NAMES[baseline_side]}; nnlab_* columns: nnlab vectorize=auto",
        **dict(zip(("seed_median_s", "seed_min_s", "seed_max_s"), before, strict=True)),
        **dict(zip(("nnlab_median_s", "nnlab_min_s", "nnlab_max_s"), after, strict=True)),
        "ratio": ratio,
        "target": target,
        "seed_quality": _quality(baseline),
        "nnlab_quality": _quality(auto),
        "quality_ok": quality_ok,
        "passed": verdict(ratio, target, quality_ok),
        "repeats": min(len(baseline), len(auto)),
        "max_process_rss_mb": spread([row.get("max_process_rss_mb") for row in auto])[0],
        "peak_tree_rss_mb": spread([row.get("peak_tree_rss_mb") for row in auto])[0],
        "timing": _timing(baseline_side, key),
        "note": note,
    }


def _default_line(rows, default):
    seconds, whole = (
        spread([row.get("seconds") for row in default]),
        spread([row.get("wall_seconds") for row in default]),
    )
    note = [*_problems(rows, ("default",)), _commands(rows, ("default",))]
    if whole[0] is not None:
        note.append(f"whole command {whole[0]:.1f} s [{whole[1]:.1f}–{whole[2]:.1f}]")
    return {
        "benchmark": "default mnist sweep (make tune EXP=mnist)",
        "seed": "nnlab alone: no baseline",
        **dict(zip(("nnlab_median_s", "nnlab_min_s", "nnlab_max_s"), seconds, strict=True)),
        "nnlab_quality": _quality(default),
        "repeats": len(default),
        "max_process_rss_mb": spread([row.get("max_process_rss_mb") for row in default])[0],
        "peak_tree_rss_mb": spread([row.get("peak_tree_rss_mb") for row in default])[0],
        "timing": "sweep.json seconds (the time around its tuner.search); the whole command in the note",
        "note": "; ".join(note),
    }


def _commands(rows, sides):
    """The sides' commands in repeat 1, and how later repeats differ."""
    first = [
        row.get("settings") or side for side in sides for row in rows if row["side"] == side and row["repeat"] == 0
    ]
    later = "sweep=...-rN" + (", seed + N - 1" if set(sides) - {"default"} else "")
    return f"commands (repeat 1; repeat N: {later}): {' | '.join(first)}"


def _timing(baseline, key):
    if key == "wall_seconds":
        return "whole command, process start to exit: interpreter, imports, data, the search, nnlab's tables and plots"
    if baseline == "keras-tuner":
        return "search: keras-tuner's tuner.search wall time; nnlab's sweep.json seconds (the time around its search)"
    return "search: sweep.json seconds of each (the time around nnlab's tuner.search)"


def _speed_check(baseline, before, auto):
    target = SPEED_TARGETS[baseline]
    text = f"search at auto {'no slower than' if target == 1 else f'at least {target:g}x faster than'} {baseline}"
    first, second = _median(before, "seconds"), _median(auto, "seconds")
    if math.isnan(first) or math.isnan(second) or not second:
        return Check(text, None, "")
    ratio = first / second
    return Check(text, ratio >= target, f"{ratio:.2f}x: {first:.1f} s vs {second:.1f} s, medians")


def _within_check(text, first, second, limit):
    if math.isnan(first) or math.isnan(second):
        return Check(text, None, "")
    higher = "auto higher" if second > first else "auto lower" if second < first else "equal"
    detail = f"{first:.4f} vs auto {second:.4f}: {higher} by {abs(first - second):.4f}"
    return Check(text, abs(first - second) <= limit + FLOAT32_SLACK, detail)


def _largest_check(text, differences, limit):
    if not differences:
        return Check(text, None, "")
    largest = max(differences)
    return Check(text, largest <= limit + FLOAT32_SLACK, f"largest difference {largest:.4f}")


def _pairs(ones, autos):
    by_repeat = {row["repeat"]: row for row in autos}
    return [(row, by_repeat[row["repeat"]]) for row in ones if row["repeat"] in by_repeat]


def _best(row):
    value = row.get("val_accuracy")
    return math.nan if value is None else float(value)


def _difference(first, second):
    """|first - second|; infinite when either is missing or not a number (a failed trial never matches)."""
    try:
        difference = abs(float(first) - float(second))
    except (TypeError, ValueError):
        return math.inf
    return difference if math.isfinite(difference) else math.inf


def _trial_count(rows):
    """The 8-trial sweep's size as measured (max_trials given, else the trials found in its files)."""
    grouped = [row for row in rows if row["side"] != "default"]
    return max((row.get("sweep_trials") or len(row.get("trials") or ()) for row in grouped), default=0)


def _measured(rows, side):
    return any(row["side"] == side for row in rows)


def _ok_by_side(rows):
    return {side: [row for row in rows if row["side"] == side and row["status"] == "ok"] for side in SIDES}


def _problems(rows, sides):
    """'vectorize=1 repeats 1, 2: <status>' for each side and status that was not ok."""
    repeats = {}
    for row in rows:
        if row["side"] in sides and row["status"] != "ok":
            repeats.setdefault((row["side"], row["status"]), []).append(str(row["repeat"] + 1))
    return [
        f"{side} repeat{'s' if len(numbers) > 1 else ''} {', '.join(numbers)}: {status}"
        for (side, status), numbers in repeats.items()
    ]


def _median(rows, key):
    values = [float(row[key]) for row in rows if row.get(key) is not None and math.isfinite(float(row[key]))]
    return statistics.median(values) if values else math.nan


def _quality(rows):
    """'best val_accuracy 0.9560 [0.9550–0.9570]; k 8, 1 group, XLA on' over the rows of one side."""
    if not rows:
        return ""
    median, low, high = spread([row.get("val_accuracy") for row in rows])
    text = "best val_accuracy -" if median is None else f"best val_accuracy {median:.4f}"
    if median is not None and len(rows) > 1:
        text += f" [{low:.4f}–{high:.4f}]"
    groupings = list(dict.fromkeys(row["grouping"] for row in rows if row.get("grouping")))
    return text + (f"; {' / '.join(groupings)}" if groupings else "")


def report(rows):
    """The conditions, met or not, and each nnlab side's grouping: the lines printed after the table."""
    lines = [f"{baseline} -> auto: {check.line()}" for baseline, found in checks(rows).items() for check in found]
    for side in ("vectorize=auto", "vectorize=1", "default"):
        for row in (row for row in rows if row["side"] == side):
            grouping = row.get("grouping") or "no sweep record"
            lines.append(f"{side} repeat {row['repeat'] + 1}: {grouping}")
    return lines + [_commands(rows, [side for side in SIDES if _measured(rows, side)])]


def brief(row):
    """One line per measured side, as the bench prints it."""
    if row["status"] != "ok":
        return row["status"]
    text = f"search {row['seconds']:.1f} s, whole command {row['wall_seconds']:.1f} s, best {_best(row):.4f}"
    return text + (f"; {row['grouping']}" if row.get("grouping") else "")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0, help="seed of repeat 1; repeat N uses seed + N - 1")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit-examples", type=int, default=20_000)
    parser.add_argument("--default-args", default="", help="overrides for the default sweep (default: none)")
    parser.add_argument("--sides", default=",".join(SIDES), help="comma-separated: " + ",".join(SIDES))
    parser.add_argument("--out", default="results/bench", help="where the sweeps' records are kept")
    args = parser.parse_args(argv)
    sides = tuple(side for side in SIDES if side in args.sides.split(","))
    work = Work(args.trials, args.epochs, args.limit_examples, tuple(shlex.split(args.default_args)))
    echo = lambda row: print(f"  {row['side']:15} repeat {row['repeat'] + 1}: {brief(row)}", flush=True)
    rows = measure(work, args.repeats, args.seed, args.out, sides, echo)
    print("\n".join(report(rows)))
    return rows


if __name__ == "__main__":
    main()
