"""`make profile`: where the training time goes, for the two benchmarks whose speed targets are not met.

A TensorFlow profiler trace shows one opaque XlaLaunch op for linreg's compiled loop, and tens of thousands of
tiny kernels for an MNIST epoch; so this profiles by subtraction instead: each row runs the same number of
steps inside one compiled while loop, removing or isolating one piece of the step at a time, and reports the
median seconds (and microseconds per step) of `--repeats` warm runs, all in this one process.

    make profile                                 # both, 3 repeats
    make profile ARGS="--only linreg --repeats 5"

linreg: 5,000 full-batch steps on 100,000 points, XLA-compiled as nnlab's custom loop compiles them. Rows: the
experiment's own step (Keras Dense(1), SGD), the same math hand-written on (N, 1) tensors, the same math on flat
(N,) vectors, and the kernels the (N, 1) gradients compile to, each alone.
mnist: one epoch of 54,000 images in batches of 32 (1,687 steps), the seed model. Rows: forward only, forward
and gradients, the full step with Keras' Adam, with nnlab's fused Adam (nnlab.train.fused_adam), with SGD, XLA-compiled,
and with larger batches (same examples, fewer steps), which separates the fixed cost per step from the cost per
example. Keras' fit adds its metrics, data pipeline and callbacks on top of these loops.
Writes results/bench/profile.csv (or --out).
"""

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import bench_output  # noqa: E402
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from nnlab import experiment as experiment_lib  # noqa: E402
from nnlab.train import (
    fused_adam,  # noqa: E402
    modeling,  # noqa: E402
)

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"

COLUMNS = ["benchmark", "variant", "steps", "batch", "xla", "seconds", "us_per_step", "repeats", "note"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="linreg,mnist", help="comma-separated: linreg, mnist")
    parser.add_argument("--repeats", type=int, default=3, help="warm runs per row; the median is reported")
    parser.add_argument("--out", default="results/bench", help="output directory (default results/bench)")
    parser.add_argument("--linreg-steps", type=int, default=5_000, dest="linreg_steps")
    parser.add_argument("--mnist-examples", type=int, default=54_000, dest="mnist_examples", help="one epoch's worth")
    args = parser.parse_args(argv)
    profiles = {
        "linreg": lambda: linreg_rows(args.repeats, args.linreg_steps),
        "mnist": lambda: mnist_rows(args.repeats, args.mnist_examples),
    }
    rows = []
    for name in [name.strip() for name in args.only.split(",") if name.strip()]:
        if name not in profiles:
            parser.error(f"--only: unknown profile {name}; choose from linreg, mnist")
        for row in profiles[name]():
            rows.append(row)
            print(
                f"{row['benchmark']:7} {row['variant']:46} {row['seconds']:7.3f} s  {row['us_per_step']:8.1f} us/step"
            )
            bench_output.write_csv(Path(args.out) / "profile.csv", rows, COLUMNS)
    print(f"written to {args.out}/profile.csv")
    return rows


def timed_loop(body, steps, repeats, jit):
    """Median seconds of `steps` calls of body(i) inside one compiled while loop, after an untimed compile."""

    def one_step(i):
        body(i)
        return i + 1

    loop = tf.function(
        lambda n: tf.while_loop(lambda i: i < n, one_step, [tf.constant(0)]), jit_compile=jit, autograph=False
    )
    loop(tf.constant(1))  # trace and compile
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        loop(tf.constant(steps))[0].numpy()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def row(benchmark, variant, steps, batch, xla, seconds, repeats, note=""):
    return {
        "benchmark": benchmark,
        "variant": variant,
        "steps": steps,
        "batch": batch,
        "xla": xla,
        "seconds": seconds,
        "us_per_step": 1e6 * seconds / steps,
        "repeats": repeats,
        "note": note,
    }


def linreg_rows(repeats, steps=5_000):
    experiment = experiment_lib.load("linreg", EXPERIMENTS)
    config = experiment.config({})
    column, targets = (tf.constant(array) for array in experiment.module.make_data(config).train)  # (N, 1) each
    flat_x, flat_y = tf.reshape(column, [-1]), tf.reshape(targets, [-1])
    points, rate = int(column.shape[0]), config.learning_rate

    model = experiment.module.build_model(config)
    optimizer = modeling.make_optimizer(config)
    optimizer.build(model.trainable_variables)

    def keras_step(i):  # experiments/linreg.py's own train_step
        experiment.module.train_step(model, optimizer, column, targets)

    w, b = tf.Variable([[0.5]]), tf.Variable([0.0])

    def matmul_step(i):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(tf.matmul(column, w) + b - targets))
        grad_w, grad_b = tape.gradient(loss, [w, b])
        w.assign_sub(rate * grad_w)
        b.assign_sub(rate * grad_b)

    def flat_step(i):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(flat_x * w[0, 0] + b[0] - flat_y))
        grad_w, grad_b = tape.gradient(loss, [w, b])
        w.assign_sub(rate * grad_w)
        b.assign_sub(rate * grad_b)

    sink = tf.Variable([[0.0]])  # each kernel's result feeds a variable, so XLA cannot drop it
    kernels = {
        "kernel: dot of two 100k vectors (x^T dy)": lambda: tf.matmul(column, column * sink + 1.0, transpose_a=True),
        "kernel: column sum of (N, 1) (bias grad)": lambda: tf.reduce_sum(column * sink + 1.0, 0, keepdims=True),
        "kernel: multiply, then sum of (N,)": lambda: tf.reshape(tf.reduce_sum(flat_x * (flat_x * sink + 1.0)), [1, 1]),
        "kernel: sum of (N,)": lambda: tf.reshape(tf.reduce_sum(flat_x * sink + 1.0), [1, 1]),
    }
    variants = [
        ("experiment step: Keras Dense(1) + SGD", keras_step, True, "what nnlab runs"),
        ("experiment step, uncompiled graph", keras_step, False, "tf.function without XLA"),
        ("same math on (N, 1): tf.matmul + bias", matmul_step, True, "no Keras"),
        ("same math on (N,) vectors", flat_step, True, "no dot, row reductions"),
    ]
    variants += [
        (name, lambda i, kernel=kernel: sink.assign_add(1e-9 * kernel()), True, "") for name, kernel in kernels.items()
    ]
    for name, body, jit, note in variants:
        yield row("linreg", name, steps, points, jit, timed_loop(body, steps, repeats, jit), repeats, note)


MNIST_PARTS = {
    "forward": "forward + loss only",
    "gradients": "forward + gradients, no update",
    "adam": "full step with Keras' Adam",
    "fused": "full step with fused Adam (nnlab)",
    "sgd": "full step with SGD instead of Adam",
    "fused-xla": "full step with fused Adam, XLA-compiled",
}


def mnist_rows(repeats, examples=54_000):
    from nnlab.datasets import mnist

    experiment = experiment_lib.load("mnist", EXPERIMENTS)
    config = experiment.config({})
    arrays = mnist.load_arrays()
    images = tf.constant(arrays["x_train"][:examples].astype("float32") / 255.0)
    labels = tf.constant(arrays["y_train"][:examples].astype("int64"))
    sink = tf.Variable(0.0)
    plan = [(32, "forward"), (32, "gradients"), (32, "adam"), (32, "fused"), (32, "sgd"), (32, "fused-xla")]
    for batch, parts in plan + [(size, "fused") for size in (128, 512)]:
        keras.utils.set_random_seed(0)
        model = experiment.module.build_model(config)  # the seed MLP, as nnlab builds it
        optimizer = keras.optimizers.SGD(0.01) if parts == "sgd" else keras.optimizers.Adam(1e-3)
        if parts.startswith("fused"):
            fused_adam.fuse(optimizer)
        optimizer.build(model.trainable_variables)
        loss_fn = keras.losses.SparseCategoricalCrossentropy()
        steps = examples // batch

        def step(i, parts=parts, batch=batch, model=model, optimizer=optimizer, loss_fn=loss_fn):
            x = tf.slice(images, [i * batch, 0, 0], [batch, 28, 28])
            y = tf.slice(labels, [i * batch], [batch])
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            if parts == "forward":
                sink.assign_add(loss)  # consumed, so that graph optimisation cannot prune the work away
                return
            gradients = tape.gradient(loss, model.trainable_variables)
            if parts == "gradients":
                sink.assign_add(tf.add_n([tf.reduce_sum(gradient) for gradient in gradients]))
            else:
                optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))

        jit = parts.endswith("-xla")
        seconds = timed_loop(step, steps, repeats, jit)
        name = f"{MNIST_PARTS[parts]}, batch {batch}"
        yield row("mnist", name, steps, batch, jit, seconds, repeats, f"one epoch of {steps * batch:,} images")


if __name__ == "__main__":
    main()
