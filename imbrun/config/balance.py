"""The `balance` section: one schema per strategy, chosen by `kind`, or a list of strategies that combine (`auto`,
which chooses one, is in balance_auto.py).

Strategies act in one of five places (their *roles*); a list may hold at most one strategy per role, so that
e.g. two losses or two samplers are refused with a reason, and pairs that correct the class prior twice or do the
same job twice are refused too (balance_combine.py).
"""

from typing import Annotated, Literal, Union

from pydantic import AfterValidator, BeforeValidator, Discriminator, Field, Tag

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


def setting_union(schemas: tuple) -> object:
    """One strategy (its schema, chosen by `kind`) or a list of them; tagging by `kind` keeps error paths as for a
    plain discriminated union (balance.gamma, not balance.focal.gamma)."""
    return Annotated[
        Union[tuple(Annotated[schema, Tag(schema.model_fields["kind"].default)] for schema in schemas)
              + (Annotated[list[BalanceItem], BeforeValidator(_no_auto_in_lists), AfterValidator(check_combination),
                           Tag("list")],)],
        Discriminator(_tag),
    ]


# A setting auto may pilot: any strategy of the menu, or a list that combines.
CandidateSetting = setting_union(STRATEGY_SCHEMAS)


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
