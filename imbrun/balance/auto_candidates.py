"""What `balance: {kind: auto}` measures on the training split, and which strategies of the menu it pilots.

Each rule of the shortlist returns its reason as text; balance.json keeps every strategy of the menu with
`included` and that reason, so the choice can be read back without this code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import TypeAdapter

from imbrun.config.balance import CandidateSetting, candidate_label
from imbrun.config.balance_auto import AutoBalance
from imbrun.inspect_advice import BALANCED_RATIO, FEW_ROWS, PLENTY_ROWS, SMOTE_MIN_ROWS

_SETTING = TypeAdapter(CandidateSetting)
SMOTE_MAX_VALUES = 500  # values per row above which SMOTE's nearest neighbours carry little meaning (and cost)


@dataclass
class Candidate:
    """One strategy of the menu: its balance setting, whether auto pilots it and why (or why not)."""

    label: str
    setting: object  # a validated CandidateSetting: one strategy or a list that combines
    included: bool
    reason: str
    measured: bool = True  # whether the rule looked at the data (False: the same for every data set)

    def record(self) -> dict:
        return {"label": self.label, "balance": dump_setting(self.setting), "included": self.included,
                "reason": self.reason, "measured": self.measured}


def measure(y_train: np.ndarray, X_train: np.ndarray, class_names: list[str]) -> dict:
    """Class counts, imbalance ratio, minority sizes, dimensionality and input kind of the training split.

    Example: measure(np.array([0, 0, 0, 1]), np.zeros((4, 2)), ["a", "b"])["imbalance_ratio"] == 3.0
    """
    counts = np.bincount(y_train, minlength=len(class_names))
    present = counts[counts > 0]
    smallest = int(np.argmin(np.where(counts > 0, counts, np.iinfo(np.int64).max)))
    return {
        "rows": int(len(y_train)),
        "classes": len(class_names),
        "class_counts": dict(zip(class_names, counts.tolist())),
        "imbalance_ratio": float(present.max() / present.min()),
        "minority_class": class_names[smallest],
        "minority_rows": int(counts[smallest]),
        "classes_below_few_rows": [name for name, n in zip(class_names, counts) if 0 < n < FEW_ROWS],
        "input": "series" if X_train.ndim >= 3 else "tabular",
        "row_shape": list(X_train.shape[1:]),
        "values_per_row": int(np.prod(X_train.shape[1:])),
    }


def shortlist(m: dict) -> list[Candidate]:
    """Every strategy of the menu in piloting order (equal scores go to the earlier one: class_weight, the safe
    default, first), with the rule that includes or excludes it for measurements `m` (see measure).
    `class_weight` and `none` are always included."""
    ratio, small, name = m["imbalance_ratio"], m["minority_rows"], repr(m["minority_class"])
    balanced = ratio < BALANCED_RATIO
    near = f"the ratio {ratio:.1f}:1 is nearly balanced (below {BALANCED_RATIO}:1)"
    rules = [
        ("class_weight", True, "always: inverse-frequency weights in the loss work at any minority size"),
        ("none", True, "always: the baseline every strategy must beat"),
        ("logit_adjust", not balanced, near if balanced else
         f"ratio {ratio:.1f}:1: margins from the class priors in the loss, no rows added or dropped"),
        ("focal", not balanced, near if balanced else
         f"ratio {ratio:.1f}:1: focuses the loss on the hard rows, which are mostly minority rows"),
        ("weighted_sampler", not balanced and small >= FEW_ROWS, near if balanced else
         f"{small} {name} training rows: class-balanced batches" if small >= FEW_ROWS else
         f"only {small} {name} training rows: each would be drawn ~{ratio:.0f} times per epoch; the loss-side "
         f"strategies give the same weight without repeating rows"),
        _smote_rule(m, balanced, near),
        ("undersample", not balanced and small >= PLENTY_ROWS, near if balanced else
         f"{small} {name} training rows: enough to keep {small * m['classes']} rows" if small >= PLENTY_ROWS else
         f"only {small} {name} training rows: undersampling would keep {small * m['classes']} of {m['rows']} rows"),
        ("balanced_softmax", False, "trains the same loss as logit_adjust (z + log n_k, up to a constant)"),
        ("ldam_drw", False, "its margins assume normalised (cosine) logits and its re-weighting a long schedule; "
                            "logit_adjust pilots the same margin idea"),
        ("oversample", False, "repeats minority rows as weighted_sampler draws them, in expectation"),
        *[(kind, False, "a variant of smote: list it in balance.candidates to pilot it")
          for kind in ("borderline_smote", "adasyn", "smote_tomek", "smote_enn")],
        *[(kind, False, "cleaning only drops a few boundary rows and leaves the imbalance nearly as it is")
          for kind in ("tomek", "enn")],
        ("cascade", False, "trains one model per stage, several times a pilot's budget: list it in "
                           "balance.candidates to pilot it"),
        ("crt", False, "re-trains the head after a full training, beyond a pilot's budget: list it in "
                       "balance.candidates to pilot it"),
        ("threshold", False, "auto tunes the decision thresholds of the chosen strategy itself (tune_thresholds)"),
    ]
    measured = {"logit_adjust", "focal", "weighted_sampler", "smote", "undersample"}
    return [Candidate(kind, parse_setting({"kind": kind}), included, reason, kind in measured)
            for kind, included, reason in rules]


def _smote_rule(m: dict, balanced: bool, near: str) -> tuple[str, bool, str]:
    small, name = m["minority_rows"], repr(m["minority_class"])
    if balanced:
        return "smote", False, near
    if small < SMOTE_MIN_ROWS:
        return "smote", False, (f"class {name} has {small} training rows: SMOTE's k_neighbors=5 needs at least "
                                f"{SMOTE_MIN_ROWS}")
    if m["values_per_row"] > SMOTE_MAX_VALUES:
        return "smote", False, (f"{m['values_per_row']} values per row: nearest neighbours in that many dimensions "
                                f"carry little meaning (more than {SMOTE_MAX_VALUES})")
    return "smote", True, f"{small} {name} training rows in {m['values_per_row']} dimensions: new rows between neighbours"


ALWAYS = ("class_weight", "none")  # the safe default and the baseline: piloted whatever the candidates


def candidates_for(cfg: AutoBalance, m: dict) -> list[Candidate]:
    """The user's `candidates` (all piloted, in their order) followed by those of ALWAYS not listed, or the
    shortlist for measurements `m`.

    Example: with candidates [focal], the pilots are focal, class_weight, none.
    """
    if cfg.candidates is None:
        return shortlist(m)
    listed = [Candidate(candidate_label(s), s, True, "listed in balance.candidates", False) for s in cfg.candidates]
    labels = {c.label for c in listed}
    return listed + [Candidate(kind, parse_setting({"kind": kind}), True, "always included", False)
                     for kind in ALWAYS if kind not in labels]


def parse_setting(raw) -> object:
    """A CandidateSetting (one strategy or a list) from its JSON form, e.g. balance.json's chosen balance."""
    return _SETTING.validate_python(raw)


def dump_setting(setting) -> dict | list:
    """The JSON form of a CandidateSetting (parse_setting reads it back)."""
    if isinstance(setting, list):
        return [item.model_dump(mode="json") for item in setting]
    return setting.model_dump(mode="json")
