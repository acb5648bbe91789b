"""How sure `balance: {kind: auto}` is that the halving's winner beats the safe default on validation.

A validation split with a handful of rows of a rare class scores every pilot with noise: on UCI yeast (1-6
validation rows of four classes) the highest G-mean went to a different strategy fold by fold. The winner
replaces the default only when it is better in at least `confidence` of paired bootstrap resamples of the
validation rows (both strategies' predictions on the same resampled rows; stratified, so every class keeps its
count and G-mean and balanced accuracy keep their meaning).
"""

from __future__ import annotations

import numpy as np

from imbrun.balance.auto_pilot import score

RESAMPLES = 1000


def win_rate(metric: str, y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, k: int, minority: int = 0,
             floor: float = 0.5, resamples: int = RESAMPLES, seed: int = 0) -> float:
    """Share of stratified paired bootstrap resamples of (y, pred_a, pred_b) in which a scores higher than b
    (ties count half).

    Example: win_rate("macro_f1", y, p, p, k) == 0.5 for any predictions p: always a tie.
    """
    y, pred_a, pred_b = np.asarray(y), np.asarray(pred_a), np.asarray(pred_b)
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(y == c) for c in np.unique(y)]
    wins = 0.0
    for _ in range(resamples):
        rows = np.concatenate([rng.choice(members, len(members)) for members in by_class])
        a = score(metric, y[rows], pred_a[rows], k, minority, floor)
        b = score(metric, y[rows], pred_b[rows], k, minority, floor)
        wins += 1.0 if a > b else 0.5 if a == b else 0.0
    return wins / resamples


def confident_choice(winner: str, default: str, predictions: dict[str, np.ndarray], y_val: np.ndarray,
                     metric: str, k: int, minority: int, floor: float, confidence: float,
                     seed: int) -> tuple[str, dict | None]:
    """(chosen label, check record or None): `winner`, unless it beats `default` in fewer than `confidence` of
    the resamples, then `default`. predictions: label -> validation predictions of its last pilot.
    No check (winner kept, None) when they are the same, confidence is 0 or the default has no predictions."""
    if winner == default or confidence <= 0 or default not in predictions:
        return winner, None
    rate = win_rate(metric, y_val, predictions[winner], predictions[default], k, minority, floor, seed=seed)
    chosen = winner if rate >= confidence else default
    return chosen, {"winner": winner, "default": default, "win_rate": round(rate, 4), "needed": confidence,
                    "resamples": RESAMPLES, "validation_rows": int(len(y_val)), "chosen": chosen}
