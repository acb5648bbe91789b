"""The scored-split files shared by `train` and `evaluate`: metrics, per-class table, confusion, predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from imbrun.calibration import write_probability_quality
from imbrun.errors import ImbrunError
from imbrun.metrics import report
from imbrun.plots import confusion_png
from imbrun.runs import RunDir
from imbrun.stats import test_fingerprint


def predictions_frame(row_ids, y_true, y_pred, probs: np.ndarray, class_names: list[str]) -> pd.DataFrame:
    """predictions.csv: row id, true and predicted class names, one probability column per class."""
    names = np.asarray(class_names, dtype=object)
    frame = pd.DataFrame({"row_id": row_ids, "true": names[y_true], "pred": names[y_pred]})
    for k, name in enumerate(class_names):
        frame[f"prob_{name}"] = np.round(probs[:, k], 6)
    return frame


def per_class_frame(block: dict) -> pd.DataFrame:
    rows = [{"class": name, **values} for name, values in block["per_class"].items()]
    return pd.DataFrame(rows, columns=["class", "precision", "recall", "f1", "support"])


def write_scores(run: RunDir, class_names: list[str], test: tuple[np.ndarray, np.ndarray, np.ndarray],
                 probs: np.ndarray, extra: dict | None = None, val_block: dict | None = None) -> dict:
    """Score (row_ids, y_true, y_pred) and write metrics.json, per_class.csv, confusion matrix and predictions."""
    row_ids, y_true, y_pred = test
    finite = np.isfinite(probs).all(axis=1)
    if not finite.all():  # e.g. a test value far outside the training range overflowing the network
        raise ImbrunError(f"scoring: the model's output is not finite for {int((~finite).sum())} test row(s) "
                          f"(first row_id {row_ids[np.argmin(finite)]}); check them for extreme values or normalise "
                          f"the inputs (preprocess.normalize.kind: standard)", exit_code=1)
    test_block = report(y_true, y_pred, class_names)
    metrics = {"class_names": class_names, "test": test_block,
               "test_fingerprint": test_fingerprint(row_ids, y_true), **(extra or {})}
    if val_block is not None:
        metrics["val"] = val_block
    cm = np.asarray(test_block["confusion_matrix"])
    run.write_frame("per_class.csv", per_class_frame(test_block))
    run.write_frame("confusion_matrix.csv", pd.DataFrame(cm, index=class_names, columns=class_names)
                    .rename_axis("true\\pred").reset_index())
    confusion_png(cm, class_names, run.file("confusion_matrix.png"), title="test")
    run.write_frame("predictions.csv", predictions_frame(row_ids, y_true, y_pred, probs, class_names))
    test_block["probability"] = write_probability_quality(run, y_true, probs, class_names)  # AUCs, ECE, figures
    run.write_json("metrics.json", metrics)
    return metrics
