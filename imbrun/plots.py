"""PNG figures for a run: confusion matrices and training curves (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_png(cm: np.ndarray, class_names: list[str], path: Path, title: str = "") -> None:
    """Two panels: counts and row-normalised (recall on the diagonal), class names on both axes."""
    plt = _pyplot()
    cm = np.asarray(cm)
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)
    size = max(4.0, 0.5 * len(class_names) + 2.5)
    fig, axes = plt.subplots(1, 2, figsize=(2 * size + 1, size))
    for ax, values, label, fmt in ((axes[0], cm, "counts", "d"), (axes[1], norm, "row-normalised", ".2f")):
        image = ax.imshow(values, cmap="Blues", vmin=0)
        ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
        ax.set_yticks(range(len(class_names)), class_names)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{title} {label}".strip())
        if len(class_names) <= 20:
            top = values.max() if values.size else 0
            for (i, j), v in np.ndenumerate(values):
                ax.text(j, i, format(v, fmt), ha="center", va="center", fontsize=8,
                        color="white" if top and v > top / 2 else "black")
        fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def curves_png(history: list[dict], path: Path) -> None:
    """Loss (train and validation) and validation macro-F1 per epoch."""
    plt = _pyplot()
    epochs = [row["epoch"] for row in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, [row["train_loss"] for row in history], label="train loss")
    left.plot(epochs, [row["val_loss"] for row in history], label="val loss")
    left.set_xlabel("epoch")
    left.legend()
    right.plot(epochs, [row["val_macro_f1"] for row in history], label="val macro-F1")
    right.plot(epochs, [row["val_balanced_accuracy"] for row in history], label="val balanced accuracy")
    right.set_xlabel("epoch")
    right.set_ylim(0, 1.02)
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
