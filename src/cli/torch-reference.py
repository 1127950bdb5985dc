#!/usr/bin/env python3
"""PyTorch speed reference for the droptune environment step.

Times one "env step" of the default MLP on one CPU thread, so `bench` can say how
far the tfjs step is from PyTorch on the same model:

  one env step = one training epoch (shuffled with torch.randperm, batch 64,
  last batch partial: 79 batches for 5,000 samples)
  + one evaluation of the validation set with dropout off (loss and accuracy)
  + reading the mean/std of the epoch's batch losses (kept as tensors, read once).

Model: Linear(784,256) → ReLU → Dropout(0.5) → Linear(256,128) → ReLU → Dropout(0.3)
→ Linear(128,10), nn.CrossEntropyLoss on the logits, Adam lr 0.001.

Data is random (seeded with torch.manual_seed(0)): 784 float32 features, labels in
0..9. The values don't change the time of these dense float32 operations, so no
dataset is read.

Run with Debian's PyTorch (the pyenv `python3` on PATH has no torch):

  /usr/bin/python3 src/cli/torch-reference.py [--epochs 5] [--train-size 5000]
      [--val-size 1000] [--batch-size 64] [--hidden 256,128]

One warm-up epoch is run untimed, then --epochs timed ones. Prints one line of JSON:
{"torch", "threads", "secondsPerEpoch" (median), "epochs", "trainSize", "valSize", "model"}.
A bad option exits 2 with a usage message on stderr (argparse).

Speed depends on the BLAS behind libblas.so.3. Debian's default is the unoptimized
reference BLAS (package libblas3), which made this ~10x slower than PyTorch
normally is; with OpenBLAS (libopenblas0-serial or -pthread installed, or its
libblas.so.3 on LD_LIBRARY_PATH) the numbers are a fair reference.
"""

import argparse
import json
import os
import statistics
import time

# This torch links whatever BLAS Debian's alternatives select (build says BLAS_INFO=generic),
# and set_num_threads() doesn't reach it: pin BLAS threads before the library loads.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import torch  # noqa: E402  (after the thread settings above)
from torch import nn

FEATURES = 784
CLASSES = 10
DROPOUT_RATES = (0.5, 0.3)  # by hidden layer; layers past the second reuse the last rate


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def hidden_sizes(text):
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated sizes like 256,128, got {text!r}")
    if not sizes or any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"expected positive sizes, got {text!r}")
    return sizes


def parse_args():
    parser = argparse.ArgumentParser(description="Time one droptune env step (train epoch + eval) in PyTorch on 1 thread.")
    parser.add_argument("--epochs", type=positive_int, default=5, help="timed epochs after 1 untimed warm-up (default 5)")
    parser.add_argument("--train-size", type=positive_int, default=5000, help="training samples (default 5000)")
    parser.add_argument("--val-size", type=positive_int, default=1000, help="validation samples (default 1000)")
    parser.add_argument("--batch-size", type=positive_int, default=64, help="batch size (default 64)")
    parser.add_argument("--hidden", type=hidden_sizes, default=[256, 128], help="hidden layer sizes (default 256,128)")
    return parser.parse_args()


def build_model(hidden):
    layers = []
    width = FEATURES
    for i, size in enumerate(hidden):
        rate = DROPOUT_RATES[min(i, len(DROPOUT_RATES) - 1)]
        layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(rate)]
        width = size
    layers.append(nn.Linear(width, CLASSES))
    return nn.Sequential(*layers)


def env_step(model, optimizer, loss_fn, x_train, y_train, x_val, y_val, batch_size):
    """One training epoch + validation; returns the stats the env would read."""
    model.train()
    order = torch.randperm(x_train.shape[0])
    batch_losses = []
    for start in range(0, x_train.shape[0], batch_size):
        idx = order[start:start + batch_size]
        optimizer.zero_grad()
        loss = loss_fn(model(x_train[idx]), y_train[idx])
        loss.backward()
        optimizer.step()
        batch_losses.append(loss.detach())

    model.eval()
    with torch.no_grad():
        logits = model(x_val)
        val_loss = loss_fn(logits, y_val)
        val_acc = (logits.argmax(dim=1) == y_val).float().mean()

    losses = torch.stack(batch_losses)
    std = losses.std() if losses.numel() > 1 else torch.zeros(())
    # The single read back to Python, as the env reads its observation once per step.
    return torch.stack([losses.mean(), std, val_loss, val_acc]).tolist()


def main():
    args = parse_args()
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)

    x_train = torch.rand(args.train_size, FEATURES, dtype=torch.float32)
    y_train = torch.randint(0, CLASSES, (args.train_size,))
    x_val = torch.rand(args.val_size, FEATURES, dtype=torch.float32)
    y_val = torch.randint(0, CLASSES, (args.val_size,))

    model = build_model(args.hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    loss_fn = nn.CrossEntropyLoss()
    step = lambda: env_step(model, optimizer, loss_fn, x_train, y_train, x_val, y_val, args.batch_size)

    step()  # warm-up, untimed
    seconds = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)

    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "secondsPerEpoch": round(statistics.median(seconds), 6),
        "epochs": [round(s, 6) for s in seconds],
        "trainSize": args.train_size,
        "valSize": args.val_size,
        "model": "-".join(str(n) for n in [FEATURES, *args.hidden, CLASSES]),
    }))


if __name__ == "__main__":
    main()
