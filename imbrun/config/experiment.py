"""The whole experiment: one field per stage of the pipeline, each its own section."""

import re
from typing import Annotated, Union

from pydantic import Field, field_validator

from imbrun.config.balance import ClassWeightBalance, FocalBalance, NoBalance, WeightedSamplerBalance
from imbrun.config.base import Section
from imbrun.config.data import CsvData
from imbrun.config.model import Cnn1dModel, DenseModel, LstmModel
from imbrun.config.train import PreprocessConfig, SplitConfig, TrainConfig

# Swappable sections are unions discriminated on `kind`: adding a loader, model or strategy adds one member here.
DataConfig = Annotated[Union[CsvData], Field(discriminator="kind")]
ModelConfig = Annotated[Union[DenseModel, Cnn1dModel, LstmModel], Field(discriminator="kind")]
BalanceConfig = Annotated[
    Union[NoBalance, ClassWeightBalance, WeightedSamplerBalance, FocalBalance], Field(discriminator="kind")
]

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class Experiment(Section):
    """A complete, validated experiment; `model_dump()` of it is the run's config.yaml."""

    name: str = "run"
    seed: int = 0
    data: DataConfig
    split: SplitConfig = SplitConfig()
    preprocess: PreprocessConfig = PreprocessConfig()
    model: ModelConfig = DenseModel()
    balance: BalanceConfig = NoBalance()
    train: TrainConfig = TrainConfig()

    @field_validator("name")
    @classmethod
    def _name_is_a_folder_name(cls, value: str) -> str:
        # The name becomes part of a folder name: it must not climb out of the runs directory.
        if not _SAFE_NAME.match(value) or ".." in value:
            raise ValueError(f"must be letters, digits, '.', '_' or '-' (no '/', no '..'), got {value!r}")
        return value
