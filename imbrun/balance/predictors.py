"""Predictor modules a procedure may return, and their rebuild from the spec saved in model.json.

A predictor is an nn.Module mapping inputs to logits over the original classes, so predict_proba, state_dict()
and torch.load(weights_only=True) work for every strategy alike.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from imbrun.balance.cascade import CascadeModel
from imbrun.errors import ImbrunError


class OffsetModel(nn.Module):
    """Logits (batch, n_classes) = base + offsets, base = log_softmax(model(x)) or the raw logits model(x).

    On log-probabilities the offsets are per-class decision thresholds (argmax_k log p_k + b_k); on raw logits
    they are a post-hoc logit adjustment. The offsets are a buffer, so they travel in model.pt.
    """

    def __init__(self, model: nn.Module, n_classes: int, on_log_probs: bool):
        super().__init__()
        self.model = model
        self.on_log_probs = on_log_probs
        self.register_buffer("offsets", torch.zeros(n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.model(x)
        if self.on_log_probs:
            z = F.log_softmax(z, dim=1)
        return z + self.offsets


def predictor_from_spec(spec: dict | None, new_model: Callable[[int], nn.Module], n_classes: int) -> nn.Module:
    """The untrained predictor skeleton described by model.json's `predictor` (None: one plain model)."""
    spec = spec or {}
    procedure = spec.get("procedure", {"kind": "single"})
    if procedure["kind"] == "cascade":
        model: nn.Module = CascadeModel.from_spec(procedure, new_model, n_classes)
    elif procedure["kind"] in ("single", "crt"):
        model = new_model(n_classes)
    else:
        raise ImbrunError(f"model.json: unknown predictor procedure {procedure['kind']!r}; known: single, crt, cascade")
    adjust = spec.get("adjust")
    if adjust is not None:
        model = OffsetModel(model, n_classes, bool(adjust["on_log_probs"]))
    return model
