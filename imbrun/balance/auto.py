"""`balance: {kind: auto}`: measure the training split, shortlist strategies, pilot them, train the winner.

    choice = choose_strategy(cfg.balance, data, cfg.model, cfg.train, seeds, device)   # train + validation only
    plan = auto_plan(cfg.balance, choice, y_train, class_names, X_train, seed)          # the winner's plan

The choice record (measurements, every candidate with its reason, each rung's scores, the winner and why) goes to
balance.json under `auto`; after training, AutoThresholds keeps per-class offsets tuned on validation only when
they raise the chosen metric there.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from imbrun.balance import build_plan
from imbrun.balance.auto_backends import pilot_runner
from imbrun.balance.auto_candidates import candidates_for, dump_setting, measure, parse_setting
from imbrun.balance.auto_confidence import confident_choice
from imbrun.balance.auto_pilot import PilotContext, PilotData, rung_epochs, score, successive_halving
from imbrun.balance.plan import BalancePlan
from imbrun.balance.posthoc import DEFAULT_GRID, METRICS, apply_thresholds, tune_thresholds
from imbrun.balance.predictors import OffsetModel
from imbrun.config.balance import strategy_items
from imbrun.config.balance_auto import AutoBalance, AutoRay
from imbrun.config.balance_combine import roles
from imbrun.train import predict_proba

FALLBACK = "class_weight"  # when no pilot finished: the strategy that works at any minority size


def choose_strategy(cfg: AutoBalance, data: PilotData, model_cfg, train_cfg, seeds: tuple[int, int, int],
                    device: str) -> dict:
    """The choice record: measurements, candidates (included or not, and why), rungs, chosen strategy and reason.

    seeds: (experiment seed, init seed, shuffle seed), the same for every pilot. Deterministic for fixed seeds,
    backend threads and no budget_seconds. Only data's training and validation arrays are used.
    """
    m = measure(data.y_train, data.X_train, data.class_names)
    candidates = candidates_for(cfg, m)
    piloted = [(c.label, c.setting) for c in candidates if c.included]
    budget = cfg.budget_epochs or train_cfg.epochs
    started = time.time()
    deadline = started + cfg.budget_seconds if cfg.budget_seconds else None
    minority = data.class_names.index(m["minority_class"])
    ctx = PilotContext(model_cfg, train_cfg, *seeds, device, cfg.metric, minority, cfg.precision_floor, deadline)
    with pilot_runner(cfg.backend, cfg.workers, data, ctx, cfg.ray) as run_rung:  # none and class_weight at least
        result = successive_halving(piloted, run_rung, cfg.eta, budget)
    predictions = _last_predictions(result["rungs"])
    chosen, check = FALLBACK, None
    if result["winner"] is not None:
        chosen, check = confident_choice(result["winner"], FALLBACK, predictions, data.y_val, cfg.metric,
                                         len(data.class_names), minority, cfg.precision_floor, cfg.confidence,
                                         seeds[0])
    setting = next((c.setting for c in candidates if c.label == chosen), None) or parse_setting({"kind": FALLBACK})
    return {
        "measurements": m,
        "candidates": [c.record() for c in candidates],
        "metric": cfg.metric, **({"precision_floor": cfg.precision_floor}
                                 if cfg.metric == "minority_recall_at_precision" else {}),
        "budget": {"epochs": budget, "eta": cfg.eta, "schedule": rung_epochs(len(piloted), cfg.eta, budget),
                   "seconds": cfg.budget_seconds, "backend": cfg.backend, "workers": cfg.workers,
                   **({"ray": (cfg.ray or AutoRay()).model_dump(mode="json")} if cfg.backend == "ray" else {}),
                   "pilot_seconds": round(time.time() - started, 3), "stopped_by_time": result["stopped_by_time"]},
        "rungs": result["rungs"],
        "chosen": chosen,
        "chosen_balance": dump_setting(setting),
        "reason": _confidence_reason(_reason(cfg.metric, result, result["winner"] or FALLBACK), check),
        **({"confidence_check": check} if check else {}),
    }


def _last_predictions(rungs: list[dict]) -> dict[str, np.ndarray]:
    """label -> validation predictions of its last completed pilot; removed from the rung records (balance.json
    keeps scores, not n_val predictions per pilot)."""
    last: dict[str, np.ndarray] = {}
    for rung in rungs:
        for pilot in rung["pilots"]:
            pred = pilot.pop("predictions", None)
            if pred is not None and pilot["status"] == "completed":
                last[pilot["label"]] = np.asarray(pred)
    return last


def _confidence_reason(reason: str, check: dict | None) -> str:
    """The halving's reason with the confidence check's clause added (unchanged when there was no check)."""
    if check is None:
        return reason
    shown = (f"better than {check['default']} in {check['win_rate']:.0%} of {check['resamples']} bootstrap "
             f"resamples of the {check['validation_rows']} validation rows")
    if check["chosen"] == check["winner"]:
        return f"{reason}; {shown}"
    return (f"{check['winner']} had the {reason}; but it was {shown}, fewer than the {check['needed']:.0%} "
            f"needed (balance.confidence): {check['default']}, the safe default, is kept")


def _reason(metric: str, result: dict, chosen: str) -> str:
    """One sentence: why `chosen` won (its score beside the runner-up's and none's) or why it is the fallback."""
    if result["winner"] is None:
        why = "the time budget ran out before any pilot finished" if result["stopped_by_time"] else \
            "every pilot failed"
        return f"{why}; {FALLBACK} is the fallback (it works at any minority size)"
    rung = result["rungs"][result["decided_at"]]
    scores = rung["scores"]
    others = sorted((label for label in scores if label != chosen), key=lambda label: -scores[label])
    shown = others[:1] + (["none"] if "none" in others[1:] else [])
    versus = ", ".join(f"{label} {scores[label]:.4f}" for label in shown)
    cut = " (the time budget cut the next rung short)" if result["stopped_by_time"] else ""
    tie = ""
    if others and scores[others[0]] == scores[chosen]:
        tiebreak = {p["label"]: p["tiebreak"] for p in rung["pilots"] if p["status"] == "completed"}
        tie = (f"; tied with {others[0]}, higher balanced accuracy ({tiebreak[chosen]:.4f})"
               if tiebreak[chosen] > tiebreak[others[0]] else f"; tied with {others[0]}, listed first")
    return (f"highest validation {metric} at rung {result['decided_at'] + 1} ({rung['epochs']} epochs): "
            f"{scores[chosen]:.4f}" + (f", ahead of {versus}" if versus else "") + tie + cut)


def auto_plan(cfg: AutoBalance, choice: dict, y_train: np.ndarray, class_names: list[str], X_train: np.ndarray,
              seed: int) -> BalancePlan:
    """The chosen strategy's plan (fitted to the training split), carrying the choice record for balance.json."""
    setting = parse_setting(choice["chosen_balance"])
    plan = build_plan(setting, y_train, class_names, X_train, seed=seed)
    record = dict(choice)
    plan.record = {**plan.record, "strategy": f"auto:{choice['chosen']}", "auto": record}
    predicts = [item.kind for item in strategy_items(setting) if "prediction" in roles(item)]
    if cfg.tune_thresholds and not predicts:
        minority = class_names.index(choice["measurements"]["minority_class"])
        plan.adjust = AutoThresholds(cfg.metric, class_names, minority, cfg.precision_floor, record, seed)
    else:
        why = "tune_thresholds is off" if not cfg.tune_thresholds else \
            f"{predicts[0]} already adjusts the predictions after training"
        record.update(thresholds_tuned=False, thresholds={"kept": False, "reason": why})
    return plan


def tune_offsets(metric: str, probs: np.ndarray, y: np.ndarray, minority: int, floor: float) -> np.ndarray:
    """Per-class offsets on log p (K,) maximising `metric` on (probs, y): posthoc.tune_thresholds, or for
    minority_recall_at_precision the minority's offset alone (the smallest |offset| among the best)."""
    if metric in METRICS:
        return tune_thresholds(probs, y, metric)
    k = probs.shape[1]
    offsets, best = np.zeros(k), score(metric, y, apply_thresholds(probs, np.zeros(k)), k, minority, floor)
    for g in sorted({float(g) for g in DEFAULT_GRID}, key=lambda g: (abs(g), g)):
        trial = np.zeros(k)
        trial[minority] = g
        s = score(metric, y, apply_thresholds(probs, trial), k, minority, floor)
        if s > best:
            offsets, best = trial, s
    return offsets


def cross_fitted_gain(metric: str, probs: np.ndarray, y: np.ndarray, minority: int, floor: float,
                      seed: int) -> float:
    """How much tuned offsets raise `metric` on rows they were not tuned on: validation split in two halves
    (stratified, fixed seed), offsets tuned on one half scored on the other, the two gains averaged.

    Tuned and scored on the same rows, offsets never score lower, so that comparison cannot say whether they help.
    """
    rng = np.random.default_rng(seed)
    half = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == c))
        half[rows[: (len(rows) + rng.integers(2)) // 2]] = True  # an odd class's extra row goes to a random half
    k, gains = probs.shape[1], []
    for held in (half, ~half):
        if held.all() or not held.any():
            return 0.0
        offsets = tune_offsets(metric, probs[~held], y[~held], minority, floor)
        with_offsets = score(metric, y[held], apply_thresholds(probs[held], offsets), k, minority, floor)
        gains.append(with_offsets - score(metric, y[held], probs[held].argmax(1), k, minority, floor))
    return float(np.mean(gains))


class AutoThresholds:
    """The prediction adjustment auto adds: per-class offsets tuned on validation, kept only when they raise the
    metric on validation rows they were not tuned on (cross_fitted_gain > 0)."""

    def __init__(self, metric: str, class_names: list[str], minority: int, floor: float, record: dict,
                 seed: int = 0):
        self.metric, self.class_names, self.minority, self.floor = metric, class_names, minority, floor
        self.auto = record  # the choice record; record() returns it with the thresholds added
        self.seed = seed
        self.kept = False
        self.details: dict = {}

    def wrap(self, model: nn.Module, job) -> nn.Module:
        X_val, y_val = job.val[0], np.asarray(job.val[1])
        k, batch = len(self.class_names), job.cfg.eval_batch_size
        probs = predict_proba(model, X_val, batch, job.device)  # (n_val, K)
        before = score(self.metric, y_val, probs.argmax(1), k, self.minority, self.floor)
        gain = cross_fitted_gain(self.metric, probs, y_val, self.minority, self.floor, self.seed)
        offsets = tune_offsets(self.metric, probs, y_val, self.minority, self.floor)
        wrapped = OffsetModel(model, k, on_log_probs=True)
        wrapped.offsets.copy_(torch.as_tensor(offsets, dtype=torch.float32))
        wrapped = wrapped.to(job.device)
        after = score(self.metric, y_val, predict_proba(wrapped, X_val, batch, job.device).argmax(1), k,
                      self.minority, self.floor)
        self.kept = gain > 0 and after > before
        self.details = {"kept": self.kept, "metric": self.metric, "tuned_on": "validation", "val_before": before,
                        "val_after": after, "cross_fitted_gain": gain,
                        "offsets": dict(zip(self.class_names, map(float, offsets)))}
        return wrapped if self.kept else model

    def spec(self) -> dict | None:
        """model.json's adjust: offsets on log-probabilities when kept, else None (the plain model)."""
        return {"kind": "offsets", "on_log_probs": True} if self.kept else None

    def record(self) -> dict:
        return {"auto": {**self.auto, "thresholds_tuned": self.kept, "thresholds": self.details}}
