"""`imbrun sanity`: can the configured model fit a small stratified subset? Catches broken inputs and bad lr early.

A model that cannot reach (near) perfect training scores on 100 rows after 200 epochs will not learn the full
data either: the learning rate, the inputs' scale or the architecture is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imbrun.errors import ImbrunError

PER_CLASS_FLOOR = 5  # every class keeps min(5, its rows) rows in the subset


@dataclass
class SanityResult:
    rows: int
    epochs_run: int
    macro_f1: float
    accuracy: float
    passed: bool
    first_loss: float
    last_loss: float
    notes: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)

    def verdict(self) -> str:
        """The one-line PASS/FAIL verdict."""
        scores = f"train macro-F1 {self.macro_f1:.3f}, accuracy {self.accuracy:.3f} after {self.epochs_run} epochs"
        if self.passed:
            return f"PASS: the model fits {self.rows} rows ({scores})"
        return f"FAIL: the model does not fit {self.rows} rows: only {scores}; {'; '.join(self.hints)}"


def stratified_subset(y: np.ndarray, rows: int, seed: int) -> np.ndarray:
    """Sorted indices of about `rows` rows: min(5, count) per class first, the rest drawn in proportion.

    Example: stratified_subset(np.array([0] * 95 + [1] * 5), 10, 0) keeps all 5 rows of class 1 and 5 of class 0.
    """
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    if rows >= len(y):
        return np.arange(len(y))
    chosen = []
    for code in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == code))
        chosen.append(members[:min(PER_CLASS_FLOOR, len(members))])
    taken = np.concatenate(chosen)
    rest = np.setdiff1d(np.arange(len(y)), taken)
    extra = max(rows - len(taken), 0)
    if extra:
        # the remaining rows are drawn uniformly, which keeps the class shares of y in expectation
        taken = np.concatenate([taken, rng.choice(rest, size=min(extra, len(rest)), replace=False)])
    return np.sort(taken)


def overfit_check(cfg, rows: int = 100, epochs: int = 200, target: float = 0.99,
                  use_cache: bool = True) -> SanityResult:
    """Train the config's model (plain cross-entropy, no early stopping) on a stratified subset of the training
    split and score it on that same subset; PASS when training macro-F1 reaches `target`.

    The data is prepared and split as `train` does (preprocess.interpolate, the prepared-data cache)."""
    from imbrun.balance import build_plan
    from imbrun.config.balance import NoBalance
    from imbrun.data.split import split_data
    from imbrun.device import resolve_device, seed_everything
    from imbrun.models import build_model
    from imbrun.prepare import experiment_data
    from imbrun.preprocess import Preprocessor
    from imbrun.train import TrainingInterrupted, fit

    device = resolve_device(cfg.train.device, cfg.train.threads)
    seed_everything(cfg.seed)
    data, _ = experiment_data(cfg, use_cache=use_cache)
    splits = split_data(data, cfg.split, cfg.seed)
    pre = Preprocessor(cfg.preprocess).fit(splits.train.X)
    subset = splits.train.take(stratified_subset(splits.train.y, rows, cfg.seed))
    X, y = pre.transform(subset.X, "train"), subset.y
    plan = build_plan(NoBalance(), y, splits.class_names, X, seed=cfg.seed)
    model = build_model(cfg.model, X.shape[1:], len(splits.class_names)).to(device)
    train_cfg = cfg.train.model_copy(update={"epochs": epochs, "early_stopping": None})
    history: list[dict] = []

    def reached() -> bool:  # fit checks it after each epoch: stop as soon as the subset is fit
        return bool(history) and history[-1]["val_macro_f1"] >= target

    try:
        fit(model, plan.train_arrays, (X, y), plan.loss, train_cfg, seed=cfg.seed, device=device,
            on_epoch=history.append, stop_requested=reached)
    except TrainingInterrupted:
        pass  # the target was reached: stop there
    except ImbrunError as exc:  # the loss became NaN/inf
        if not history:
            history.append({"epoch": 0, "train_loss": float("nan"), "val_macro_f1": 0.0, "val_accuracy": 0.0})
        return _result(cfg, len(y), history, target, splits.train.X, diverged=str(exc))
    return _result(cfg, len(y), history, target, splits.train.X)


def _result(cfg, rows: int, history: list[dict], target: float, raw_X: np.ndarray,
            diverged: str | None = None) -> SanityResult:
    last = history[-1]
    first_loss, last_loss = history[0]["train_loss"], last["train_loss"]
    passed = diverged is None and last["val_macro_f1"] >= target
    result = SanityResult(rows, last["epoch"], last["val_macro_f1"], last["val_accuracy"], passed,
                          first_loss, last_loss, notes=_model_notes(cfg))
    if not passed:
        result.hints = _hints(cfg, rows, history, raw_X, diverged)
    return result


def _model_notes(cfg) -> list[str]:
    """What differs from the real training run, said plainly."""
    notes = [f"plain cross-entropy (balance.kind none), no early stopping, optimizer {cfg.train.optimizer} "
             f"lr {cfg.train.lr:g}, batch size {cfg.train.batch_size}"]
    dropout = getattr(cfg.model, "dropout", 0.0)
    if dropout or getattr(cfg.model, "batch_norm", False):
        notes.append(f"the config's model is kept as is (dropout {dropout:g}"
                     f"{', batch norm' if getattr(cfg.model, 'batch_norm', False) else ''}): they are off when the "
                     f"subset is scored (eval mode) but slow the fitting down")
    return notes


def _hints(cfg, rows: int, history: list[dict], raw_X: np.ndarray, diverged: str | None) -> list[str]:
    """Why it may have failed, from what the run showed."""
    lr = cfg.train.lr
    losses = np.array([r["train_loss"] for r in history], dtype=float)
    hints = []
    if diverged is not None or (len(losses) > 2 and losses[-1] > losses[0]):
        hints.append(f"the training loss rose or became NaN: try a lower lr (train.lr {lr:g} -> {lr / 10:g})")
    elif losses[-1] > 0.9 * losses[0]:
        hints.append(f"the training loss barely moved ({losses[0]:.4f} -> {losses[-1]:.4f}): try a higher lr "
                     f"(train.lr {lr:g} -> {lr * 10:g}) or more epochs")
    else:
        hints.append(f"the training loss fell ({losses[0]:.4f} -> {losses[-1]:.4f}) but not far enough: try more "
                     f"epochs, a lower/higher lr around {lr:g}, or a larger model")
    steps = -(-rows // cfg.train.batch_size) * len(history)  # optimiser steps taken: ceil(rows / batch) per epoch
    if steps < 1000:
        hints.append(f"only {steps} optimiser steps were taken (batch_size {cfg.train.batch_size}, {rows} rows): "
                     f"more --epochs or a smaller train.batch_size give it more")
    scale = float(np.nanmax(np.abs(raw_X))) if raw_X.size and not np.isnan(raw_X).all() else 0.0
    if cfg.preprocess.normalize.kind == "none" and scale > 10:
        hints.append(f"the inputs are not normalised (max |x| = {scale:.4g}): set preprocess.normalize.kind: "
                     f"standard")
    else:
        hints.append("check the inputs are normalised and the labels match the rows")
    return hints


def sanity_lines(result: SanityResult) -> list[str]:
    """What `imbrun sanity` prints: the settings used, then the verdict line."""
    return [f"note: {note}" for note in result.notes] + [
        f"training loss {result.first_loss:.4g} -> {result.last_loss:.4g}", result.verdict()]
