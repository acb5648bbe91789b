"""Re-score a saved run: reload model + preprocessing, rebuild the test split (or read other data), score it."""

from __future__ import annotations

import pickle
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from imbrun.artifacts import write_scores
from imbrun.balance import predictor_from_spec
from imbrun.config import load_config
from imbrun.data import load_data
from imbrun.data.base import LoadedData
from imbrun.data.split import split_data
from imbrun.data.table import unseen_category_warnings
from imbrun.device import resolve_device
from imbrun.diagnose import write_warnings
from imbrun.errors import ImbrunError
from imbrun.metrics import report
from imbrun.models import build_model
from imbrun.prepare import experiment_data, interpolated
from imbrun.preprocess import Preprocessor
from imbrun.runs import RunDir
from imbrun.train import predict_proba


def load_trained(run: RunDir, device: torch.device):
    """(config, model in eval mode, preprocessor, class names) from a run folder; never executes its code.

    config.yaml is read with a safe YAML loader, model.pt with torch.load(weights_only=True) (tensors only, no
    pickled objects) and preprocess.npz without pickle; a file that needs more is refused in one line.
    """
    cfg = load_config(run.file("config.yaml"))
    meta = run.read_json("model.json")
    shape = tuple(meta["input_shape"])  # the predictor: one model, or e.g. cascade stages (model.json's spec)
    model = predictor_from_spec(meta.get("predictor"), lambda k: build_model(cfg.model, shape, k),
                                len(meta["class_names"]))
    try:
        with warnings.catch_warnings():  # e.g. torch's note on a foreign pickle protocol: the error below says it
            warnings.simplefilter("ignore")
            state = torch.load(run.file("model.pt"), map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        with np.load(run.file("preprocess.npz"), allow_pickle=False) as saved:
            pre = Preprocessor.from_state(cfg.preprocess, dict(saved))
    except (pickle.UnpicklingError, RuntimeError, ValueError, OSError, KeyError, EOFError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ImbrunError(f"{run.path}: cannot load the saved model safely ({type(exc).__name__}: {reason[:200]}); "
                          "model.pt must hold tensors only and preprocess.npz plain arrays") from None
    return cfg, model.to(device).eval(), pre, meta


SPLITS = {"train": "train", "val": "validation", "test": "evaluation"}  # --split -> the name in preprocess errors


def evaluate_run(run_path: str | Path, data: str | None = None,
                 split: str | None = None) -> tuple[RunDir, dict, bool | None]:
    """Score the run's model; returns (eval folder, metrics, whether they equal the stored metrics).

    Without `data` one split of the run's own data ("test" by default, or "val" or "train") is rebuilt from its
    config exactly as training built it (loader, gap filling, split seed, saved preprocessing state) and the
    result is checked against metrics.json's block of that split (none is stored for "train": None). The
    training split is scored as it was split, before any resampling. With `data` (a CSV path or a config YAML),
    every row of that data is scored (for a config with a test file, its test file); classes are matched by name.
    Example: evaluate_run("runs/20240101-120000_none", split="val")  # -> eval/<timestamp>_val/
    """
    if split is not None and split not in SPLITS:
        raise ImbrunError(f"--split {split}: unknown split; known: {', '.join(SPLITS)}")
    if split is not None and data is not None:
        raise ImbrunError("--split picks a split of the run's own data; drop --data or --split")
    split = split or "test"
    run = RunDir.open(run_path, completed=True)
    device = resolve_device("cpu")
    cfg, model, pre, meta = load_trained(run, device)
    class_names = meta["class_names"]
    if data is None:
        part = getattr(split_data(_prepared(cfg), cfg.split, cfg.seed), split)
        row_ids, y, X = part.row_ids, part.y, part.X
    else:
        other = _load_other(cfg, data, meta.get("categories"))  # one-hot columns as in training
        row_ids, y, X = other.row_ids, _remap(other, class_names, data), other.X
    if tuple(X.shape[1:]) != tuple(meta["input_shape"]):
        raise ImbrunError(f"{data or run.path}: the model expects rows of shape {tuple(meta['input_shape'])}, "
                          f"the data has {tuple(X.shape[1:])}")
    probs = predict_proba(model, pre.transform(X, SPLITS[split]), cfg.train.eval_batch_size, device)
    out = RunDir.create(run.path / "eval", split if data is None else Path(data).stem)
    if data is not None:  # e.g. categories the training data never had (printed by the CLI)
        write_warnings(out, unseen_category_warnings(other.notes, data))
    source = {"data": f"run {split} split", "split": split} if data is None else {"data": data}
    metrics = write_scores(out, class_names, (row_ids, y, probs.argmax(1)), probs,
                           extra={"run": str(run.path), **source, "time": time.strftime("%Y-%m-%dT%H:%M:%S")})
    matches = None
    if data is None and split != "train":
        stored = stored_block(run, split)
        matches = stored["confusion_matrix"] == metrics["test"]["confusion_matrix"] and \
            stored["overall"] == metrics["test"]["overall"]
    out.set_status("completed")
    return out, metrics, matches


def stored_block(run: RunDir, split: str) -> dict:
    """metrics.json's scores of one split ("test" or "val"), or one line naming the file and what is missing."""
    metrics = run.read_json("metrics.json")
    block = metrics.get(split) if isinstance(metrics, dict) else None
    missing = [key for key in ("overall", "confusion_matrix") if not isinstance(block, dict) or key not in block]
    if missing:
        what = f"no {split!r} block" if not isinstance(block, dict) else f"{split}.{missing[0]} is missing"
        raise ImbrunError(f"{run.file('metrics.json')}: {what}; it is not the metrics.json `imbrun train` writes")
    return block


def _load_other(cfg, data: str, categories: dict | None = None) -> LoadedData:
    if data.endswith((".yaml", ".yml")):
        loaded = interpolated(load_data(load_config(data).data, categories=categories),
                              cfg.preprocess.interpolate)  # as in training
        return loaded.test if loaded.test is not None else loaded
    if cfg.data.kind != "csv":
        raise ImbrunError(f"--data {data}: a bare file can only replace a csv data source; pass a config YAML")
    section = cfg.data.model_copy(update={"path": data, "test_path": None})
    return interpolated(load_data(section, categories=categories), cfg.preprocess.interpolate)


def _prepared(cfg) -> LoadedData:
    """The run's data as training saw it: loaded and gap-filled (preprocess.interpolate), from the cache."""
    return experiment_data(cfg)[0]


def _remap(other: LoadedData, class_names: list[str], source: str) -> np.ndarray:
    """Codes of `other` re-expressed in the run's class order, matching classes by name."""
    unknown = sorted(set(other.class_names) - set(class_names))
    if unknown:
        raise ImbrunError(f"{source}: classes {unknown} were not in the training data (classes: {class_names})")
    mapping = np.array([class_names.index(name) for name in other.class_names], dtype=np.int64)
    return mapping[other.y]


POSTHOC_KINDS = ("logit_adjust", "threshold")


def evaluate_posthoc(run_path: str | Path, kind: str, tau: float = 1.0,
                     metric: str = "macro_f1") -> tuple[RunDir, dict, None]:
    """Score the run's checkpoint on its test split after a post-hoc correction, in a new eval folder.

    "logit_adjust": logits - tau * log(prior) (Menon et al. 2021), with the prior the model was trained on
    (training_prior: a sampler's or resampler's distribution when the run used one). "threshold": per-class
    offsets on log p tuned on the run's validation split to maximise `metric` (balance.posthoc.tune_thresholds),
    then applied to the test split. Nothing is retrained; the run folder itself is never changed.
    Example: evaluate_posthoc("runs/20240101-120000_none", "logit_adjust", tau=1.0)
    """
    from imbrun.balance.posthoc import METRICS, tune_thresholds
    from imbrun.train import predict_logits

    if kind not in POSTHOC_KINDS:
        raise ImbrunError(f"--posthoc {kind}: unknown correction; known: {', '.join(POSTHOC_KINDS)}")
    if metric not in METRICS:  # before any data is loaded
        raise ImbrunError(f"--tune-metric {metric}: unknown metric; known: {', '.join(METRICS)}")
    run = RunDir.open(run_path, completed=True)
    device = resolve_device("cpu")
    cfg, model, pre, meta = load_trained(run, device)
    class_names = meta["class_names"]
    if kind == "logit_adjust":
        prior, source = training_prior(run, class_names)  # read before the data: a missing file fails fast
    splits = split_data(_prepared(cfg), cfg.split, cfg.seed)

    def log_probs(part, what: str) -> np.ndarray:  # (n, K) log-softmax of the model's logits
        logits = predict_logits(model, pre.transform(part.X, what), cfg.train.eval_batch_size, device)
        return torch.log_softmax(logits.detach().double(), dim=1).cpu().numpy()

    logp_val, logp_test = log_probs(splits.val, "validation"), log_probs(splits.test, "evaluation")
    if kind == "logit_adjust":
        shift = -tau * np.log(prior)  # (K,) -tau * log prior
        setting = {"kind": kind, "tau": tau, "prior": dict(zip(class_names, prior.tolist())), "prior_source": source}
    else:
        shift = tune_thresholds(np.exp(logp_val), splits.val.y, metric=metric)  # (K,) offsets on log p
        setting = {"kind": kind, "metric": metric, "offsets": shift.tolist()}
    if (meta.get("predictor") or {}).get("adjust") is not None:  # the run's own offsets are part of the model
        setting["on_top_of"] = "the run's own post-hoc offsets (threshold or logit_adjust posthoc)"
    probs_val, probs_test = _softmax(logp_val + shift), _softmax(logp_test + shift)
    label = f"posthoc_{kind}" + (f"_tau{tau:g}" if kind == "logit_adjust" else f"_{metric}")
    out = RunDir.create(run.path / "eval", label)
    metrics = write_scores(out, class_names, (splits.test.row_ids, splits.test.y, probs_test.argmax(1)), probs_test,
                           extra={"run": str(run.path), "data": "run test split", "posthoc": setting,
                                  "time": time.strftime("%Y-%m-%dT%H:%M:%S")},
                           val_block=report(splits.val.y, probs_val.argmax(1), class_names))
    out.set_status("completed")
    return out, metrics, None


def training_prior(run: RunDir, class_names: list[str]) -> tuple[np.ndarray, str]:
    """(prior (K,) summing to 1, where it comes from): the class distribution the model was trained on.

    From balance.json, first found: a weighted sampler's expected_class_distribution (what each epoch drew on
    average, fitted to the labels after any resampling), the resampled labels' counts (resampling.train_after),
    else the training split's counts (class_counts.train). Training-time `logit_adjust` (posthoc: true) is
    fitted to the resampled labels too; a sampler's expected draws are used here as well, being what the model saw.
    """
    if not run.file("balance.json").is_file():
        raise ImbrunError(f"{run.path}: balance.json is missing; logit adjustment needs the training class counts")
    record = run.read_json("balance.json")
    parts = record.get("parts", [record])
    sampled = next((p["expected_class_distribution"] for p in parts if "expected_class_distribution" in p), None)
    resampled = (record.get("resampling") or {}).get("train_after")
    if sampled is not None and "cascade" not in str(record.get("strategy")):  # cascade stages draw their own
        values, key = sampled, "expected_class_distribution"
    elif resampled is not None:
        values, key = resampled, "resampling.train_after"
    else:
        values, key = record.get("class_counts", {}).get("train", {}), "class_counts.train"
    missing = [name for name in class_names if name not in values]
    if missing:
        raise ImbrunError(f"{run.file('balance.json')}: {key} has no value for class {missing[0]!r}")
    prior = np.array([float(values[name]) for name in class_names])
    if not (prior > 0).all():
        zero = class_names[int(np.argmin(prior > 0))]
        raise ImbrunError(f"{run.file('balance.json')}: {key} is 0 for class {zero!r}; logit adjustment needs "
                          "every class in the training prior")
    source = f"balance.json {key}"
    return prior / prior.sum(), source


def _softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (n, K) scores."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
