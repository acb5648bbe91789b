"""The whole experiment: one field per stage of the pipeline, each its own section."""

import re
from typing import Annotated, Union

from pydantic import Field, field_serializer, field_validator, model_validator

from imbrun.config.balance import NoBalance
from imbrun.config.balance_auto import BalanceSetting
from imbrun.config.base import Section
from imbrun.config.data import CsvData, EcgBeatsData, MnistData, MysqlData
from imbrun.config.model import Cnn1dModel, DenseModel, LstmModel
from imbrun.config.train import PreprocessConfig, SplitConfig, TrainConfig
from imbrun.redact import redact_url

# Swappable sections are unions discriminated on `kind`: adding a loader, model or strategy adds one member here.
DataConfig = Annotated[Union[CsvData, MnistData, EcgBeatsData, MysqlData], Field(discriminator="kind")]
ModelConfig = Annotated[Union[DenseModel, Cnn1dModel, LstmModel], Field(discriminator="kind")]



class MlflowTracking(Section):
    """Log params, per-epoch and final metrics and the run folder to MLflow (pip install "imbrun[mlflow]")."""

    uri: str | None = None  # e.g. sqlite:///mlruns.db or http://host:5000; default: MLflow's own (MLFLOW_TRACKING_URI)
    experiment: str = "imbrun"

    @field_serializer("uri")
    def _redacted(self, uri: str | None) -> str | None:
        # config.yaml and the params logged to the trackers never see a token written into the URI
        return redact_url(uri) if uri else uri


class TensorboardTracking(Section):
    """Write scalars for TensorBoard (pip install "imbrun[tensorboard]")."""

    log_dir: str | None = None  # default: <run folder>/tensorboard


class TrackingConfig(Section):
    """Optional experiment trackers; `tensorboard: true` (or `mlflow: true`) means their defaults."""

    mlflow: MlflowTracking | None = None
    tensorboard: TensorboardTracking | None = None

    @model_validator(mode="before")
    @classmethod
    def _true_means_defaults(cls, value):
        if isinstance(value, dict):
            return {k: ({} if v is True else None if v is False else v) for k, v in value.items()}
        return value


_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class Experiment(Section):
    """A complete, validated experiment; `model_dump()` of it is the run's config.yaml."""

    name: str = "run"
    seed: int = 0
    data: DataConfig
    split: SplitConfig = SplitConfig()
    preprocess: PreprocessConfig = PreprocessConfig()
    model: ModelConfig = DenseModel()
    # one strategy, a list that combines (config/balance.py), or auto (config/balance_auto.py)
    balance: BalanceSetting = NoBalance()
    train: TrainConfig = TrainConfig()
    tracking: TrackingConfig = TrackingConfig()

    @field_validator("name")
    @classmethod
    def _name_is_a_folder_name(cls, value: str) -> str:
        # The name becomes part of a folder name: it must not climb out of the runs directory.
        if not _SAFE_NAME.match(value) or ".." in value:
            raise ValueError("must be letters, digits, '.', '_' or '-' (no '/', no '..')")
        return value
