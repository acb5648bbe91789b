"""Comparison figures: per-class F1 of every run, and where a run's confusions moved against the baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imbrun.plots import _pyplot


def per_class_f1_png(result: dict, path: Path) -> None:
    """Grouped bars: one group per class, one bar per run (F1 on the test split)."""
    plt = _pyplot()
    runs = [r["run"] for r in result["overall"]]
    classes = list(dict.fromkeys(r["class"] for r in result["per_class"]))
    f1 = {(r["class"], r["run"]): r["f1"] for r in result["per_class"]}
    width = 0.8 / len(runs)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.4 * len(classes) * len(runs) + 2), 4.5))
    x = np.arange(len(classes))
    for i, run in enumerate(runs):
        ax.bar(x + (i - (len(runs) - 1) / 2) * width, [f1[(c, run)] for c in classes], width,
               label=_short(run, i == 0))
    ax.set_xticks(x, classes, rotation=45 if len(classes) > 6 else 0, ha="right" if len(classes) > 6 else "center")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("F1 (test)")
    ax.set_title("Per-class F1")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), ncol=max(1, len(runs) // 12))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _short(name: str, baseline: bool) -> str:
    label = name if len(name) <= 40 else "…" + name[-39:]
    return f"{label} (baseline)" if baseline else label


def row_normalised(cm) -> np.ndarray:
    """Each true-class row divided by its total (recall on the diagonal); all-zero rows stay 0."""
    cm = np.asarray(cm, dtype=np.float64)
    rows = cm.sum(axis=1, keepdims=True)
    return np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)


def confusion_difference_png(base, run, path: Path) -> None:
    """Row-normalised confusion of `run` minus the baseline's: red = more of that outcome, blue = less."""
    plt = _pyplot()
    names = base.metrics["class_names"]
    diff = row_normalised(run.metrics["test"]["confusion_matrix"]) - \
        row_normalised(base.metrics["test"]["confusion_matrix"])  # (K, K), each entry in [-1, 1]
    size = max(4.0, 0.5 * len(names) + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(diff, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{_short(run.name, False)}\nminus baseline (row-normalised)", fontsize=9)
    if len(names) <= 20:
        for (i, j), v in np.ndenumerate(diff):
            ax.text(j, i, f"{v:+.2f}", ha="center", va="center", fontsize=8,
                    color="white" if abs(v) > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
