"""What `benchmarks/bench.py` writes: bench.csv (one row per measurement), bench_summary.csv, bench.png, the table.

Every file goes through nnlab.results.atomic, so an interrupted benchmark never leaves half a CSV.
"""

import csv
import io
import math
import statistics

from nnlab.results import atomic

MEASUREMENT_COLUMNS = [
    "benchmark",
    "side",
    "repeat",
    "order",
    "status",
    "seconds",
    "warm_seconds",
    "wall_seconds",
    "epoch_seconds",
    "first_epoch_overhead",
    "accuracy",
    "val_accuracy",
    "w",
    "b",
    "loss",
    "steps",
    "max_process_rss_mb",
    "peak_tree_rss_mb",
    "k",  # the grouped-sweep rows: sweep.json's vectorize record (k, how many groups, XLA); empty without one
    "groups",
    "xla",
    "device",
    "load_1min",
    "settings",
]
SUMMARY_COLUMNS = [
    "benchmark",
    "seed",
    "seed_median_s",
    "seed_min_s",
    "seed_max_s",
    "nnlab_median_s",
    "nnlab_min_s",
    "nnlab_max_s",
    "ratio",
    "target",
    "seed_quality",
    "nnlab_quality",
    "quality_ok",
    "passed",
    "repeats",
    "max_process_rss_mb",
    "peak_tree_rss_mb",
    "timing",
    "note",
]


def spread(values):
    """(median, min, max) of the finite values, or Nones when there are none."""
    values = [value for value in values if value is not None and math.isfinite(value)]
    if not values:
        return None, None, None
    return statistics.median(values), min(values), max(values)


def verdict(ratio, target, quality_ok):
    """pass, FAIL (what failed), or not measured; empty for a row without a target."""
    if target is None:
        return ""
    if ratio is None:
        return "not measured"
    failed = [name for name, bad in (("speed", ratio < target), ("result", quality_ok is False)) if bad]
    return f"FAIL ({', '.join(failed)})" if failed else "pass"


def write_csv(path, rows, columns):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(row.get(key)) for key in columns})
    atomic.write_text(path, buffer.getvalue())


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def table(summary):
    """The summary as a Markdown table, then the rules and problems, as printed at the end of a run."""
    lines = [
        "| benchmark | seed: median [min–max] s | nnlab: median [min–max] s | ratio | target | seed result "
        "| nnlab result | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for row in summary:
        ratio = f"{row['ratio']:.2f}×" if row.get("ratio") else "—"
        target = f"≥ {row['target']:g}×" if row.get("target") else ""
        verdict = row.get("passed") or ""
        if not row.get("target") and not row.get("seed_quality"):
            verdict = row.get("note") or ""  # the whole-process rows: their figures are in the note
        elif row.get("note") and row["note"] not in notes:
            notes.append(row["note"])
        lines.append(
            f"| {row['benchmark']} | {_seconds(row, 'seed')} | {_seconds(row, 'nnlab')} | {ratio} | {target} "
            f"| {row.get('seed_quality') or ''} | {row.get('nnlab_quality') or ''} | {verdict} |"
        )
    return "\n".join(lines + [f"- {note}" for note in notes])


def _seconds(row, side):
    median = row.get(f"{side}_median_s")
    if median is None:
        return "n/a"
    low, high = row.get(f"{side}_min_s"), row.get(f"{side}_max_s")
    text = _format(median)
    if row.get("repeats", 1) > 1 and low is not None:
        text += f" [{_format(low)}–{_format(high)}]"
    return text


def _format(seconds):
    return f"{seconds:.3g}" if seconds < 100 else f"{seconds:.0f}"


def plot(path, summary, title):
    """Bar chart of each row's ratio (seed median / nnlab median) on a log axis, its target marked."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    rows = [row for row in summary if row.get("ratio")]
    figure, axes = pyplot.subplots(figsize=(8, 0.55 * len(rows) + 1.6))
    for index, row in enumerate(rows):
        target = row.get("target")
        color = "tab:gray" if not target else ("tab:green" if row["passed"] == "pass" else "tab:red")
        axes.barh(index, row["ratio"], color=color)
        axes.text(row["ratio"], index, f" {row['ratio']:.2f}×", va="center", fontsize=8)
        if target:
            axes.plot([target, target], [index - 0.4, index + 0.4], color="black", linewidth=2)
    axes.set_yticks(range(len(rows)), [row["benchmark"] for row in rows], fontsize=8)
    axes.invert_yaxis()
    if rows:
        axes.set_xscale("log")
        axes.set_xlim(right=2.5 * max(max(row["ratio"], row.get("target") or 0) for row in rows))  # room for labels
    else:
        axes.text(0.5, 0.5, "no ratio measured", ha="center", va="center", transform=axes.transAxes)
    axes.axvline(1, color="gray", linestyle=":", linewidth=1)
    axes.set_xlabel("speed-up: baseline (seed_*) median seconds / nnlab median seconds (black tick: target)")
    axes.set_title(title, fontsize=9)
    figure.tight_layout()
    with atomic.replacing(path, suffix=".png") as tmp:
        figure.savefig(tmp, dpi=120)
    pyplot.close(figure)
