"""The base of every config section: unknown keys are errors, not silently ignored."""

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A config section: typos are rejected (extra="forbid") and values are checked on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
