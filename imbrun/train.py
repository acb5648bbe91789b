"""fit() and predict(): a plain training loop. Strategies plug in through the loss and the sampler only."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from imbrun.config.train import TrainConfig
from imbrun.errors import ImbrunError
from imbrun.metrics import confusion, summary

def _fused_if_supported(optimizer_class, params, **options) -> torch.optim.Optimizer:
    """Adam/AdamW with fused=True (one kernel for the whole update: 2-7% faster epochs on CPU in
    bench/train_speed.py), or the default implementation where this torch or device has no fused kernel."""
    params = list(params)
    try:
        return optimizer_class(params, fused=True, **options)
    except (RuntimeError, TypeError, ValueError):
        return optimizer_class(params, **options)


OPTIMIZERS = {
    "adam": lambda p, c: _fused_if_supported(torch.optim.Adam, p, lr=c.lr, weight_decay=c.weight_decay),
    "adamw": lambda p, c: _fused_if_supported(torch.optim.AdamW, p, lr=c.lr, weight_decay=c.weight_decay),
    "sgd": lambda p, c: torch.optim.SGD(p, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay),
    "rmsprop": lambda p, c: torch.optim.RMSprop(p, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay),
    "nadam": lambda p, c: torch.optim.NAdam(p, lr=c.lr, weight_decay=c.weight_decay),
    "adadelta": lambda p, c: torch.optim.Adadelta(p, lr=c.lr, weight_decay=c.weight_decay),
}

_DIVERGENCE_HINT = ("usual causes: a learning rate too high (try train.lr 10x lower) or unnormalised inputs "
                    "(set preprocess.normalize.kind: standard)")


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False


class TrainingInterrupted(Exception):
    """Raised when a stop was requested (Ctrl-C, SIGTERM); `checkpoint` resumes at the start of `epoch`."""

    def __init__(self, checkpoint: dict):
        super().__init__(f"interrupted during epoch {checkpoint['epoch']}")
        self.checkpoint = checkpoint


def fit(model: nn.Module, train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray],
        loss_fn: nn.Module, cfg: TrainConfig, *, seed: int, device: torch.device,
        draw_epoch: Callable[[torch.Generator], torch.Tensor] | None = None,
        on_epoch: Callable[[dict], None] | None = None,
        stop_requested: Callable[[], bool] | None = None, resume: dict | None = None,
        on_val_pred: Callable[[dict, np.ndarray], None] | None = None) -> FitResult:
    """Train `model` in place; with early stopping the best epoch's weights are restored at the end.

    `draw_epoch(generator)` returns the training row indices of one epoch (a sampler); default: a shuffle.
    When `stop_requested()` turns true, TrainingInterrupted carries a checkpoint of the state at the start of
    the current epoch; `resume=checkpoint` continues from there and ends exactly as an uninterrupted run.
    `on_val_pred(row, predicted)` receives each epoch's validation predictions (n_val,) beside its history row.
    """
    if len(val[1]) == 0:  # every epoch is scored on validation: without rows there is nothing to score
        raise ImbrunError("train: the validation split is empty; raise split.val_size or add rows")
    if len(train[1]) == 0:
        raise ImbrunError("train: the training split is empty (after balancing); add rows or change the strategy")
    X = torch.as_tensor(train[0], dtype=torch.float32, device=device)
    y = torch.as_tensor(train[1], device=device)
    loss_fn = loss_fn.to(device)
    optimizer = OPTIMIZERS[cfg.optimizer](model.parameters(), cfg)
    generator = torch.Generator().manual_seed(seed)
    stopper = _EarlyStopper(cfg)
    result = FitResult()
    first = 1
    if resume is not None:
        first = _restore(resume, model, optimizer, generator, stopper, result, draw_epoch)
    for epoch in range(first, cfg.epochs + 1):
        snapshot = _snapshot(epoch, model, optimizer, generator, stopper, result, draw_epoch)
        started = time.perf_counter()
        if hasattr(loss_fn, "on_epoch_start"):
            loss_fn.on_epoch_start(epoch)
        # forward, backward, update over one epoch of batches
        order = draw_epoch(generator) if draw_epoch else torch.randperm(len(y), generator=generator)
        train_loss = _train_epoch(model, X, y, order.to(device), loss_fn, optimizer, cfg, epoch, stop_requested)
        if train_loss is None:
            raise TrainingInterrupted(snapshot)
        # evaluate on validation
        val_logits = predict_logits(model, val[0], cfg.eval_batch_size, device)
        row = {"epoch": epoch, "train_loss": train_loss, **_val_scores(val_logits, val[1], loss_fn),
               "lr": optimizer.param_groups[0]["lr"], "seconds": time.perf_counter() - started}
        result.history.append(row)
        if on_val_pred:
            on_val_pred(row, val_logits.argmax(1).cpu().numpy())
        if on_epoch:
            on_epoch(row)
        # termination conditions
        if stopper.update(row, model):
            result.stopped_early = True
            break
        if stop_requested and stop_requested() and epoch < cfg.epochs:
            raise TrainingInterrupted(_snapshot(epoch + 1, model, optimizer, generator, stopper, result,
                                                draw_epoch))
    result.best_epoch = stopper.restore(model) or len(result.history)
    return result


# What _restore needs of a checkpoint; "sampler" is optional (None without a sampler with state).
CHECKPOINT_KEYS = ("epoch", "model", "optimizer", "generator", "torch_rng", "stopper", "history")


def _snapshot(epoch, model, optimizer, generator, stopper, result, draw_epoch) -> dict:
    """Everything that decides the rest of training, copied (tensors, lists and numbers only)."""
    return {
        "epoch": epoch,
        "model": copy.deepcopy(model.state_dict()),
        "optimizer": copy.deepcopy(optimizer.state_dict()),
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "stopper": stopper.state_dict(),
        "history": copy.deepcopy(result.history),
        "sampler": copy.deepcopy(draw_epoch.state_dict()) if hasattr(draw_epoch, "state_dict") else None,
    }


def _restore(state: dict, model, optimizer, generator, stopper, result, draw_epoch) -> int:
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    stopper.load_state_dict(state["stopper"])
    result.history = list(state["history"])
    if state.get("sampler") is not None and hasattr(draw_epoch, "load_state_dict"):
        draw_epoch.load_state_dict(state["sampler"])
    return int(state["epoch"])


# Batches between checks that the loss is finite: each check waits for the device (a sync); a non-finite loss
# is still named by its exact batch, the few batches trained after it are discarded with the run.
_FINITE_CHECK_EVERY = 32


def _train_epoch(model, X, y, order, loss_fn, optimizer, cfg: TrainConfig, epoch: int,
                 stop_requested: Callable[[], bool] | None) -> float | None:
    """Mean training loss of one epoch, or None when a stop was requested part-way (the epoch is discarded)."""
    model.train()
    total = torch.zeros((), dtype=torch.float64, device=X.device)  # sum of loss * batch size, as before in float64
    pending: list[torch.Tensor] = []  # losses not yet checked for finiteness, detached
    n_batches = len(range(0, len(order), cfg.batch_size))
    for batch, start in enumerate(range(0, len(order), cfg.batch_size), start=1):
        if stop_requested and stop_requested():
            return None
        idx = order[start:start + cfg.batch_size]
        loss = loss_fn(model(X.index_select(0, idx)), y.index_select(0, idx))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        pending.append(loss.detach())
        total += pending[-1].double() * len(idx)
        if batch % _FINITE_CHECK_EVERY == 0 or batch == n_batches:
            _check_finite(pending, batch - len(pending) + 1, epoch)
            pending = []
    return float(total) / max(len(order), 1)


def _check_finite(losses: list[torch.Tensor], first_batch: int, epoch: int) -> None:
    """Raise naming the first batch whose loss is not finite; losses[j] is batch first_batch + j (one sync)."""
    if not losses:
        return
    finite = torch.isfinite(torch.stack(losses)).tolist()
    if all(finite):
        return
    j = finite.index(False)
    raise ImbrunError(f"train: the loss became {losses[j].item()} at epoch {epoch}, batch {first_batch + j}; "
                      f"{_DIVERGENCE_HINT}", exit_code=1)


def _val_scores(logits: torch.Tensor, y_val: np.ndarray, loss_fn: nn.Module) -> dict:
    target = torch.as_tensor(y_val, device=logits.device)
    with torch.no_grad():
        val_loss = float(loss_fn(logits, target)) if len(target) else float("nan")
    scores = summary(confusion(y_val, logits.argmax(1).cpu().numpy(), logits.shape[1]))
    return {"val_loss": val_loss, "val_macro_f1": scores["macro_f1"],
            "val_balanced_accuracy": scores["balanced_accuracy"], "val_accuracy": scores["accuracy"],
            "val_gmean": scores["gmean"]}


# Rows per forward pass on CPU: a 1024-row chunk keeps a layer's activations in cache (1D-CNN of 187 steps x 32
# channels: 24 MB); 4096-row chunks ran 2x slower for the 1D-CNN, 1.2-1.4x for dense and LSTM (bench/train_speed.py).
_CPU_CHUNK_ROWS = 1024


@torch.no_grad()
def predict_logits(model: nn.Module, X: np.ndarray, batch_size: int, device: torch.device) -> torch.Tensor:
    """Logits (n, n_classes) in eval mode, in batches; the model is put back in its previous mode."""
    was_training = model.training
    model.eval()
    X = torch.as_tensor(X, dtype=torch.float32)
    step = min(batch_size, _CPU_CHUNK_ROWS) if torch.device(device).type == "cpu" else batch_size
    with torch.inference_mode():
        out = [model(X[i:i + step].to(device)) for i in range(0, len(X), step)]
    model.train(was_training)
    return torch.cat(out) if out else torch.empty(0, 0)  # outside inference mode: an ordinary tensor


def predict_proba(model: nn.Module, X: np.ndarray, batch_size: int, device: torch.device) -> np.ndarray:
    """Class probabilities (n, n_classes) as float64 numpy."""
    return torch.softmax(predict_logits(model, X, batch_size, device).double(), dim=1).cpu().numpy()


class _EarlyStopper:
    """Tracks the monitored value; keeps a copy of the best weights."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg.early_stopping
        self.best_value: float | None = None
        self.best_loss = float("inf")  # validation loss of the best epoch (tie_break)
        self.best_epoch = 0
        self.best_state: dict | None = None
        self.waited = 0

    def update(self, row: dict, model: nn.Module) -> bool:
        """Record an epoch; True when training should stop."""
        if self.cfg is None:
            return False
        if self._is_best(row):
            self.best_value, self.best_loss, self.best_epoch, self.waited = \
                row[self.cfg.monitor], row["val_loss"], row["epoch"], 0
            self.best_state = copy.deepcopy(model.state_dict())
            return False
        self.waited += 1
        return self.waited >= self.cfg.patience

    def _is_best(self, row: dict) -> bool:
        """Better than the best epoch so far by more than min_delta, or (tie_break val_loss) as good on the score
        and lower in validation loss."""
        value = row[self.cfg.monitor]
        if self.best_value is None:
            return True
        if self.cfg.monitor == "val_loss":
            return self.best_value - value > self.cfg.min_delta
        if value - self.best_value > self.cfg.min_delta:
            return True
        return self.cfg.tie_break == "val_loss" and value >= self.best_value and row["val_loss"] < self.best_loss

    def state_dict(self) -> dict:
        return {"best_value": self.best_value, "best_loss": self.best_loss, "best_epoch": self.best_epoch,
                "waited": self.waited, "best_state": copy.deepcopy(self.best_state)}

    def load_state_dict(self, state: dict) -> None:
        self.best_value, self.best_epoch = state["best_value"], state["best_epoch"]
        self.best_loss = state.get("best_loss", float("inf"))  # checkpoints written before tie_break existed
        self.waited, self.best_state = state["waited"], state["best_state"]

    def restore(self, model: nn.Module) -> int:
        if self.best_state is not None:
            model.load_state_dict(self.best_state)
        return self.best_epoch
