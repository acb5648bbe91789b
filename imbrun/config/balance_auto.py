"""`balance: {kind: auto}`: its options (what auto pilots, its budget, metric, backend and confidence) and the
`balance` setting as a whole: one strategy, auto, or a list of strategies."""

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator

from imbrun.config.balance import STRATEGY_SCHEMAS, CandidateSetting, candidate_label, setting_union
from imbrun.config.base import Section


def _candidate_shorthand(value):
    """A kind alone stands for its defaults: `focal` is {kind: focal}, also inside a list; auto cannot pilot auto."""
    def expand(item):
        item = {"kind": item} if isinstance(item, str) else item
        if isinstance(item, dict) and item.get("kind") == "auto":
            raise ValueError("'auto' cannot be one of its own candidates")
        return item
    return [expand(item) for item in value] if isinstance(value, list) else expand(value)


class AutoRay(Section):
    """Where auto's pilots run with backend ray; the options of `imbrun sweep --backend ray`, one pilot a task."""

    address: str | None = None  # None: RAY_ADDRESS, else a new local instance (or the one this process joined)
    cpus_per_trial: float = Field(1.0, ge=0.0)  # CPUs reserved per pilot; torch uses max(1, floor) threads
    gpus_per_trial: float = Field(0.0, ge=0.0)


class AutoBalance(Section):
    """Choose a strategy for the data (balance/auto.py): measure the training split, shortlist strategies, pilot them
    by successive halving judged on the validation split (never the test split), train the winner fully.

    candidates: None (the shortlist of auto_candidates.py) or kinds / balance settings to pilot instead
    (class_weight and none are piloted too when not listed).
    budget_epochs: epochs of each pilot at the last rung (None: train.epochs); rung r of R trains
    budget_epochs / eta^(R-1-r) epochs. budget_seconds: wall-clock limit of all pilots (the choice then depends on
    the machine's speed). metric: what the pilots maximise on validation; minority_recall_at_precision is the
    recall of the smallest training class, 0 when its precision is below precision_floor.
    backend: inline (this process), local (`workers` processes) or ray (`ray`: address, cpus_per_trial,
    gpus_per_trial). tune_thresholds: after training, keep per-class offsets tuned on validation when they raise
    the metric there. confidence: the halving's winner replaces class_weight (the safe default) only when it scores
    higher in at least this share of paired bootstrap resamples of the validation rows (auto_confidence.py;
    0: always the winner).
    """

    kind: Literal["auto"] = "auto"
    candidates: list[Annotated[CandidateSetting, BeforeValidator(_candidate_shorthand)]] | None = None
    budget_epochs: int | None = Field(None, ge=1)
    budget_seconds: float | None = Field(None, gt=0.0)
    eta: int = Field(3, ge=2)
    metric: Literal["macro_f1", "gmean", "balanced_accuracy", "minority_recall_at_precision"] = "macro_f1"
    precision_floor: float = Field(0.5, gt=0.0, le=1.0)
    backend: Literal["inline", "local", "ray"] = "inline"
    workers: int = Field(1, ge=1)
    ray: AutoRay | None = None  # backend ray only; None: AutoRay's defaults
    tune_thresholds: bool = True
    confidence: float = Field(0.9, ge=0.0, lt=1.0)

    @field_validator("candidates")
    @classmethod
    def _distinct_candidates(cls, value):
        if value is None:
            return value
        if not value:
            raise ValueError("an empty list; give at least one strategy, or leave candidates out for the shortlist")
        labels = [candidate_label(item) for item in value]
        twice = sorted({label for label in labels if labels.count(label) > 1})
        if twice:
            raise ValueError(f"{twice[0]!r} is listed twice")
        return value

    @field_validator("ray")
    @classmethod
    def _ray_needs_the_ray_backend(cls, value, info):
        backend = info.data.get("backend")
        if value is not None and backend is not None and backend != "ray":
            raise ValueError(f"ray options apply to backend ray only, got backend {backend!r}")
        return value


# `balance:` is one strategy, auto, or a list of strategies.
BalanceSetting = setting_union(STRATEGY_SCHEMAS + (AutoBalance,))
