"""Training options on tiny seeded data: early stopping restores the best epoch, every optimizer, gradient
clipping, and `--help` without torch."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from imbrun.config import validate_config
from imbrun.evaluate import evaluate_run
from imbrun.models import build_model
from imbrun.pipeline import run_experiment
from imbrun.train import OPTIMIZERS, _EarlyStopper, fit
from tests.conftest import tiny_config


def _noisy_csv(path: Path, counts=(60, 20, 10), features: int = 4, shift: float = 1.0, seed: int = 0) -> Path:
    """Overlapping classes (one feature shifted by 1 sd per class): a wide MLP overfits within a few epochs."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    X = rng.normal(size=(len(y), features))
    X[np.arange(len(y)), y % features] += shift
    order = rng.permutation(len(y))
    lines = [",".join([f"f{i}" for i in range(features)] + ["label"])]
    lines += [",".join(f"{v:.5f}" for v in X[i]) + f",c{y[i]}" for i in order]
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(tmp_path, csv, name, **train):
    raw = tiny_config(csv, name=name, model={"kind": "dense", "hidden": [32]},
                      train={"epochs": 30, "batch_size": 16, "lr": 0.03, **train})
    return run_experiment(validate_config(raw), tmp_path / "runs", use_cache=False, progress=False).path


# monitor -> (best_epoch, epochs_run) on the table above with patience 3
@pytest.mark.parametrize(("monitor", "best", "ran"), [("val_loss", 1, 4), ("val_macro_f1", 4, 7)])
def test_early_stopping_saves_the_best_epochs_weights(tmp_path, monitor, best, ran):
    csv = _noisy_csv(tmp_path / "noisy.csv")
    run = _run(tmp_path, csv, monitor, early_stopping={"monitor": monitor, "patience": 3})
    metrics = json.loads((run / "metrics.json").read_text())
    assert (metrics["best_epoch"], metrics["epochs_run"], metrics["stopped_early"]) == (best, ran, True)
    history = pd.read_csv(run / "history.csv")
    assert history["epoch"].tolist() == list(range(1, ran + 1))
    at_best = history.set_index("epoch").loc[best]
    # the best epoch is the best of the monitored column, and the last epoch's weights scored differently
    column = history[monitor]
    assert at_best[monitor] == (column.min() if monitor == "val_loss" else column.max())
    assert history["val_loss"].iloc[-1] != at_best["val_loss"]
    assert metrics["val"]["overall"]["macro_f1"] == at_best["val_macro_f1"]
    # the saved model reproduces the best epoch's validation score
    _, scored, matches = evaluate_run(run, split="val")
    assert matches is True and scored["test"]["overall"]["macro_f1"] == at_best["val_macro_f1"]
    # and its weights are exactly those of a run that stopped at the best epoch without early stopping
    plain = _run(tmp_path, csv, f"{monitor}_plain", epochs=best)
    saved, reference = (torch.load(r / "model.pt", weights_only=True) for r in (run, plain))
    assert saved.keys() == reference.keys()
    assert all(torch.equal(saved[k], reference[k]) for k in saved)


def _stop_at(rows, patience=2, **early):
    """Feed (score, val_loss) epochs to the early stopper; returns (epoch it stopped at, restored epoch, restored
    weight). Epoch e's weights are the single value e, so the restored weight names the epoch it came from."""
    cfg = validate_config({"data": {"kind": "csv", "path": "x.csv"},
                           "train": {"early_stopping": {"monitor": "val_macro_f1", "patience": patience, **early}}})
    stopper, model = _EarlyStopper(cfg.train), nn.Linear(1, 1, bias=False)
    for epoch, (score, loss) in enumerate(rows, start=1):
        nn.init.constant_(model.weight, float(epoch))
        if stopper.update({"epoch": epoch, "val_macro_f1": score, "val_loss": loss}, model):
            break
    return epoch, stopper.restore(model), model.weight.item()


PLATEAU = [(0.5, 0.9), (1.0, 0.5), (1.0, 0.3), (1.0, 0.4), (0.9, 0.2), (1.0, 0.35)]


def test_early_stopping_breaks_a_plateau_of_the_score_by_the_validation_loss():
    # the score reaches 1.0 at epoch 2 and stays; epoch 3 is as good and has the lower loss: it is kept, and
    # patience restarts there (stops after epochs 4 and 5 did not beat it)
    assert _stop_at(PLATEAU) == (5, 3, 3.0)
    # a lower loss at a lower score (epoch 5) never wins
    assert _stop_at(PLATEAU, patience=9) == (6, 3, 3.0)


def test_early_stopping_tie_break_first_keeps_the_first_epoch_with_the_best_score():
    assert _stop_at(PLATEAU, tie_break="first") == (4, 2, 2.0)


def test_early_stopping_tie_break_counts_a_gain_below_min_delta_as_a_tie():
    rows = [(0.8, 0.5), (0.805, 0.4), (0.79, 0.3)]
    assert _stop_at(rows, patience=5, min_delta=0.01) == (3, 2, 2.0)
    assert _stop_at(rows, patience=5, min_delta=0.01, tie_break="first") == (3, 1, 1.0)


def test_early_stopping_on_val_loss_ignores_tie_break():
    cfg = validate_config({"data": {"kind": "csv", "path": "x.csv"},
                           "train": {"early_stopping": {"monitor": "val_loss", "patience": 1}}})
    stopper, model = _EarlyStopper(cfg.train), nn.Linear(1, 1)
    assert [stopper.update({"epoch": e, "val_loss": v}, model) for e, v in enumerate([0.5, 0.5], 1)] == [False, True]
    assert stopper.best_epoch == 1


def _tiny_fit(optimizer="adam", epochs=2, lr=0.01, **train):
    """fit() a small MLP on 30 seeded rows; returns (history, the optimizer class fit built)."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), [18, 8, 4])
    X = (rng.normal(size=(len(y), 5)) + 0.8 * y[:, None]).astype(np.float32)
    cfg = validate_config({"data": {"kind": "csv", "path": "x.csv"}, "model": {"kind": "dense", "hidden": [8]},
                           "train": {"epochs": epochs, "batch_size": 8, "lr": lr, "optimizer": optimizer,
                                     **train}})
    torch.manual_seed(0)
    model = build_model(cfg.model, (5,), 3)
    built = type(OPTIMIZERS[cfg.train.optimizer](build_model(cfg.model, (5,), 3).parameters(), cfg.train))
    result = fit(model, (X, y), (X[::3], y[::3]), nn.CrossEntropyLoss(), cfg.train, seed=0,
                 device=torch.device("cpu"))
    return result.history, built


EXPECTED_OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD,
                       "rmsprop": torch.optim.RMSprop, "nadam": torch.optim.NAdam, "adadelta": torch.optim.Adadelta}


def test_every_optimizer_trains_with_its_torch_class():
    from imbrun.config.train import TrainConfig

    assert set(TrainConfig.model_fields["optimizer"].annotation.__args__) == set(EXPECTED_OPTIMIZERS)
    losses = {}
    for name, expected in EXPECTED_OPTIMIZERS.items():
        history, built = _tiny_fit(name, weight_decay=0.01)  # with decay 0, AdamW is Adam
        assert built is expected, name
        assert len(history) == 2 and all(np.isfinite(r["train_loss"]) and np.isfinite(r["val_loss"])
                                         for r in history), name
        assert history[0]["lr"] == 0.01
        losses[name] = history[1]["train_loss"]
    assert len(set(losses.values())) == len(losses), losses  # each optimizer updates the weights its own way


def test_sgd_and_rmsprop_use_the_configured_momentum():
    from imbrun.config.train import TrainConfig

    cfg = TrainConfig(optimizer="sgd", lr=0.1, momentum=0.5, weight_decay=0.01)
    params = [nn.Parameter(torch.zeros(2))]
    for name in ("sgd", "rmsprop"):
        group = OPTIMIZERS[name](params, cfg).param_groups[0]
        assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.1, 0.5, 0.01)


def test_grad_clip_changes_training_only_when_it_bites():
    plain, _ = _tiny_fit("sgd", lr=0.5)
    tight, _ = _tiny_fit("sgd", lr=0.5, grad_clip=1e-3)
    loose, _ = _tiny_fit("sgd", lr=0.5, grad_clip=1e6)
    losses = [[(r["train_loss"], r["val_loss"]) for r in h] for h in (plain, tight, loose)]
    assert losses[0][1][0] != losses[1][1][0]  # epoch 2 starts from different weights
    assert losses[2] == losses[0]  # a clip that never bites changes nothing, bit for bit


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"]], ids=["root", "train"])
def test_help_runs_without_importing_torch(args):
    code = ("import sys; from typer.testing import CliRunner; from imbrun.cli import app; "
            f"r = CliRunner().invoke(app, {args!r}); "
            "print(r.exit_code, 'Usage' in r.output, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout
    assert out.split() == ["0", "True", "False"]


def test_adam_uses_the_fused_kernel_where_torch_has_one_and_falls_back_elsewhere(monkeypatch):
    from imbrun.config.train import TrainConfig

    params = list(nn.Linear(3, 2).parameters())
    for name in ("adam", "adamw"):
        assert OPTIMIZERS[name](iter(params), TrainConfig(optimizer=name)).defaults["fused"] is True  # torch 2.13 CPU

    class NoFusedAdam(torch.optim.Adam):  # a torch (or device) without a fused kernel refuses fused=True
        def __init__(self, params, fused=None, **options):
            if fused:
                raise RuntimeError("`fused=True` requires all the params to be floating point Tensors of "
                                   "supported devices")
            super().__init__(params, **options)

    monkeypatch.setattr(torch.optim, "Adam", NoFusedAdam)
    fallback = OPTIMIZERS["adam"](iter(params), TrainConfig())  # a generator of parameters is read once
    assert type(fallback) is NoFusedAdam and not fallback.defaults.get("fused")
    assert [p for group in fallback.param_groups for p in group["params"]] == params
