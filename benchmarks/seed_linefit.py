"""The line-fit seed program written plainly: one neuron w·x + b, an eager tf.GradientTape loop, one point per step.

100 points x = linspace(-1, 1), y = 2x + 1 + 0.4·N(0, 1); w starts random, b at 0; plain SGD (w -= lr·dw) at
learning rate 0.01 on the squared error of one point, the points in order, 8 epochs: 800 eager steps. The points
and the initial w are drawn exactly as `experiments/linefit.py` draws them for the same seed, so the two fits
start from the same place and can be compared number for number.

Run:      .venv/bin/python benchmarks/seed_linefit.py [--epochs 8] [--seed 0]
Prints one JSON line; `seconds` is the wall time of the training loop alone (800 eager steps).
"""

import argparse
import json
import time

import keras
import numpy as np
import tensorflow as tf


def make_points(points=100, seed=0):
    """x, y as float32 arrays, drawn as experiments/linefit.py's make_data draws them."""
    rng = np.random.default_rng(seed)
    x = np.linspace(-1, 1, points)
    y = 2.0 * x + 1.0 + 0.4 * rng.standard_normal(points)
    return x.astype("float32"), y.astype("float32")


def train(points=100, epochs=8, learning_rate=0.01, seed=0):
    """Fit the line eagerly; returns seconds (the loop), steps, the learned w and b and the MSE over all points."""
    x, y = make_points(points, seed)
    initial_w = keras.initializers.RandomNormal(stddev=1.0, seed=seed)(shape=(1, 1))  # as linefit's Dense kernel
    w = tf.Variable(float(initial_w[0, 0]))
    b = tf.Variable(0.0)
    started = time.perf_counter()
    for _ in range(epochs):
        for x_i, y_i in zip(x, y, strict=True):
            with tf.GradientTape() as tape:
                loss = tf.square(w * x_i + b - y_i)
            dw, db = tape.gradient(loss, [w, b])
            w.assign_sub(learning_rate * dw)
            b.assign_sub(learning_rate * db)
    seconds = time.perf_counter() - started
    w, b = float(w.numpy()), float(b.numpy())
    return {
        "seconds": seconds,
        "steps": epochs * points,
        "w": w,
        "b": b,
        "loss": float(np.mean((w * x.astype(np.float64) + b - y) ** 2)),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(json.dumps(train(args.points, args.epochs, args.learning_rate, args.seed)))


if __name__ == "__main__":
    main()
