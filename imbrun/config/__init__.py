"""Experiment configuration: pydantic schemas (no torch here) and the YAML loader."""

from imbrun.config.experiment import Experiment
from imbrun.config.loading import apply_overrides, load_config, validate_config

__all__ = ["Experiment", "apply_overrides", "load_config", "validate_config"]
