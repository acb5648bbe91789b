"""The `balance` section: one schema per strategy, chosen by `kind`, or a list of strategies that combine.

Strategies act in one of five places (their *roles*); a list may hold at most one strategy per role, so that
e.g. two losses or two samplers are refused with a reason, and pairs that correct the class prior twice or do the
same job twice are refused too (balance_combine.py).
"""

from typing import Annotated, Literal, Union

from pydantic import AfterValidator, BeforeValidator, Discriminator, Field, Tag, field_validator

from imbrun.config.balance_combine import check_combination
from imbrun.config.base import Section

ClassKey = int | str  # a class given by its code (index) or by its name


class NoBalance(Section):
    """Plain cross-entropy on the data as it is."""

    kind: Literal["none"] = "none"


# ---- loss ------------------------------------------------------------------------------------------

class ClassWeightBalance(Section):
    """Cross-entropy weighted per class (the loss side of `class_weight`)."""

    kind: Literal["class_weight"] = "class_weight"
    scheme: Literal["inverse", "sqrt_inverse", "effective_number", "manual"] = "inverse"
    beta: float = Field(0.999, gt=0.0, lt=1.0)
    weights: dict[ClassKey, float] | None = None


class FocalBalance(Section):
    """Focal loss (Lin et al. 2017): down-weights easy examples.

    alpha: a number (2 classes only), one value per class (a list or a {class: value} mapping, unlisted
    classes 1), or `class_weight`: class weights of `alpha_scheme` (a class-balanced focal loss).
    """

    kind: Literal["focal"] = "focal"
    gamma: float = Field(2.0, ge=0.0)
    alpha: float | list[float] | dict[ClassKey, float] | Literal["class_weight"] | None = None
    alpha_scheme: Literal["inverse", "sqrt_inverse", "effective_number"] = "inverse"
    beta: float = Field(0.999, gt=0.0, lt=1.0)


class LdamDrwBalance(Section):
    """LDAM margins (Cao et al. 2019), plus effective-number weights (beta) from epoch `drw_epoch` on.

    s = 30 in the paper assumes cosine (normalised) logits; the heads here are plain linear layers, so s = 1.
    drw_epoch None: LDAM alone, never re-weighted.
    """

    kind: Literal["ldam_drw"] = "ldam_drw"
    max_m: float = Field(0.5, gt=0.0)
    s: float = Field(1.0, gt=0.0)
    drw_epoch: int | None = Field(None, ge=1)
    beta: float = Field(0.9999, gt=0.0, lt=1.0)


class LogitAdjustBalance(Section):
    """Logit adjustment (Menon et al. 2021): CE on z + tau log prior; posthoc: plain CE, z - tau log prior at prediction."""

    kind: Literal["logit_adjust"] = "logit_adjust"
    tau: float = Field(1.0, ge=0.0)
    posthoc: bool = False


class BalancedSoftmaxBalance(Section):
    """Balanced softmax (Ren et al. 2020): CE on z + log n_k."""

    kind: Literal["balanced_softmax"] = "balanced_softmax"


# ---- loader -----------------------------------------------------------------------------------------

class WeightedSamplerBalance(Section):
    """Batches drawn with replacement so that classes appear with the target frequencies."""

    kind: Literal["weighted_sampler"] = "weighted_sampler"
    scheme: Literal["inverse", "sqrt_inverse", "target"] = "inverse"
    target: dict[ClassKey, float] | None = None
    epoch_size: int | None = Field(None, ge=1)


# ---- arrays (training split only) ------------------------------------------------------------------

class _Resample(Section):
    """Target counts: `counts` per class when given, else every class brought to `ratio` of the largest
    (over-sampling) or of the smallest (under-sampling: at most n_min / ratio). seed None: the experiment's."""

    ratio: float = Field(1.0, gt=0.0, le=1.0)
    counts: dict[ClassKey, int] | None = None
    seed: int | None = None


class OversampleBalance(_Resample):
    """Random over-sampling: minority rows repeated."""

    kind: Literal["oversample"] = "oversample"


class UndersampleBalance(_Resample):
    """Random under-sampling: majority rows dropped."""

    kind: Literal["undersample"] = "undersample"


class SmoteBalance(_Resample):
    """SMOTE: new minority rows interpolated between a row and one of its k nearest same-class neighbours."""

    kind: Literal["smote"] = "smote"
    k_neighbors: int = Field(5, ge=1)


class BorderlineSmoteBalance(SmoteBalance):
    """Borderline-SMOTE: SMOTE from the minority rows whose m nearest neighbours are mostly other classes."""

    kind: Literal["borderline_smote"] = "borderline_smote"
    m_neighbors: int = Field(10, ge=1)
    variant: Literal["borderline-1", "borderline-2"] = "borderline-1"


class AdasynBalance(SmoteBalance):
    """ADASYN: like SMOTE, with more new rows near hard (mixed-neighbourhood) minority rows; counts approximate."""

    kind: Literal["adasyn"] = "adasyn"


class _Cleaning(Section):
    """Which classes a cleaning method may remove rows from (imbalanced-learn's sampling_strategy)."""

    classes: Literal["auto", "majority", "not minority", "not majority", "all"] = "auto"


class TomekBalance(_Cleaning):
    """Tomek links: drop the majority row of each pair of mutual nearest neighbours of different classes."""

    kind: Literal["tomek"] = "tomek"


class EnnBalance(_Cleaning):
    """Edited nearest neighbours: drop rows whose n nearest neighbours disagree with their class."""

    kind: Literal["enn"] = "enn"
    n_neighbors: int = Field(3, ge=1)


class SmoteTomekBalance(SmoteBalance):
    """SMOTE, then Tomek-link cleaning."""

    kind: Literal["smote_tomek"] = "smote_tomek"


class SmoteEnnBalance(SmoteBalance):
    """SMOTE, then edited-nearest-neighbours cleaning (n_neighbors)."""

    kind: Literal["smote_enn"] = "smote_enn"
    n_neighbors: int = Field(3, ge=1)


# ---- procedure ---------------------------------------------------------------------------------------

class CascadeBalance(Section):
    """Big class vs rest, recursively: each stage splits off the largest class (or every class holding more than
    `share` of the remaining rows) with its own model, until the rest is balanced within `ratio` (max/min)."""

    kind: Literal["cascade"] = "cascade"
    share: float | None = Field(None, gt=0.0, lt=1.0)
    ratio: float = Field(3.0, ge=1.0)
    max_stages: int | None = Field(None, ge=1)


class CrtBalance(Section):
    """Classifier re-training (Kang et al. 2020): train as usual, then re-train only the last Linear layer with
    class-balanced sampling for `epochs` (lr None: train.lr); the rest of the network is frozen."""

    kind: Literal["crt"] = "crt"
    epochs: int = Field(10, ge=1)
    lr: float | None = Field(None, gt=0.0)
    reset_head: bool = True


class ThresholdBalance(Section):
    """Per-class offsets on log-probabilities tuned on the validation split to maximise `metric`."""

    kind: Literal["threshold"] = "threshold"
    metric: Literal["macro_f1", "balanced_accuracy", "gmean"] = "macro_f1"


STRATEGY_SCHEMAS = (
    NoBalance, ClassWeightBalance, FocalBalance, LdamDrwBalance, LogitAdjustBalance, BalancedSoftmaxBalance,
    WeightedSamplerBalance, OversampleBalance, UndersampleBalance, SmoteBalance, BorderlineSmoteBalance,
    AdasynBalance, TomekBalance, EnnBalance, SmoteTomekBalance, SmoteEnnBalance, CascadeBalance, CrtBalance,
    ThresholdBalance,
)
BalanceItem = Annotated[Union[STRATEGY_SCHEMAS], Field(discriminator="kind")]

def _tag(value) -> str | None:
    """The union member for a value: a strategy's own `kind`, or 'list' for a list of strategies."""
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return value.get("kind")
    return getattr(value, "kind", None)


def _no_auto_in_lists(value):
    """`auto` chooses one strategy by itself: a clearer message than 'unknown kind' when it is listed."""
    if isinstance(value, list) and any(isinstance(v, dict) and v.get("kind") == "auto" for v in value):
        raise ValueError("'auto' chooses a strategy by itself and cannot be combined in a list; use "
                         "balance: {kind: auto} (its `candidates` may hold combinations)")
    return value


def _setting_union(schemas: tuple) -> object:
    """One strategy (its schema, chosen by `kind`) or a list of them; tagging by `kind` keeps error paths as for a
    plain discriminated union (balance.gamma, not balance.focal.gamma)."""
    return Annotated[
        Union[tuple(Annotated[schema, Tag(schema.model_fields["kind"].default)] for schema in schemas)
              + (Annotated[list[BalanceItem], BeforeValidator(_no_auto_in_lists), AfterValidator(check_combination),
                           Tag("list")],)],
        Discriminator(_tag),
    ]


# A setting auto may pilot: any strategy of the menu, or a list that combines.
CandidateSetting = _setting_union(STRATEGY_SCHEMAS)


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
BalanceSetting = _setting_union(STRATEGY_SCHEMAS + (AutoBalance,))


def candidate_label(setting) -> str:
    """A short unique name: 'focal', 'weighted_sampler+focal', 'focal(gamma=1.0)' when options differ from defaults."""
    def one(item) -> str:
        options = item.model_dump(mode="json", exclude_defaults=True)
        options.pop("kind", None)
        return item.kind + (f"({', '.join(f'{k}={v}' for k, v in options.items())})" if options else "")
    return "+".join(one(item) for item in strategy_items(setting))


def strategy_items(setting) -> list:
    """The strategies of a `balance` setting as a list (a single one becomes a list of one)."""
    return list(setting) if isinstance(setting, list) else [setting]


def strategy_label(setting) -> str:
    """'focal' for one strategy, 'weighted_sampler+focal' for a list."""
    return "+".join(item.kind for item in strategy_items(setting))
