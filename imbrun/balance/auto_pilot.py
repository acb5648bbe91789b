"""Pilots of `balance: {kind: auto}`: successive halving over candidate strategies, judged on the validation split.

A pilot trains one candidate for a rung's epochs on the training split and scores it on the validation split; the
test split is never handed to this module. run_pilot is a plain picklable function, so pilots run in this process,
in worker processes or as Ray tasks alike (auto_backends.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from imbrun.balance.posthoc import METRICS
from imbrun.metrics import confusion, per_class


@dataclass
class PilotData:
    """The arrays pilots see: training and validation only (preprocessed), and the class names."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    class_names: list[str]


@dataclass
class PilotContext:
    """What every pilot shares: model and train sections, seeds, device, the metric and the time limit."""

    model: object  # the experiment's model section
    train: object  # the experiment's train section (epochs replaced per rung)
    seed: int  # the experiment's seed (resampling)
    init_seed: int
    shuffle_seed: int
    device: str
    metric: str
    minority: int  # code of the smallest training class (minority_recall_at_precision)
    precision_floor: float
    deadline: float | None = None  # time.time() after which pilots stop (budget_seconds)
    threads: int | None = None  # torch threads in a worker process (None: leave as is)


@dataclass
class Pilot:
    label: str
    setting: object  # a CandidateSetting
    epochs: int


def score(metric: str, y: np.ndarray, pred: np.ndarray, k: int, minority: int = 0, floor: float = 0.5) -> float:
    """The selection metric of predictions: macro_f1, gmean, balanced_accuracy (over classes present in y), or
    minority_recall_at_precision: recall of class `minority`, 0 when its precision is below `floor`.

    Example: score("minority_recall_at_precision", [0, 1, 1], [1, 1, 0], 2, minority=1, floor=0.5) == 0.5
    """
    y, pred = np.asarray(y), np.asarray(pred)
    if metric in METRICS:
        return METRICS[metric](y, pred, k)
    stats = per_class(confusion(y, pred, k))
    return float(stats["recall"][minority]) if stats["precision"][minority] >= floor else 0.0


def run_pilot(pilot: Pilot, data: PilotData, ctx: PilotContext) -> dict:
    """Train `pilot` on the training split, score it on validation.

    Returns {"label", "status": completed | stopped (time budget) | skipped (budget already spent) | failed,
    "score", "tiebreak" (balanced accuracy, which ranks equal scores), "epochs_run", "seconds", "error",
    "early_stopped", "predictions" (validation predictions, (n_val,) ints)}; never raises for the candidate's
    own failure. early_stopped: early stopping ended this one-model training, so more epochs (same seeds) would
    train and score exactly the same.
    """
    import torch

    from imbrun.balance import TrainJob, build_plan
    from imbrun.device import seed_everything
    from imbrun.errors import ImbrunError
    from imbrun.models import build_model
    from imbrun.train import TrainingInterrupted, predict_proba

    out = {"label": pilot.label, "status": "completed", "score": None, "tiebreak": None, "epochs_run": 0,
           "seconds": 0.0, "error": None, "early_stopped": False}
    if ctx.deadline is not None and time.time() >= ctx.deadline:
        return {**out, "status": "skipped"}
    if ctx.threads:
        torch.set_num_threads(ctx.threads)
    started, device, k = time.perf_counter(), torch.device(ctx.device), len(data.class_names)
    stop = (lambda: time.time() >= ctx.deadline) if ctx.deadline is not None else None
    try:
        plan = build_plan(pilot.setting, data.y_train, data.class_names, data.X_train, seed=ctx.seed)
        seed_everything(ctx.init_seed)  # every candidate starts from the same weights
        shape = data.X_train.shape[1:]
        job = TrainJob(build_model(ctx.model, shape, k).to(device),
                       lambda n: build_model(ctx.model, shape, n).to(device), plan.train_arrays,
                       (data.X_val, data.y_val), ctx.train.model_copy(update={"epochs": pilot.epochs}),
                       ctx.shuffle_seed, device, stop_requested=stop)
        predictor, result = plan.train(job)
        probs = predict_proba(predictor, data.X_val, ctx.train.eval_batch_size, device)  # (n_val, k)
        out["score"] = score(ctx.metric, data.y_val, probs.argmax(1), k, ctx.minority, ctx.precision_floor)
        out["tiebreak"] = score("balanced_accuracy", data.y_val, probs.argmax(1), k)
        out["predictions"] = probs.argmax(1)
        out["epochs_run"] = len(result.history)
        out["early_stopped"] = bool(plan.procedure is None and result.stopped_early)  # cascade, cRT: several fits
    except TrainingInterrupted as stopped:
        out.update(status="stopped", epochs_run=int(stopped.checkpoint["epoch"]) - 1)
    except (ImbrunError, ValueError, RuntimeError) as exc:  # this candidate's failure, e.g. SMOTE on too few rows
        out.update(status="failed", error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    out["seconds"] = round(time.perf_counter() - started, 3)
    return out


def rung_schedule(n_candidates: int, eta: int, budget: int) -> list[tuple[int, int]]:
    """(epochs, halvings) of each rung: as many halvings as leave at most `eta` candidates for the last rung, which
    trains `budget` epochs; each earlier halving trains eta times fewer (at least 1). Halvings whose epochs are
    equal share one rung, which keeps 1/eta^halvings of its candidates: a pilot retrained for the same epochs with
    the same seeds would score the same, so the choice is that of the unmerged schedule, at less cost.

    Example: rung_schedule(10, 3, 9) == [(1, 1), (3, 1), (9, 1)]; rung_schedule(10, 3, 1) == [(1, 3)]
    """
    rungs = 1
    while eta ** rungs < n_candidates:
        rungs += 1
    schedule: list[tuple[int, int]] = []
    for r in range(rungs):
        epochs = max(1, budget // eta ** (rungs - 1 - r))
        if schedule and schedule[-1][0] == epochs:
            schedule[-1] = (epochs, schedule[-1][1] + 1)
        else:
            schedule.append((epochs, 1))
    return schedule


def rung_epochs(n_candidates: int, eta: int, budget: int) -> list[int]:
    """Epochs of each rung of rung_schedule, all different, the last `budget`.

    Example: rung_epochs(7, 3, 9) == [3, 9]; rung_epochs(2, 3, 9) == [9]; rung_epochs(10, 3, 3) == [1, 3]
    """
    return [epochs for epochs, _ in rung_schedule(n_candidates, eta, budget)]


RunRung = Callable[[list[Pilot]], list[dict]]


def successive_halving(candidates: list[tuple[str, object]], run_rung: RunRung, eta: int, budget: int) -> dict:
    """Pilot `candidates` [(label, setting)] rung by rung (rung_schedule), keeping the best 1/eta per halving.

    Ranked by score, then balanced accuracy (e.g. G-mean is 0 for every candidate that misses one small class),
    then the candidates' order.

    A pilot early stopping ended before its rung's epochs is not trained again: its result carries to the later
    rungs (marked "reused"), as a retraining with more epochs and the same seeds would stop at the same epoch.

    Returns {"rungs": [{"epochs", "scores", "pilots", "kept"}], "winner": label or None, "decided_at": rung
    index or None, "stopped_by_time": bool}. When the time budget cuts a rung short, the winner is the best of
    the last complete rung (in the first rung: the best pilot that finished; None when none did).
    """
    order = {label: i for i, (label, _) in enumerate(candidates)}
    settings = dict(candidates)
    schedule = rung_schedule(len(candidates), eta, budget)
    alive, rungs = [label for label, _ in candidates], []
    finished: dict[str, dict] = {}  # label -> the result of a pilot early stopping ended: later rungs reuse it
    for r, (epochs, halvings) in enumerate(schedule):
        fresh = iter(run_rung([Pilot(label, settings[label], epochs) for label in alive if label not in finished]))
        results = [{**finished[label], "reused": True, "seconds": 0.0} if label in finished else next(fresh)
                   for label in alive]
        finished.update({res["label"]: res for res in results if res["status"] == "completed"
                         and res.get("early_stopped")})
        scores = {res["label"]: res["score"] for res in results if res["status"] == "completed"}
        stopped = any(res["status"] in ("stopped", "skipped") for res in results)
        ranked = _ranked(results, order)
        keep = len(alive)
        for _ in range(halvings):  # as the unmerged rungs would: each keeps 1/eta of the pilots that completed
            keep = min(math.ceil(keep / eta), len(ranked))
        kept = [] if stopped else ranked[:1] if r == len(schedule) - 1 else ranked[:keep]
        rungs.append({"epochs": epochs, "scores": scores, "pilots": results, "kept": kept})
        if stopped:
            return {"rungs": rungs, "stopped_by_time": True, **_winner_when_stopped(rungs, order)}
        alive = kept
    return {"rungs": rungs, "stopped_by_time": False, "winner": alive[0] if alive else None,
            "decided_at": len(rungs) - 1 if alive else None}


def _ranked(results: list[dict], order: dict[str, int]) -> list[str]:
    """Labels of the completed pilots, best first."""
    done = [res for res in results if res["status"] == "completed"]
    return [res["label"] for res in sorted(done, key=lambda res: (-res["score"], -res["tiebreak"],
                                                                   order[res["label"]]))]


def _winner_when_stopped(rungs: list[dict], order: dict[str, int]) -> dict:
    """The best of the last complete rung; the first rung, when it was cut short, by the pilots that finished."""
    r = len(rungs) - 2 if len(rungs) > 1 else 0
    ranked = _ranked(rungs[r]["pilots"], order)
    return {"winner": ranked[0] if ranked else None, "decided_at": r if ranked else None}
