"""The linreg seed's PyTorch loop, timed: the baseline `experiments/linreg.py` is measured against.

100,000 points x = linspace(-3, 3), y = x + 1.2·U(0, 1); nn.Linear(1, 1), MSE, SGD lr 1e-4, 5,000 full-batch
steps. Only the training loop is timed (the seed also redraws a plot every 80 epochs; that is left out here, as
nnlab draws its figures after training too).

Run (torch stays out of nnlab's dependencies; use a separate venv):
    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.13.0 numpy
    /tmp/torchenv/bin/python benchmarks/linreg_torch.py [--threads 1]
Prints one JSON line: seconds, w, b, final loss, the settings and torch's thread count.
"""

import argparse
import json
import time

import torch
from torch import nn


def train(points, steps, learning_rate, seed):
    torch.manual_seed(seed)
    x = torch.linspace(-3, 3, points).unsqueeze(1)
    y = x + 1.2 * torch.rand(x.shape)
    model = nn.Linear(1, 1)
    criterion = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    started = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "w": model.weight.item(),
        "b": model.bias.item(),
        "loss": loss.item(),
        "points": points,
        "steps": steps,
        "learning_rate": learning_rate,
        "seed": seed,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=5_000)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)  # on a shared CPU, 2 spinning threads can be 10x slower than 1
    print(json.dumps(train(args.points, args.steps, args.learning_rate, args.seed)))


if __name__ == "__main__":
    main()
