"""run_experiment(cfg): config -> data -> split -> preprocess -> balance -> model -> train -> metrics -> run folder."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from imbrun.artifacts import write_scores
from imbrun.balance import build_plan
from imbrun.config import Experiment
from imbrun.data import load_data
from imbrun.data.split import split_data
from imbrun.device import resolve_device, seed_everything
from imbrun.environment import environment
from imbrun.metrics import report
from imbrun.models import build_model
from imbrun.plots import curves_png
from imbrun.preprocess import Preprocessor
from imbrun.runs import RunDir
from imbrun.train import fit, predict_proba


def run_experiment(cfg: Experiment, runs_dir: str | Path = "runs",
                   on_epoch: Callable[[dict], None] | None = None) -> RunDir:
    """Train and score one experiment; returns its completed run folder."""
    device = resolve_device(cfg.train.device, cfg.train.threads)
    seed_everything(cfg.seed)
    data = load_data(cfg.data)
    splits = split_data(data, cfg.split, cfg.seed)
    pre = Preprocessor(cfg.preprocess).fit(splits.train.X)
    X_train, X_val, X_test = (pre.transform(p.X, what) for p, what in
                              ((splits.train, "train"), (splits.val, "validation"), (splits.test, "test")))
    plan = build_plan(cfg.balance, splits.train.y, splits.class_names)
    model = build_model(cfg.model, X_train.shape[1:], len(splits.class_names)).to(device)

    run = RunDir.create(runs_dir, cfg.name)
    run.write_text("config.yaml", dump_config(cfg))
    run.set_status("running")
    try:
        run.write_json("env.json", environment(str(device), cfg.seed, torch.get_num_threads(), data.sources))
        result = fit(model, (X_train, splits.train.y), (X_val, splits.val.y), plan.loss, cfg.train,
                     seed=cfg.seed, device=device, draw_epoch=plan.sampler, on_epoch=on_epoch)
        save_model(run, model, X_train.shape[1:], splits.class_names, pre)
        history = pd.DataFrame(result.history)
        run.write_frame("history.csv", history)
        curves_png(result.history, run.file("curves.png"))
        run.write_json("balance.json", {**plan.final_record(), **class_counts(splits)})
        probs_val = predict_proba(model, X_val, cfg.train.eval_batch_size, device)
        probs = predict_proba(model, X_test, cfg.train.eval_batch_size, device)
        write_scores(run, splits.class_names, (splits.test.row_ids, splits.test.y, probs.argmax(1)), probs,
                     extra={"best_epoch": result.best_epoch, "epochs_run": len(result.history),
                            "stopped_early": result.stopped_early},
                     val_block=report(splits.val.y, probs_val.argmax(1), splits.class_names))
    except BaseException as exc:
        run.set_status("failed", error=f"{type(exc).__name__}: {exc}")
        raise
    run.set_status("completed")
    return run


def dump_config(cfg: Experiment) -> str:
    """The fully resolved config (defaults filled in) as YAML."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def class_counts(splits) -> dict:
    """Class counts per split, by class name."""
    def counts(y):
        return dict(zip(splits.class_names, np.bincount(y, minlength=len(splits.class_names)).tolist()))
    return {"class_counts": {"train": counts(splits.train.y), "val": counts(splits.val.y),
                             "test": counts(splits.test.y)}}


def save_model(run: RunDir, model: torch.nn.Module, input_shape, class_names: list[str], pre: Preprocessor) -> None:
    """Weights only (loaded back with weights_only=True), plus what rebuilding the model needs."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    run.write_bytes("model.pt", lambda h: torch.save(state, h))
    run.write_json("model.json", {"input_shape": list(input_shape), "class_names": class_names})
    buffer = io.BytesIO()
    np.savez(buffer, **pre.save())
    run.write_bytes("preprocess.npz", lambda h: h.write(buffer.getvalue()))
