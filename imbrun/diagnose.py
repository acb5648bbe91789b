"""Warnings during and after training: majority collapse, divergence, uninformative accuracy, empty splits.

A TrainingMonitor watches the epoch rows of fit() (and, when given, each epoch's validation predictions), then
finish(metrics, class_counts) returns every warning as {code, message, epoch?}: warnings.json of a run.
"""

from __future__ import annotations

import numpy as np

STREAK = 3  # epochs in a row before a pattern counts (fewer when training was shorter)
ACCURACY_MARGIN = 0.01  # "within 1 point" of the majority share


class TrainingMonitor:
    """Collects fit()'s epoch rows; `y_val` (n_val,) are the validation labels the predictions are scored on.

    Example:
        monitor = TrainingMonitor(class_names, y_val)
        fit(..., on_epoch=lambda row: monitor.on_epoch(row, val_pred))  # val_pred: (n_val,) predicted codes
        warnings = monitor.finish(metrics, class_counts)
    """

    def __init__(self, class_names: list[str], y_val: np.ndarray | None = None):
        self.class_names = list(class_names)
        self.y_val = None if y_val is None else np.asarray(y_val, dtype=np.int64)
        self.rows: list[dict] = []
        self.predicted: list[np.ndarray | None] = []  # per epoch: the validation predictions, when usable

    def on_epoch(self, row: dict, val_pred: np.ndarray | None = None) -> None:
        """Record one epoch; a restart at epoch 1 (a new phase, e.g. cRT's second fit) starts a new record."""
        if self.rows and row["epoch"] <= self.rows[-1]["epoch"]:
            self.rows, self.predicted = [], []
        usable = val_pred is not None and self.y_val is not None and len(val_pred) == len(self.y_val) \
            and len(val_pred) > 0 and int(np.max(val_pred)) < len(self.class_names)
        self.rows.append(dict(row))
        self.predicted.append(np.asarray(val_pred, dtype=np.int64) if usable else None)

    def live_note(self) -> str | None:
        """A short note on the latest epoch's validation predictions for the progress display, e.g.
        "all val predictions '9'" or "val recall 0: 'S', 'F'"; None when nothing is wrong (or nothing is known)."""
        if not self.predicted or self.predicted[-1] is None:
            return None
        predicted = self.predicted[-1]
        if len(np.unique(predicted)) == 1:
            return f"all val predictions {self.class_names[int(predicted[0])]!r}"
        missed = [self.class_names[int(c)] for c in np.unique(self.y_val) if not np.any(predicted[self.y_val == c] == c)]
        return f"val recall 0: {', '.join(map(repr, missed))}" if missed else None

    def finish(self, metrics: dict | None = None, class_counts: dict | None = None) -> list[dict]:
        """Every warning: from the epochs seen, the final test metrics (metrics.json) and class counts per split.

        class_counts: {"train": {class: rows}, "val": {...}, "test": {...}} (balance.json's class_counts).
        """
        found = collapse_warnings(self.predicted, self.rows, self.y_val, self.class_names)
        found += divergence_warnings(self.rows)
        if metrics is not None:
            found += test_collapse_warnings(metrics, already=any(w["code"] == "majority_collapse" for w in found))
            found += accuracy_warnings(metrics)
        if class_counts is not None:
            found += empty_class_warnings(class_counts)
        return found


def collapse_warnings(predicted: list[np.ndarray | None], rows: list[dict], y_val: np.ndarray | None,
                      class_names: list[str]) -> list[dict]:
    """All validation predictions from one class, or a class with recall 0, over the last STREAK epochs."""
    if not predicted or predicted[-1] is None or y_val is None:
        return []
    need = min(STREAK, len(predicted))
    tail = _trailing(predicted, lambda p: p is not None and len(np.unique(p)) == 1 and p[0] == predicted[-1][0])
    if tail >= need:
        only = class_names[int(predicted[-1][0])]
        first = rows[len(rows) - tail]["epoch"]
        return [_warning("majority_collapse", f"every validation prediction was {only!r} "
                         f"{_span(first, rows[-1]['epoch'])}: the model ignores the other classes; try a balancing "
                         f"strategy (class_weight, focal, weighted_sampler) or check the learning rate",
                         first)]
    found = []
    for code in np.unique(y_val):
        true = y_val == code
        tail = _trailing(predicted, lambda p: p is not None and not np.any(p[true] == code))
        if tail >= need:
            first = rows[len(rows) - tail]["epoch"]
            found.append(_warning("zero_recall", f"class {class_names[int(code)]!r} had validation recall 0 "
                                  f"{_span(first, rows[-1]['epoch'])} ({int(true.sum())} rows, none found); "
                                  f"weight it (class_weight, focal) or sample it more (weighted_sampler)", first))
    return found


def divergence_warnings(rows: list[dict]) -> list[dict]:
    """Training loss rising, or validation loss rising over the first STREAK+ epochs while training loss falls."""
    if len(rows) < 2:
        return []
    train = [r["train_loss"] for r in rows]
    val = [r.get("val_loss", float("nan")) for r in rows]
    lr = rows[0].get("lr")
    advice = f"lower the learning rate, e.g. lr {_num(lr)} -> {_num(lr / 10)}" if lr else "lower the learning rate"
    rising = _leading_rises(train)
    if rising >= STREAK - 1 or (len(rows) >= STREAK and train[-1] > train[0]):
        last = rising if rising >= STREAK - 1 else len(rows) - 1
        return [_warning("divergence", f"training loss rose from {train[0]:.4g} (epoch {rows[0]['epoch']}) to "
                         f"{train[last]:.4g} (epoch {rows[last]['epoch']}); {advice}", rows[last]["epoch"])]
    rising = min(_leading_rises(val), _leading_rises([-t for t in train]))  # val up while train goes down
    if rising >= STREAK - 1:
        return [_warning("divergence", f"validation loss rose from {val[0]:.4g} to {val[rising]:.4g} over epochs "
                         f"{rows[0]['epoch']}-{rows[rising]['epoch']} while training loss fell from {train[0]:.4g} "
                         f"to {train[rising]:.4g}; {advice}", rows[rising]["epoch"])]
    return []


def test_collapse_warnings(metrics: dict, already: bool = False) -> list[dict]:
    """The final model predicts one class for every test row (from metrics.json's confusion matrix)."""
    cm = np.asarray(metrics["test"]["confusion_matrix"])
    predicted = np.flatnonzero(cm.sum(axis=0))
    if already or cm.sum() == 0 or len(predicted) != 1 or (cm.sum(axis=1) > 0).sum() < 2:
        return []
    only = metrics["class_names"][int(predicted[0])]
    return [_warning("majority_collapse", f"every test prediction is {only!r}: the model ignores the other classes "
                     f"(test macro-F1 {metrics['test']['overall']['macro_f1']:.3f}); try a balancing strategy "
                     f"(class_weight, focal, weighted_sampler) or check the learning rate")]


def accuracy_warnings(metrics: dict) -> list[dict]:
    """Test accuracy within ACCURACY_MARGIN of the majority class's share of the test split."""
    test = metrics["test"]
    support = {name: c["support"] for name, c in test["per_class"].items()}
    total = sum(support.values())
    if not total:
        return []
    majority = max(support, key=support.get)
    share, overall = support[majority] / total, test["overall"]
    if abs(overall["accuracy"] - share) > ACCURACY_MARGIN + 1e-12:
        return []
    return [_warning("accuracy_uninformative", f"test accuracy {overall['accuracy']:.3f} is within 1 point of the "
                     f"majority share {share:.3f} (class {majority!r}): accuracy is uninformative here; look at "
                     f"macro-F1 ({overall['macro_f1']:.3f}) / balanced accuracy "
                     f"({overall['balanced_accuracy']:.3f})")]


def empty_class_warnings(class_counts: dict) -> list[dict]:
    """A split holding no rows of some class: the model cannot learn it (train), or its recall is undefined there
    (val, test: reported as 0 in macro-F1)."""
    found = []
    for split in ("train", "val", "test"):
        empty = [name for name, rows in class_counts.get(split, {}).items() if rows == 0]
        if empty:
            why = "the model cannot learn to predict them" if split == "train" else \
                "its scores there are undefined (counted as 0 in macro-F1)"
            found.append(_warning("empty_class", f"the {split} split has no rows of {', '.join(map(repr, empty))}: "
                                  f"{why}; add rows or change split.test_size / split.val_size"))
    return found


def format_warnings(warnings: list[dict]) -> list[str]:
    """One terminal line per warning: `warning [code] epoch N: message`."""
    return [f"warning [{w['code']}]" + (f" epoch {w['epoch']}" if w.get("epoch") is not None else "")
            + f": {w['message']}" for w in warnings]


def write_warnings(run, warnings: list[dict]) -> None:
    """warnings.json in a run folder (a RunDir), written even when empty so its absence means 'not checked'."""
    run.write_json("warnings.json", {"warnings": warnings})


def read_warnings(run) -> list[dict]:
    """The warnings of a run folder (a RunDir); [] when it has no warnings.json."""
    return run.read_json("warnings.json")["warnings"] if run.file("warnings.json").is_file() else []


def _trailing(items: list, test) -> int:
    """How many items at the end of the list pass `test`, in a row."""
    count = 0
    for item in reversed(items):
        if not test(item):
            break
        count += 1
    return count


def _leading_rises(values: list[float]) -> int:
    """Index of the last value of the strictly rising run that starts at values[0] (0: no rise)."""
    last = 0
    while last + 1 < len(values) and values[last + 1] > values[last]:
        last += 1
    return last


def _span(first: int, last: int) -> str:
    return f"in the only epoch ({last})" if first == last else f"from epoch {first} to the last epoch {last}"


def _num(value: float) -> str:
    return f"{value:.6g}"


def _warning(code: str, message: str, epoch: int | None = None) -> dict:
    return {"code": code, "message": message, **({"epoch": int(epoch)} if epoch is not None else {})}
