"""What a balancing strategy hands to training: a loss, optionally a sampler, and what to record."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from imbrun.balance.sampling import WeightedSampler


@dataclass
class BalancePlan:
    """loss(logits, targets) is the training criterion; sampler draws each epoch's rows (None: shuffle)."""

    loss: nn.Module
    sampler: WeightedSampler | None = None
    record: dict = field(default_factory=dict)

    def final_record(self) -> dict:
        """balance.json content once training is over (adds what the sampler really drew)."""
        record = dict(self.record)
        if self.sampler is not None:
            record["sampled_class_counts_per_epoch"] = self.sampler.drawn
        return record
