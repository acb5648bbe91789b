"""Which balancing strategies suit a training split, reasoned from its class counts (imbrun inspect)."""

from __future__ import annotations

BALANCED_RATIO = 1.5  # below this, plain cross-entropy is the baseline to beat
EXTREME_RATIO = 20.0
FEW_ROWS = 50  # a minority class this small: resampling copies or discards too much
PLENTY_ROWS = 100
SMOTE_FAMILY = ["smote", "borderline_smote", "adasyn", "smote_tomek", "smote_enn"]
SMOTE_MIN_ROWS = 6  # the default k_neighbors=5 needs the row itself plus 5 same-class neighbours


def suggest_strategies(train_counts: dict[str, int]) -> list[dict]:
    """Suggestions [{use, avoid, reason}] from the training split's class counts (name -> rows).

    Example: suggest_strategies({"a": 400, "b": 8})[0]["use"] == ["class_weight", "focal"]
    """
    if len(train_counts) < 2:
        return []
    minority = min(train_counts, key=train_counts.get)
    small, large = train_counts[minority], max(train_counts.values())
    rows, k = sum(train_counts.values()), len(train_counts)
    if small == 0:
        return [_advice([], [], f"class {minority!r} has no training rows: no strategy can learn it; add rows "
                                f"or drop the class")]
    ratio = large / small
    tips = [_main_advice(minority, small, ratio, rows, k)]
    if small < SMOTE_MIN_ROWS:
        tips.append(_advice([], SMOTE_FAMILY, f"class {minority!r} has {small} training row(s): SMOTE's default "
                                              f"k_neighbors=5 needs at least {SMOTE_MIN_ROWS}"))
    return tips


def _main_advice(minority: str, small: int, ratio: float, rows: int, k: int) -> dict:
    kept = small * k
    if ratio < BALANCED_RATIO:
        return _advice(["none"], [], f"ratio {ratio:.1f}:1 is nearly balanced; plain cross-entropy is the "
                                     f"baseline to beat")
    if small < FEW_ROWS:
        strength = "extreme" if ratio >= EXTREME_RATIO else "clear"
        return _advice(["class_weight", "focal"], ["undersample"],
                       f"{strength} ratio {ratio:.1f}:1 with only {small} {minority!r} training rows: undersampling "
                       f"would keep {kept} of {rows} rows, and oversampling repeats each {minority!r} row "
                       f"~{ratio:.0f} times; reweight the loss instead")
    if small >= PLENTY_ROWS:
        return _advice(["weighted_sampler", "oversample"], [],
                       f"ratio {ratio:.1f}:1 with {small} {minority!r} training rows: enough distinct rows for "
                       f"class-balanced batches (weighted_sampler) or oversampling; class_weight is a cheap baseline")
    return _advice(["class_weight", "weighted_sampler"], [],
                   f"ratio {ratio:.1f}:1 with {small} {minority!r} training rows: start with class_weight, then "
                   f"try weighted_sampler; undersampling would keep only {kept} of {rows} rows")


def _advice(use: list[str], avoid: list[str], reason: str) -> dict:
    return {"use": use, "avoid": avoid, "reason": reason}
