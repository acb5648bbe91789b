"""Probability quality of a scored split: one-vs-rest ROC-AUC, PR-AUC and ECE per class, top-label ECE, figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imbrun.plots import _pyplot

ECE_BINS = 15


def _bins(confidence: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin index (n,) in [0, n_bins) of each confidence; bin b holds (b/n_bins, (b+1)/n_bins], bin 0 also 0."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)


def reliability(y_true, probs, n_bins: int = ECE_BINS) -> dict:
    """Top-label calibration: per bin count, mean confidence and accuracy, and ECE = sum n_b/n |acc_b - conf_b|.

    Example: probs [[0.9, 0.1], [0.6, 0.4]] with y [0, 1] puts 0.9 (right) and 0.6 (wrong) in two bins,
    so ECE = (|1 - 0.9| + |0 - 0.6|) / 2 = 0.35.
    """
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y_true, dtype=np.int64)
    confidence = p.max(axis=1)  # (n,) probability of the predicted class
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    index = _bins(confidence, n_bins)
    count = np.bincount(index, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(index, weights=confidence, minlength=n_bins) / count
        accuracy = np.bincount(index, weights=correct, minlength=n_bins) / count
    used = count > 0
    ece = float(np.sum(count[used] * np.abs(accuracy[used] - mean_conf[used])) / max(len(y), 1))
    return {"ece": ece, "bins": n_bins, "count": count.tolist(),
            "confidence": [float(v) if u else None for v, u in zip(mean_conf, used)],
            "accuracy": [float(v) if u else None for v, u in zip(accuracy, used)]}


def class_ece(y_true, probs, k: int, n_bins: int = ECE_BINS) -> float:
    """One-vs-rest ECE of class k: rows binned by p_k, ECE_k = sum_b n_b/n |share of class k in b - mean p_k in b|.

    Defined whether or not class k occurs (then it measures how much probability the model gives it wrongly).
    Example: p_k = [0.9, 0.6, 0.2] for rows that are k, not k, k falls in three bins:
    ECE_k = (|1 - 0.9| + |0 - 0.6| + |1 - 0.2|) / 3 = 0.5.
    """
    p = np.asarray(probs, dtype=np.float64)[:, k]  # (n,) probability of class k
    positive = (np.asarray(y_true, dtype=np.int64) == k).astype(np.float64)
    index = _bins(p, n_bins)
    count = np.bincount(index, minlength=n_bins)
    used = count > 0
    gap = np.abs(np.bincount(index, weights=positive, minlength=n_bins) - np.bincount(index, weights=p,
                                                                                      minlength=n_bins))
    return float(gap[used].sum() / max(len(p), 1))  # n_b |acc_b - conf_b| = |sum positive - sum p| in bin b


def probability_quality(y_true, probs, class_names: list[str]) -> dict:
    """{"per_class": {name: {"roc_auc", "pr_auc", "ece"}}, "macro_roc_auc", "macro_pr_auc", "ece", "macro_ece"}.

    One-vs-rest scores from scikit-learn (roc_auc_score, average_precision_score); a class absent from
    y_true, or the only class present, has undefined AUCs (None) and is left out of the macro means.
    "ece" is the top-label ECE (reliability); per_class "ece" is one-vs-rest (class_ece), "macro_ece" their mean.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y_true, dtype=np.int64)
    per_class = {}
    for k, name in enumerate(class_names):
        positive = y == k
        ece = class_ece(y, p, k)
        if positive.all() or not positive.any():
            per_class[name] = {"roc_auc": None, "pr_auc": None, "ece": ece}
            continue
        per_class[name] = {"roc_auc": float(roc_auc_score(positive, p[:, k])),
                           "pr_auc": float(average_precision_score(positive, p[:, k])), "ece": ece}
    defined = [v for v in per_class.values() if v["roc_auc"] is not None]
    return {"per_class": per_class,
            "macro_roc_auc": float(np.mean([v["roc_auc"] for v in defined])) if defined else None,
            "macro_pr_auc": float(np.mean([v["pr_auc"] for v in defined])) if defined else None,
            "ece": reliability(y, p)["ece"],
            "macro_ece": float(np.mean([v["ece"] for v in per_class.values()])) if per_class else None}


def reliability_png(y_true, probs, path: Path) -> None:
    """Accuracy against confidence per bin (the diagonal is perfect calibration), bin counts below."""
    plt = _pyplot()
    table = reliability(y_true, probs)
    centres = (np.arange(ECE_BINS) + 0.5) / ECE_BINS
    used = [i for i, c in enumerate(table["count"]) if c]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(5, 6), height_ratios=[3, 1], sharex=True)
    top.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect")
    top.bar(centres[used], [table["accuracy"][i] for i in used], width=1 / ECE_BINS, edgecolor="black",
            alpha=0.7, label="accuracy")
    top.plot([table["confidence"][i] for i in used], [table["accuracy"][i] for i in used], "o", color="C3",
             label="mean confidence")
    top.set_ylabel("accuracy")
    top.set_title(f"Reliability (top label), ECE {table['ece']:.4f}")
    top.legend(loc="upper left", fontsize=8)
    bottom.bar(centres, table["count"], width=1 / ECE_BINS, color="grey")
    bottom.set_xlabel("confidence")
    bottom.set_ylabel("rows")
    bottom.set_xlim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def pr_curves_png(y_true, probs, class_names: list[str], path: Path) -> None:
    """One-vs-rest precision-recall curve of each class present in y_true, PR-AUC in the legend."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    plt = _pyplot()
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y_true, dtype=np.int64)
    fig, ax = plt.subplots(figsize=(6, 5))
    for k, name in enumerate(class_names):
        positive = y == k
        if not positive.any() or positive.all():
            continue
        precision, recall, _ = precision_recall_curve(positive, p[:, k])
        ax.step(recall, precision, where="post",
                label=f"{name} (AP {average_precision_score(positive, p[:, k]):.3f})")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title("Precision-recall, one vs rest")
    if ax.get_lines():  # no curve when the test split holds a single class
        ax.legend(fontsize=7, loc="lower left", ncol=max(1, len(class_names) // 12))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_probability_quality(run, y_true, probs, class_names: list[str]) -> dict:
    """Scores for metrics.json, plus reliability.png and pr_curves.png in the run (or eval) folder."""
    reliability_png(y_true, probs, run.file("reliability.png"))
    pr_curves_png(y_true, probs, class_names, run.file("pr_curves.png"))
    return probability_quality(y_true, probs, class_names)
