"""The `balance` section: one schema per strategy, chosen by `kind`."""

from typing import Literal

from pydantic import Field

from imbrun.config.base import Section


class NoBalance(Section):
    """Plain cross-entropy on the data as it is."""

    kind: Literal["none"] = "none"


class ClassWeightBalance(Section):
    """Cross-entropy weighted per class (the loss side of `class_weight`)."""

    kind: Literal["class_weight"] = "class_weight"
    scheme: Literal["inverse", "sqrt_inverse", "effective_number", "manual"] = "inverse"
    beta: float = Field(0.999, gt=0.0, lt=1.0)
    weights: dict[int | str, float] | None = None


class WeightedSamplerBalance(Section):
    """Batches drawn with replacement so that classes appear with the target frequencies."""

    kind: Literal["weighted_sampler"] = "weighted_sampler"
    scheme: Literal["inverse", "sqrt_inverse", "target"] = "inverse"
    target: dict[int | str, float] | None = None
    epoch_size: int | None = Field(None, ge=1)


class FocalBalance(Section):
    """Focal loss (Lin et al. 2017): down-weights easy examples."""

    kind: Literal["focal"] = "focal"
    gamma: float = Field(2.0, ge=0.0)
    alpha: float | list[float] | Literal["class_weight"] | None = None
