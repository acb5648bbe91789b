"""run_experiment(cfg): config -> data -> split -> preprocess -> balance -> model -> train -> metrics -> run folder."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from imbrun.artifacts import write_scores
from imbrun.balance import TrainJob, build_plan
from imbrun.balance.auto import auto_plan, choose_strategy
from imbrun.balance.auto_pilot import PilotData
from imbrun.balance.plan import BalancePlan
from imbrun.config import Experiment
from imbrun.config.balance_auto import AutoBalance
from imbrun.data.base import LoadedData
from imbrun.data.split import Splits, split_data, split_warnings, splits_record
from imbrun.device import resolve_device, seed_everything
from imbrun.diagnose import TrainingMonitor, write_warnings
from imbrun.environment import environment
from imbrun.errors import ImbrunError
from imbrun.interrupt import RunInterrupted, SignalGuard, abort_on_signals, stop_on_signals
from imbrun.metrics import report
from imbrun.models import build_model
from imbrun.plots import curves_png
from imbrun.prepare import experiment_data
from imbrun.preprocess import Preprocessor
from imbrun.runs import RunDir
from imbrun.tracking import Tracker, flat_config, open_trackers
from imbrun.train import CHECKPOINT_KEYS, TrainingInterrupted, predict_proba


@dataclass
class Prepared:
    """Everything training needs, built the same way for a new run and for `--resume`."""

    data: LoadedData
    cache: str  # "hit", "miss" or "off"
    splits: Splits
    pre: Preprocessor
    X: dict[str, np.ndarray]  # "train", "val", "test": preprocessed features
    plan: BalancePlan
    device: torch.device
    auto: dict | None = None  # balance kind auto: the choice record (saved as auto.json, reused by --resume)


def prepare(cfg: Experiment, use_cache: bool = True, auto_choice: dict | None = None,
            progress: bool | None = None) -> Prepared:
    """data (+ gap filling, cached) -> split -> preprocess (fitted on train) -> balance plan (train only).

    With balance kind auto the strategy is chosen first, on the training and validation splits only;
    `auto_choice` (a run's auto.json) reuses an earlier choice instead.
    """
    device = resolve_device(cfg.train.device, cfg.train.threads)
    data, cache = experiment_data(cfg, use_cache=use_cache, progress=progress)
    splits = split_data(data, cfg.split, cfg.seed)
    pre = Preprocessor(cfg.preprocess).fit(splits.train.X)
    X = {name: pre.transform(getattr(splits, name).X, what)
         for name, what in (("train", "train"), ("val", "validation"), ("test", "test"))}
    if not isinstance(cfg.balance, AutoBalance):
        plan = build_plan(cfg.balance, splits.train.y, splits.class_names, X["train"], seed=cfg.seed)  # train only
        return Prepared(data, cache, splits, pre, X, plan, device)
    choice = auto_choice or _choose_balance(cfg, splits, X["train"], X["val"], device)  # never the test split
    plan = auto_plan(cfg.balance, choice, splits.train.y, splits.class_names, X["train"], seed=cfg.seed)
    return Prepared(data, cache, splits, pre, X, plan, device, choice)


def _choose_balance(cfg: Experiment, splits: Splits, X_train: np.ndarray, X_val: np.ndarray,
                    device: torch.device) -> dict:
    """balance kind auto: pilot the candidates on the training split, judged on the validation split."""
    data = PilotData(X_train, splits.train.y, X_val, splits.val.y, splits.class_names)
    return choose_strategy(cfg.balance, data, cfg.model, cfg.train, (cfg.seed, _init_seed(cfg), _shuffle_seed(cfg)),
                           str(device))


def run_experiment(cfg: Experiment, runs_dir: str | Path = "runs", on_epoch: Callable[[dict], None] | None = None,
                   *, use_cache: bool = True, progress: bool | None = None) -> RunDir:
    """Train and score one experiment; returns its completed run folder.

    Ctrl-C / SIGTERM stop at the next batch, write checkpoint.pt and mark the run `interrupted` (ImbrunError with
    the resume command); any other failure marks it `failed` with the error and keeps what was written.
    """
    prep = prepare(cfg, use_cache, progress=progress)
    run = RunDir.create(runs_dir, cfg.name)
    run.write_text("config.yaml", dump_config(cfg))
    if prep.auto is not None:
        run.write_json("auto.json", prep.auto)  # --resume trains the same choice without piloting again
    run.set_status("running")
    return _train_and_score(cfg, run, prep, on_epoch, resume=None)


def resume_experiment(path: str | Path, on_epoch: Callable[[dict], None] | None = None,
                      *, use_cache: bool = True, progress: bool | None = None) -> RunDir:
    """Continue an `interrupted` run from its checkpoint.pt; ends with the metrics of an uninterrupted run."""
    from imbrun.config import load_config

    run = RunDir.open(path, require=("config.yaml", "status.json"))
    if run.status() != "interrupted" or not run.file("checkpoint.pt").is_file():
        raise ImbrunError(f"{run.path}: only an interrupted run with a checkpoint.pt can be resumed "
                          f"(status: {run.status()})")
    cfg = load_config(run.file("config.yaml"))
    checkpoint = load_checkpoint(run)
    choice = run.read_json("auto.json") if run.file("auto.json").is_file() else None
    prep = prepare(cfg, use_cache, auto_choice=choice, progress=progress)
    run.set_status("running", resumed_at_epoch=int(checkpoint["epoch"]))
    return _train_and_score(cfg, run, prep, on_epoch, resume=checkpoint)


def load_checkpoint(run: RunDir) -> dict:
    """checkpoint.pt as fit() wrote it (tensors and plain values only), or one line saying it cannot be read."""
    path = run.file("checkpoint.pt")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)  # never runs code from the file
    except Exception:  # noqa: BLE001 - truncated, garbage or not a torch file: all mean the same to the user
        checkpoint = None
    if not isinstance(checkpoint, dict) or any(key not in checkpoint for key in CHECKPOINT_KEYS):
        raise ImbrunError(f"{path}: the checkpoint is damaged and cannot be read; train the experiment again: "
                          f"imbrun train {run.file('config.yaml')}")
    return checkpoint


def _train_and_score(cfg: Experiment, run: RunDir, prep: Prepared, on_epoch, resume: dict | None) -> RunDir:
    """Train, score and mark the run; a signal anywhere in it leaves the run `interrupted`, never `running`."""
    with abort_on_signals() as guard:
        return _train_score_mark(cfg, run, prep, on_epoch, resume, guard)


def _train_score_mark(cfg: Experiment, run: RunDir, prep: Prepared, on_epoch, resume: dict | None,
                      guard: SignalGuard) -> RunDir:
    splits, X = prep.splits, prep.X
    monitor = TrainingMonitor(splits.class_names, splits.val.y)
    tracker = Tracker()
    try:
        tracker = open_trackers(cfg.tracking, run)
        tracker.log_params(flat_config(cfg.model_dump(mode="json")))
        env = environment(str(prep.device), cfg.seed, torch.get_num_threads(), prep.data.sources)
        run.write_json("env.json", {**env, "init_seed": _init_seed(cfg), "shuffle_seed": _shuffle_seed(cfg),
                                    "data_cache": prep.cache})
        run.write_json("splits.json", splits_record(splits))
        if prep.data.notes:
            run.write_json("prepare.json", prep.data.notes)
        seed_everything(_init_seed(cfg))  # weights and dropout: the same for a new run and for a resumed one
        model = build_model(cfg.model, X["train"].shape[1:], len(splits.class_names)).to(prep.device)
        # a procedure fit() can checkpoint pauses at the next batch on the first signal; elsewhere the guard aborts
        with stop_on_signals() if prep.plan.resumable else nullcontext(None) as stop:
            job = TrainJob(model, lambda n: build_model(cfg.model, X["train"].shape[1:], n).to(prep.device),
                           prep.plan.train_arrays, (X["val"], splits.val.y), cfg.train, _shuffle_seed(cfg),
                           prep.device, _epoch_log(run, on_epoch, tracker, monitor), on_val_pred=monitor.on_epoch,
                           stop_requested=stop, resume=resume)
            model, result = prep.plan.train(job)  # the strategy's procedure; `model` predicts all classes
        tracker.log_final(_score(cfg, run, prep, model, result, monitor))
    except TrainingInterrupted as stopped:
        guard.shield()
        run.write_bytes("checkpoint.pt", lambda h: torch.save(stopped.checkpoint, h))
        run.set_status("interrupted", epoch=int(stopped.checkpoint["epoch"]))
        tracker.close("interrupted")
        raise ImbrunError(f"interrupted during epoch {stopped.checkpoint['epoch']}; checkpoint saved. "
                          f"Resume with: imbrun train --resume {run.path}", exit_code=130) from None
    except KeyboardInterrupt:
        guard.shield()
        why = ("a second signal, or one outside training" if prep.plan.resumable
               else "this balance procedure cannot pause to save one")
        error = f"{guard.describe()} without a checkpoint ({why}); train again to get a complete run"
        run.set_status("interrupted", error=error)
        tracker.close("interrupted")
        raise RunInterrupted(f"{run.path}: interrupted, {error}") from None
    except BaseException as exc:
        guard.shield()
        run.set_status("failed", error=f"{type(exc).__name__}: {exc}")
        tracker.close("failed")
        raise
    guard.shield()  # trained and scored: marking it completed is not cut short
    run.file("checkpoint.pt").unlink(missing_ok=True)
    run.set_status("completed")
    tracker.log_artifacts(run)
    tracker.close("completed")
    return run


def _score(cfg: Experiment, run: RunDir, prep: Prepared, model, result, monitor: TrainingMonitor) -> dict:
    """Everything after training: model, history, balance record, test and validation scores, warnings.

    Returns metrics.json as written.
    """
    splits, X, device, batch = prep.splits, prep.X, prep.device, cfg.train.eval_batch_size
    save_model(run, model, X["train"].shape[1:], splits.class_names, prep.pre, prep.plan.predictor_spec(),
               prep.data.categories)
    run.write_frame("history.csv", pd.DataFrame(result.history))
    curves_png(result.history, run.file("curves.png"))
    scored = {"val": (X["val"], splits.val.y), "test": (X["test"], splits.test.y)}
    counts = class_counts(splits)
    run.write_json("balance.json", {**prep.plan.final_record(), **counts,
                                    **prep.plan.describe(model, scored, splits.class_names)})
    probs_val = predict_proba(model, X["val"], batch, device)
    probs = predict_proba(model, X["test"], batch, device)
    write_scores(run, splits.class_names, (splits.test.row_ids, splits.test.y, probs.argmax(1)), probs,
                 extra={"best_epoch": result.best_epoch, "epochs_run": len(result.history),
                        "stopped_early": result.stopped_early},
                 val_block=report(splits.val.y, probs_val.argmax(1), splits.class_names))
    metrics = run.read_json("metrics.json")
    write_warnings(run, monitor.finish(metrics, counts["class_counts"]) + split_warnings(splits))
    return metrics


def _epoch_log(run: RunDir, on_epoch, tracker: Tracker, monitor: TrainingMonitor) -> Callable[[dict], None]:
    """Each epoch's row: appended to history.jsonl (progress on disk), sent to the trackers and the display (with
    the monitor's live note, e.g. a majority collapse, under "note")."""
    def log(row: dict) -> None:
        with run.file("history.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
        tracker.log_epoch(row)
        if on_epoch:
            on_epoch({**row, "note": monitor.live_note()})
    return log


def _init_seed(cfg: Experiment) -> int:
    return cfg.seed if cfg.train.init_seed is None else cfg.train.init_seed


def _shuffle_seed(cfg: Experiment) -> int:
    return cfg.seed if cfg.train.shuffle_seed is None else cfg.train.shuffle_seed


def dump_config(cfg: Experiment) -> str:
    """The fully resolved config (defaults filled in) as YAML."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def class_counts(splits) -> dict:
    """Class counts per split, by class name."""
    def counts(y):
        return dict(zip(splits.class_names, np.bincount(y, minlength=len(splits.class_names)).tolist()))
    return {"class_counts": {"train": counts(splits.train.y), "val": counts(splits.val.y),
                             "test": counts(splits.test.y)}}


def save_model(run: RunDir, model: torch.nn.Module, input_shape, class_names: list[str], pre: Preprocessor,
               predictor: dict | None = None, categories: dict[str, list[str]] | None = None) -> None:
    """Weights only (loaded back with weights_only=True), plus what rebuilding the model needs.

    `predictor` (BalancePlan.predictor_spec) says how the saved modules are arranged, e.g. cascade stages.
    """
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    run.write_bytes("model.pt", lambda h: torch.save(state, h))
    run.write_json("model.json", {"input_shape": list(input_shape), "class_names": class_names,
                                  "predictor": predictor or {"procedure": {"kind": "single"}},
                                  "categories": categories})  # one-hot columns: `evaluate --data` reuses them
    buffer = io.BytesIO()
    np.savez(buffer, **pre.save())
    run.write_bytes("preprocess.npz", lambda h: h.write(buffer.getvalue()))
