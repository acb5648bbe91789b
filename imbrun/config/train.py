"""The `split`, `preprocess` and `train` sections."""

from typing import Literal

from pydantic import Field, model_validator

from imbrun.config.base import Section


class SplitConfig(Section):
    """How rows are divided into train / validation / test (stratified by class)."""

    test_size: float = Field(0.2, gt=0.0, lt=1.0)
    val_size: float = Field(0.1, gt=0.0, lt=1.0)
    stratify: bool = True
    seed: int | None = None  # default: the experiment's seed
    group_by: str | None = None
    folds: int | None = Field(None, ge=2)  # k-fold: the test split is fold `fold` of `folds` (test_size unused)
    fold: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _leave_rows_to_train(self):
        if self.folds is None and self.test_size + self.val_size >= 1.0:
            raise ValueError(f"test_size + val_size must be < 1, got {self.test_size} + {self.val_size}")
        if self.folds is not None and self.fold >= self.folds:
            raise ValueError(f"fold must be below folds ({self.folds}), got {self.fold}")
        if self.folds is not None and self.val_size >= 1.0 - 1.0 / self.folds:
            raise ValueError(f"val_size must leave training rows in each fold, got {self.val_size}")
        return self


class NormalizeConfig(Section):
    """Feature scaling, fitted on the training split only."""

    kind: Literal["none", "minmax", "standard", "scale"] = "none"
    factor: float = 1.0  # kind: scale multiplies by it, e.g. 0.00392156862745098 (1/255) for 0..255 pixels
    per: Literal["feature", "global"] = "feature"


class InterpolateConfig(Section):
    """Fill gaps along the time axis of each series (row by row, so nothing is learnt across rows or splits).

    Methods and limits mean what they mean in pandas' DataFrame.interpolate(axis=1); results match it to 1e-9.
    """

    method: Literal["linear", "nearest", "spline", "pchip", "akima", "polynomial", "ffill", "bfill"] = "linear"
    order: int | None = Field(None, ge=1, le=5)  # spline / polynomial
    limit: int | None = Field(None, ge=1)  # as pandas: fill at most this many values of each gap, keep the rest missing
    limit_area: Literal["inside", "outside"] | None = None  # None: fill inside gaps and at the edges
    limit_direction: Literal["forward", "backward", "both"] | None = None
    missing_values: list[float] = []  # sentinels that mean "missing" besides NaN / empty cells, e.g. [-999]
    padding: Literal["none", "trailing_zeros"] = "none"  # trailing_zeros: the zero run at a series' end is padding
    remaining: Literal["fail", "fill", "drop"] = "fail"  # values still missing afterwards
    fill_value: float = 0.0  # remaining: fill

    @model_validator(mode="after")
    def _order_where_needed(self):
        if self.method in ("spline", "polynomial") and self.order is None:
            raise ValueError(f"method '{self.method}' needs an order (1..5)")
        if self.method not in ("spline", "polynomial") and self.order is not None:
            raise ValueError(f"order only applies to spline and polynomial, not '{self.method}'")
        return self


class PreprocessConfig(Section):
    """Fitted on the training split; applied identically to validation, test and `evaluate`."""

    interpolate: InterpolateConfig | None = None  # applied to every row before the split (learns nothing)
    impute: Literal["mean", "median", "zero", "none"] = "mean"
    normalize: NormalizeConfig = NormalizeConfig()


class EarlyStopping(Section):
    """Stop when `monitor` has not improved for `patience` epochs; the best epoch's weights are kept."""

    monitor: Literal["val_loss", "val_macro_f1", "val_balanced_accuracy", "val_accuracy", "val_gmean"] = "val_loss"
    patience: int = Field(10, ge=1)
    min_delta: float = Field(0.0, ge=0.0)
    # A score monitor on a small validation split plateaus (often at 1.0) long before training is done. val_loss:
    # an epoch that scores at least the best and has a lower validation loss becomes the best (and patience
    # restarts); first: the first epoch with the best score is kept, as in Keras. Unused when monitor is val_loss.
    tie_break: Literal["val_loss", "first"] = "val_loss"


class TrainConfig(Section):
    epochs: int = Field(20, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(1e-3, gt=0.0)
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop", "nadam", "adadelta"] = "adam"
    weight_decay: float = Field(0.0, ge=0.0)
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    grad_clip: float | None = Field(None, gt=0.0)
    early_stopping: EarlyStopping | None = None
    device: Literal["auto", "cpu", "cuda"] = "auto"
    init_seed: int | None = None  # weight initialisation and dropout; default: the experiment's seed
    shuffle_seed: int | None = None  # batch order and the weighted sampler; default: the experiment's seed
    threads: int | None = Field(None, ge=1)
    eval_batch_size: int = Field(4096, ge=1)
