"""imbrun's training and inference speed against the loops users compare it with (issue 10).

Run: python bench/train_speed.py            (about 12 min on 2 cores; --quick: about 4 min)
     python bench/train_speed.py --no-keras (torch variants only; Keras needs `pip install -e .[bench]`)
Prints, per workload, samples/s relative to a minimal hand-written torch loop (1.00), all from ONE run:
- ABAB: the torch variants alternate epoch by epoch in this process (train: median of one-epoch timings after a
  warm-up epoch; inference: batch 4096). The same process-wide allocator and thread settings for all.
- fresh: one new process per variant, as a user runs it (imbrun's variants call resolve_device like `imbrun train`),
  with its peak RSS (VmHWM). Keras 3 runs only so (its backend is fixed at import); fresh processes of the same
  code differ by up to 1.4x here, so repeat runs and compare within a run.
Then the time from process start to `imbrun train`'s first batch and of `imbrun --help`.
Data are synthetic, of the issue's shapes, with 5 or 10 imbalanced classes (geometric counts).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
# name: (input shape, classes, train batch)
WORKLOADS = {"cnn1d": ((187, 1), 5, 256), "lstm": ((20, 18), 5, 256), "dense": ((784,), 10, 512)}
TORCH_VARIANTS = ["imbrun_class_weight", "imbrun_weighted_sampler", "hand_torch", "dataloader_wrs"]
KERAS_VARIANTS = ["keras_torch", "keras_tensorflow"]


def synthetic(workload: str, n: int, seed: int = 0):
    """(X float32 (n, *shape), y int64 (n,)) with class k drawn with probability proportional to 0.5**k."""
    shape, k, _ = WORKLOADS[workload]
    rng = np.random.default_rng(seed)
    p = 0.5 ** np.arange(k)
    return rng.normal(size=(n, *shape)).astype(np.float32), rng.choice(k, size=n, p=p / p.sum()).astype(np.int64)


def inverse_weights(y: np.ndarray, k: int) -> np.ndarray:
    return len(y) / (k * np.maximum(np.bincount(y, minlength=k), 1))


def plain_torch_model(workload: str):
    """What a user writes by hand: the same architectures as imbrun's configs, in the textbook layout."""
    import torch
    from torch import nn

    class Cnn(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv1d(1, 32, 5, padding=2), nn.ReLU(), nn.Conv1d(32, 32, 5, padding=2),
                                          nn.ReLU(), nn.MaxPool1d(2))
            self.head = nn.Sequential(nn.Linear(32 * 93, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                                      nn.Linear(64, 5))

        def forward(self, x):  # (batch, time, channels)
            return self.head(self.features(x.transpose(1, 2)).flatten(1))

    class Lstm(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn, self.out = nn.LSTM(18, 64, batch_first=True), nn.Linear(64, 5)

        def forward(self, x):
            return self.out(self.rnn(x)[1][0][-1])

    if workload == "cnn1d":
        return Cnn()
    if workload == "lstm":
        return Lstm()
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 128),
                         nn.ReLU(), nn.Linear(128, 10))


def imbrun_model(workload: str):
    from imbrun.config.model import Cnn1dModel, DenseModel, LstmModel
    from imbrun.models import build_model
    cfg = {"cnn1d": Cnn1dModel(channels=[32, 32], kernel_size=5, pool=2, hidden=[128, 64]),
           "lstm": LstmModel(hidden_size=64), "dense": DenseModel(hidden=[512, 512, 128])}[workload]
    shape, k, _ = WORKLOADS[workload]
    return build_model(cfg, shape, k)


def torch_variant(name: str, workload: str, X: np.ndarray, y: np.ndarray):
    """(train_one_epoch() -> seconds, predict() -> seconds) for one torch variant, its model seeded alike."""
    import torch
    import torch.nn.functional as F
    from imbrun.balance.losses import WeightedCrossEntropy
    from imbrun.balance.sampling import WeightedSampler
    from imbrun.config.train import TrainConfig
    from imbrun.train import fit, predict_logits

    _, k, batch = WORKLOADS[workload]
    torch.manual_seed(0)
    model = imbrun_model(workload) if name.startswith("imbrun") else plain_torch_model(workload)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    class_w = torch.as_tensor(inverse_weights(y, k), dtype=torch.float32)
    row_w = class_w[yt].double()
    cfg = TrainConfig(epochs=1, batch_size=batch, device="cpu")
    val = (X[:512], y[:512])  # fit scores validation each epoch: kept small, it is part of the timing
    state = {"epoch": 0}

    def imbrun_epoch():
        state["epoch"] += 1
        cw = name == "imbrun_class_weight"
        sampler = None if cw else WeightedSampler(row_w.numpy(), y, k)
        fit(model, (X, y), val, WeightedCrossEntropy(class_w if cw else None), cfg, seed=state["epoch"],
            device=torch.device("cpu"), draw_epoch=sampler)

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def hand_epoch():  # the loop a user writes: shuffle, slice, class-weighted cross-entropy
        order = torch.randperm(len(yt))
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            loss = F.cross_entropy(model(Xt[idx]), yt[idx], weight=class_w)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    def loader_epoch():  # torch's own sampling utilities, default collate
        sampler = torch.utils.data.WeightedRandomSampler(row_w, len(yt), replacement=True)
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(Xt, yt), batch, sampler=sampler)
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    def plain_predict():
        model.eval()
        with torch.no_grad():
            torch.cat([model(Xt[i:i + 4096]) for i in range(0, len(Xt), 4096)])
        model.train()

    run = {"imbrun_class_weight": imbrun_epoch, "imbrun_weighted_sampler": imbrun_epoch,
           "hand_torch": hand_epoch, "dataloader_wrs": loader_epoch}[name]
    predict = ((lambda: predict_logits(model, X, 4096, torch.device("cpu"))) if name.startswith("imbrun")
               else plain_predict)
    return _timed(run), _timed(predict)


def keras_variant(name: str, workload: str, X: np.ndarray, y: np.ndarray):
    """The same model in Keras 3, trained with fit(class_weight=...); KERAS_BACKEND is set by the caller."""
    import keras
    from keras import layers
    shape, k, batch = WORKLOADS[workload]
    keras.utils.set_random_seed(0)
    body = {"cnn1d": [layers.Conv1D(32, 5, padding="same", activation="relu"),
                      layers.Conv1D(32, 5, padding="same", activation="relu"), layers.MaxPooling1D(2),
                      layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dense(64, activation="relu")],
            "lstm": [layers.LSTM(64)],
            "dense": [layers.Dense(512, activation="relu"), layers.Dense(512, activation="relu"),
                      layers.Dense(128, activation="relu")]}[workload]
    model = keras.Sequential([keras.Input(shape), *body, layers.Dense(k)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    weights = dict(enumerate(inverse_weights(y, k).tolist()))
    epoch_s: list[float] = []  # one fit() of many epochs, timed per epoch: fit's own set-up is not counted
    clock = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: epoch_s.append(-time.perf_counter()),
        on_epoch_end=lambda epoch, logs: epoch_s.__setitem__(-1, epoch_s[-1] + time.perf_counter()))

    def train(epochs: int) -> list[float]:
        model.fit(X, y, batch_size=batch, epochs=epochs, class_weight=weights, verbose=0, shuffle=True,
                  callbacks=[clock])
        return epoch_s[-epochs:]
    return train, _timed(lambda: model.predict(X, batch_size=4096, verbose=0))


def _timed(fn):
    def run() -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    return run


def worker(variant: str, workload: str, n: int, epochs: int) -> dict:
    """One variant in this (fresh) process: warm-up, `epochs` timed epochs, 3 inference passes, peak RSS."""
    X, y = synthetic(workload, n)
    if variant.startswith("keras"):
        train, predict = keras_variant(variant, workload, X, y)
        train_s = train(epochs + 1)[1:]  # the first epoch is the warm-up (graph tracing)
    else:
        if variant.startswith("imbrun"):  # what `imbrun train` does first (threads, allocator)
            from imbrun.device import resolve_device
            resolve_device("cpu")
        train, predict = torch_variant(variant, workload, X, y)
        train_s = [train() for _ in range(epochs + 1)][1:]
    infer_s = [predict() for _ in range(4)][1:]
    return {"train": n / statistics.median(train_s), "infer": n / statistics.median(infer_s),
            "rss_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's RSS high-water mark (VmHWM; ru_maxrss would include the parent's, kept across fork+exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_process(workload: str, n: int, rounds: int) -> dict:
    """Torch variants alternating in one process: {variant: {"train": samples/s, "infer": samples/s}}."""
    X, y = synthetic(workload, n)
    variants = {v: torch_variant(v, workload, X, y) for v in TORCH_VARIANTS}
    times = {v: {"train": [], "infer": []} for v in variants}
    for v, (train, predict) in variants.items():
        train(), predict()  # warm-up
    for _ in range(rounds):
        for v, (train, predict) in variants.items():
            times[v]["train"].append(train())
            times[v]["infer"].append(predict())
    return {v: {kind: n / statistics.median(t) for kind, t in d.items()} for v, d in times.items()}


def subprocess_worker(variant: str, workload: str, n: int, epochs: int) -> dict | None:
    env = {**os.environ, "KERAS_BACKEND": variant.removeprefix("keras_"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, __file__, "--worker", variant, workload, str(n), str(epochs)],
                         capture_output=True, text=True, env=env)
    if out.returncode != 0:
        print(f"  {variant} on {workload} failed: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def startup_times(n: int) -> dict:
    """Seconds from process start to imbrun train's first batch (synthetic 1D-CNN CSV), and of `imbrun --help`."""
    X, y = synthetic("cnn1d", n)
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "beats.csv"
        np.savetxt(csv, np.column_stack([X[:, :, 0], y]), fmt="%.5g", delimiter=",")
        cfg = Path(tmp) / "exp.yaml"
        cfg.write_text(f"name: bench\ndata: {{kind: csv, path: {csv}, header: false, label: -1, "
                       "sequence: {channels: 1}}\nmodel: {kind: cnn1d}\nbalance: {kind: class_weight}\n"
                       "train: {epochs: 1, batch_size: 256}\n")
        # the first call of _train_epoch prints the wall-clock time and ends the process
        probe = ("import os, time, imbrun.train as t\n"
                 "def first(*a, **k):\n    print(time.time(), flush=True); os._exit(0)\n"
                 "t._train_epoch = first\nfrom imbrun.cli import main\nimport sys\n"
                 f"sys.argv = ['imbrun', 'train', {str(cfg)!r}, '--runs-dir', {tmp!r}, '-q']\nmain()\n")
        first_batch = []
        for _ in range(3):
            start = time.time()
            out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
            first_batch.append(float(out.stdout.split()[0]) - start)
    help_s = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "imbrun", "--help"], capture_output=True)
        help_s.append(time.perf_counter() - start)
    return {"train_to_first_batch_s": min(first_batch), "help_s": min(help_s)}


def print_table(workload: str, timing: dict, fresh: dict) -> None:
    """Ratios to hand_torch: `timing` from the alternating in-process run, `fresh` from one process per variant."""
    base, fbase = timing["hand_torch"], fresh.get("hand_torch")
    print(f"\n{workload}: samples/s relative to hand_torch (in-process: train {base['train']:.0f}/s, inference "
          f"{base['infer']:.0f}/s; fresh process: train {fbase['train'] if fbase else float('nan'):.0f}/s, "
          f"inference {fbase['infer'] if fbase else float('nan'):.0f}/s)")
    print(f"  {'variant':24s} {'train ABAB':>10s} {'infer ABAB':>10s} {'train fresh':>11s} {'infer fresh':>11s} "
          f"{'peak RSS MB':>11s}")
    cell = lambda d, b, key, width: f"{d[key] / b[key]:{width}.2f}" if d and b else f"{'-':>{width}s}"
    for v in TORCH_VARIANTS + KERAS_VARIANTS:
        t, f = timing.get(v) if v in TORCH_VARIANTS else None, fresh.get(v)
        if t is None and f is None:
            continue
        rss = f"{f['rss_mb']:11.0f}" if f else f"{'-':>11s}"
        print(f"  {v:24s} {cell(t, base, 'train', 10)} {cell(t, base, 'infer', 10)} "
              f"{cell(f, fbase, 'train', 11)} {cell(f, fbase, 'infer', 11)} {rss}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 rows, 3 rounds")
    parser.add_argument("--no-keras", action="store_true")
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--worker", nargs=4, metavar=("VARIANT", "WORKLOAD", "N", "EPOCHS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        variant, workload, n, epochs = args.worker
        print(json.dumps(worker(variant, workload, int(n), int(epochs))))
        return
    n, rounds = (5000, 3) if args.quick else (20000, 5)
    print(f"load average at start: {os.getloadavg()}")
    for workload in args.workloads:
        timing = in_process(workload, n, rounds)
        variants = TORCH_VARIANTS + ([] if args.no_keras else KERAS_VARIANTS)
        fresh = {v: r for v in variants if (r := subprocess_worker(v, workload, n, rounds)) is not None}
        print_table(workload, timing, fresh)
    print(f"\nstart-up: {startup_times(2000 if args.quick else n)}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
