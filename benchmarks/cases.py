"""The benchmarks: each pairs a seed program with the nnlab experiment doing the same work, says what is timed,
what the target is, and how the two results (accuracy, or the fitted line) are judged equal or better.
"""

import dataclasses
from collections.abc import Callable

import keras
import nnlab_side
import numpy as np
import seed_linefit
import seed_linreg
import seed_mnist
import tensorflow as tf
from bench_output import spread, verdict

NAMES = ("mnist", "linefit", "linreg")
GPUS = tf.config.list_physical_devices("GPU")
DEVICE = "GPU" if GPUS else "CPU"
ACCURACY_SLACK = 0.003  # test accuracy may be this much below the seed's and still count as equal (seed noise)
MSE_SLACK = 1.01  # the fitted line's MSE may be 1% above the seed's and still count as equal


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One summary row: seed_key seconds of the seed against nnlab_key seconds of nnlab."""

    label: str
    seed_key: str
    nnlab_key: str
    target: float | None
    timing: str


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    seed_name: str
    seed: Callable[[int], dict]  # seed -> one measurement
    nnlab: Callable[[int], dict]
    comparisons: tuple
    quality: Callable[[list], str]  # measurements of one side -> their result, in words
    same_or_better: Callable[[list, list], bool]  # (seed measurements, nnlab measurements)
    rule: str

    def run(self, side, seed):
        return (self.seed if side == "seed" else self.nnlab)(seed)

    def summarize(self, measurements):
        mine = [row for row in measurements if row["benchmark"] == self.name]
        ok = {
            side: [row for row in mine if row["side"] == side and row["status"] == "ok"] for side in ("seed", "nnlab")
        }
        problems = sorted({f"{row['side']} {row['status']}" for row in mine if row["status"] != "ok"})
        quality_ok = self.same_or_better(ok["seed"], ok["nnlab"]) if ok["seed"] and ok["nnlab"] else None
        lines = []
        for comparison in self.comparisons:
            seed = spread([row.get(comparison.seed_key) for row in ok["seed"]])
            nnlab = spread([row.get(comparison.nnlab_key) for row in ok["nnlab"]])
            ratio = seed[0] / nnlab[0] if seed[0] is not None and nnlab[0] else None
            lines.append(
                {
                    "benchmark": comparison.label,
                    "seed": self.seed_name,
                    **dict(zip(("seed_median_s", "seed_min_s", "seed_max_s"), seed, strict=True)),
                    **dict(zip(("nnlab_median_s", "nnlab_min_s", "nnlab_max_s"), nnlab, strict=True)),
                    "ratio": ratio,
                    "target": comparison.target,
                    "seed_quality": self.quality(ok["seed"]),
                    "nnlab_quality": self.quality(ok["nnlab"]),
                    "quality_ok": quality_ok,
                    "passed": verdict(ratio, comparison.target, quality_ok),
                    "repeats": min(len(ok["seed"]), len(ok["nnlab"])),
                    "timing": comparison.timing,
                    "note": "; ".join(problems) or f"results equal or better when: {self.rule}",
                }
            )
        return lines


def all_cases(settings):
    epochs, limit, steps = settings.mnist_epochs, settings.mnist_limit, settings.linreg_steps
    return [
        Case(
            name="mnist",
            seed_name="benchmarks/seed_mnist.py (Keras fit on NumPy arrays)",
            seed=lambda seed: _mnist_row(seed_mnist.train(epochs, 32, limit, seed), epochs, limit, seed),
            nnlab=lambda seed: _mnist_row(nnlab_side.mnist(epochs, limit, seed), epochs, limit, seed),
            comparisons=(
                Comparison(
                    "mnist",
                    "seconds",
                    "seconds",
                    3.0,
                    "training: seed model.fit wall time; nnlab metrics.json train_seconds (nnlab's loop with its "
                    "history.csv, checkpoints, TensorBoard); both trace, train and validate every epoch",
                ),
                Comparison(
                    "mnist end to end",
                    "wall_seconds",
                    "wall_seconds",
                    None,
                    "seed: load, split, build, fit, evaluate; nnlab: the whole runner.run() (also writes its run "
                    "directory, model.keras and plots)",
                ),
                Comparison(
                    f"mnist epoch ({DEVICE})",
                    "epoch_seconds",
                    "epoch_seconds",
                    None,
                    "median seconds of one epoch (train + validation) after the first; the first when only one",
                ),
                Comparison(
                    "mnist first-epoch overhead",
                    "first_epoch_overhead",
                    "first_epoch_overhead",
                    None,
                    "the first epoch's seconds minus the median later epoch's (tracing, first validation); "
                    "target for nnlab: at most half a steady epoch (see 'overhead / steady epoch' in the note)",
                ),
            ),
            quality=lambda rows: _median_text(rows, "accuracy", "test acc {:.4f}"),
            same_or_better=lambda seed, nnlab: _median(nnlab, "accuracy") >= _median(seed, "accuracy") - ACCURACY_SLACK,
            rule=f"nnlab test accuracy >= seed's - {ACCURACY_SLACK}",
        ),
        _line_case(
            "linefit",
            "benchmarks/seed_linefit.py (eager GradientTape, one point per step)",
            lambda seed: seed_linefit.train(epochs=settings.linefit_epochs, seed=seed),
            lambda seed: nnlab_side.linefit(settings.linefit_epochs, seed),
            f"epochs={settings.linefit_epochs} (x100 points, batch 1)",
            speed_on="warm_seconds",
            target=20.0,
        ),
        _line_case(
            "linreg",
            "benchmarks/linreg_torch.py (PyTorch eager, full batch)",
            lambda seed: _torch_row(seed_linreg.train(steps, seed, settings.torch_threads or None)),
            lambda seed: nnlab_side.linreg(steps, seed),
            f"steps={steps} (100,000 points, full batch)",
            speed_on="seconds",
            target=4.0,
        ),
    ]


def _line_case(name, seed_name, seed, nnlab, settings_text, speed_on, target):
    """A line fit: w, b and the MSE over the points; the seed's loop against nnlab's warm or whole training."""
    timings = {
        "warm_seconds": "nnlab: the compiled loop after its first call (which traces and XLA-compiles while running "
        "epoch 1): history.csv seconds of the later epochs, scaled to all epochs",
        "seconds": "nnlab: metrics.json train_seconds, including tracing and XLA compilation (which XLA caches "
        "within a process: repeats after the first compile faster than a fresh `make run` does)",
    }
    other = "seconds" if speed_on == "warm_seconds" else "warm_seconds"
    suffix = {"warm_seconds": " (warm)", "seconds": " (incl. compile)"}
    seed_timing = "seed: the training loop alone; "
    return Case(
        name=name,
        seed_name=seed_name,
        seed=lambda number: {**seed(number), "settings": f"{settings_text} seed={number}"},
        nnlab=lambda number: {**nnlab(number), "settings": f"{settings_text} seed={number}"},
        comparisons=(
            Comparison(name + suffix[speed_on], "seconds", speed_on, target, seed_timing + timings[speed_on]),
            Comparison(name + suffix[other], "seconds", other, None, seed_timing + timings[other]),
        ),
        quality=_line_text,
        same_or_better=lambda seed, nnlab: _median(nnlab, "loss") <= MSE_SLACK * _median(seed, "loss"),
        rule=f"nnlab MSE over the points <= {MSE_SLACK} x seed's",
    )


def _mnist_row(result, epochs, limit, seed):
    epoch_seconds = result["epoch_seconds"]
    steady = float(np.median(epoch_seconds[1:] or epoch_seconds))
    return {
        "seconds": result["seconds"],
        "wall_seconds": result["wall_seconds"],
        "epoch_seconds": steady,
        "first_epoch_overhead": epoch_seconds[0] - steady if len(epoch_seconds) > 1 else None,
        "accuracy": result["test_accuracy"],
        "val_accuracy": result["val_accuracy"],
        "settings": f"epochs={epochs} limit_examples={limit} batch_size=32 seed={seed}",
    }


def _torch_row(result):
    return {
        "seconds": result["seconds"],
        "warm_seconds": result["seconds"],
        "w": result["w"],
        "b": result["b"],
        "loss": result["loss"],
        "steps": result["steps"],
        "device": f"CPU (torch {result['torch']}, {result['threads']} threads)",
    }


def _median(rows, key):
    return float(np.median([row[key] for row in rows]))


def _median_text(rows, key, template):
    return template.format(_median(rows, key)) if rows else ""


def _line_text(rows):
    if not rows:
        return ""
    text = f"w {_median(rows, 'w'):.3f}, b {_median(rows, 'b'):.3f}, MSE {_median(rows, 'loss'):.4f}"
    if "least_squares_loss" in rows[0]:  # nnlab's rows: the best any line can do on the same points
        text += f" (least squares {_median(rows, 'least_squares_loss'):.4f})"
    return text


def system_summary(rows):
    """Summary rows for the whole-process figures of benchmarks/system.py (those measured)."""
    workers = [_workers_line(rows)] if any(row["benchmark"] == "sweep" for row in rows) else []
    return workers + _memory_lines(rows)


def _workers_line(rows):
    ok = {row["side"]: row for row in rows if row["status"] == "ok"}
    one, two = ok.get("workers=1"), ok.get("workers=2")
    sweep = {
        "benchmark": "sweep 1 -> 2 workers",
        "seed": "seed_* columns: chief + 1 worker; nnlab_* columns: chief + 2 workers",
        "timing": "whole `nnlab tune` command: start-up, TensorFlow import in every process, all trials",
        "note": "; ".join(row["status"] for row in rows if row["benchmark"] == "sweep" and row["status"] != "ok"),
    }
    if one and two:
        sweep.update(seed_median_s=one["seconds"], nnlab_median_s=two["seconds"], ratio=one["seconds"] / two["seconds"])
        sweep["note"] = (
            f"{one['settings']}; peak tree RSS {one['peak_tree_rss_mb']:.0f} vs {two['peak_tree_rss_mb']:.0f} MB"
        )
    return sweep


def _memory_lines(rows):
    lines = []
    for row in rows:
        if row["benchmark"].startswith("memory"):
            lines.append(
                {
                    "benchmark": f"peak memory: {row['side']}",
                    "nnlab_median_s": row.get("seconds"),
                    "max_process_rss_mb": row.get("max_process_rss_mb"),
                    "peak_tree_rss_mb": row.get("peak_tree_rss_mb"),
                    "timing": "whole command",
                    "note": row["status"]
                    if row["status"] != "ok"
                    else f"largest process {row['max_process_rss_mb']:.0f} MB, process tree "
                    f"{row['peak_tree_rss_mb']:.0f} MB ({row['settings']})",
                }
            )
    return lines


def device_note():
    if GPUS:
        names = ", ".join(device.name for device in GPUS)
        return f"GPU visible ({names}): both MNIST sides train on it; see the 'mnist epoch (GPU)' row"
    return "no GPU visible (tf.config.list_physical_devices('GPU') is empty): CPU only, no GPU epoch-time row"


def warm_up():
    """Start TensorFlow's runtime (thread pools, first kernels) untimed, so neither side's first run pays it."""
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(np.zeros((64, 4), "float32"), np.zeros(64, "int64"), epochs=1, verbose=0)
    variable = tf.Variable(1.0)
    with tf.GradientTape() as tape:
        loss = tf.square(variable * 2.0)
    variable.assign_sub(0.1 * tape.gradient(loss, variable))
    keras.backend.clear_session()
