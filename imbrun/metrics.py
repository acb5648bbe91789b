"""Per-class and summary metrics from labels alone (numpy; sklearn-compatible definitions)."""

from __future__ import annotations

import numpy as np


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts; rows are true classes, columns predicted."""
    codes = np.asarray(y_true, dtype=np.int64) * n_classes + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(codes, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def per_class(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support per class; 0 where a ratio is 0/0 (sklearn's zero_division=0)."""
    tp = np.diag(cm).astype(np.float64)
    predicted, support = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support}


def summary(cm: np.ndarray) -> dict[str, float]:
    """Accuracy, balanced accuracy, macro/weighted F1, MCC and G-mean of a confusion matrix.

    Balanced accuracy and G-mean average over the classes present in y_true (sklearn; imbalanced-learn with
    labels= those classes — without it, a class predicted but never true counts as recall 0);
    macro-F1 averages over every class, absent ones counting 0 (sklearn's labels=all, zero_division=0).
    """
    stats = per_class(cm)
    support = stats["support"]
    present = support > 0
    total = cm.sum()
    recalls = stats["recall"][present]
    return {
        "accuracy": float(np.trace(cm) / total) if total else 0.0,
        "balanced_accuracy": float(recalls.mean()) if recalls.size else 0.0,
        "macro_f1": float(stats["f1"].mean()),
        "weighted_f1": float((stats["f1"] * support).sum() / total) if total else 0.0,
        "mcc": _mcc(cm),
        "gmean": float(np.prod(recalls) ** (1.0 / recalls.size)) if recalls.size else 0.0,
    }


def _mcc(cm: np.ndarray) -> float:
    """Multi-class Matthews correlation (Gorodkin's R_K), as sklearn.metrics.matthews_corrcoef."""
    cm = cm.astype(np.float64)
    t, p = cm.sum(axis=1), cm.sum(axis=0)
    c, s = np.trace(cm), cm.sum()
    cov_ytyp = c * s - t @ p
    cov_ypyp = s * s - p @ p
    cov_ytyt = s * s - t @ t
    denom = np.sqrt(cov_ytyt * cov_ypyp)
    return float(cov_ytyp / denom) if denom > 0 else 0.0


def report(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> dict:
    """The metrics.json block for one split: overall scores, per-class table and confusion matrix."""
    cm = confusion(y_true, y_pred, len(class_names))
    stats = per_class(cm)
    classes = {
        name: {"precision": float(stats["precision"][k]), "recall": float(stats["recall"][k]),
               "f1": float(stats["f1"][k]), "support": int(stats["support"][k])}
        for k, name in enumerate(class_names)
    }
    return {"overall": summary(cm), "per_class": classes, "confusion_matrix": cm.tolist()}
