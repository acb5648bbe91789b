"""Every registered model and every balancing strategy trains for one epoch on tiny data (registry contract)."""

import numpy as np
import pytest
import torch

from imbrun.balance import STRATEGIES, build_plan
from imbrun.config import validate_config
from imbrun.models import MODELS, build_model
from imbrun.train import fit, predict_proba

N_CLASSES = 3


def _tiny_arrays(shape, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(N_CLASSES), [20, 6, 4])
    X = rng.normal(size=(len(y), *shape)).astype(np.float32) + y.reshape(-1, *[1] * len(shape))
    return X, y


def _cfg(model_kind, balance_kind):
    return validate_config({"data": {"kind": "csv", "path": "x.csv"}, "model": {"kind": model_kind},
                            "balance": {"kind": balance_kind}, "train": {"epochs": 1, "batch_size": 8}})


@pytest.mark.parametrize("shape", [(6,), (12, 2)], ids=["table", "series"])
@pytest.mark.parametrize("balance_kind", sorted(STRATEGIES))
@pytest.mark.parametrize("model_kind", sorted(MODELS))
def test_every_model_and_strategy_trains_one_epoch(model_kind, balance_kind, shape):
    cfg = _cfg(model_kind, balance_kind)
    X, y = _tiny_arrays(shape)
    torch.manual_seed(0)
    model = build_model(cfg.model, shape, N_CLASSES)
    plan = build_plan(cfg.balance, y, ["a", "b", "c"])
    result = fit(model, (X, y), (X[:9], y[:9]), plan.loss, cfg.train, seed=0, device=torch.device("cpu"),
                 draw_epoch=plan.sampler)
    assert len(result.history) == 1 and np.isfinite(result.history[0]["train_loss"])
    probs = predict_proba(model, X, 16, torch.device("cpu"))
    assert probs.shape == (len(y), N_CLASSES)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    record = plan.final_record()
    assert record["strategy"] == balance_kind


@pytest.mark.parametrize("model_kind", sorted(MODELS))
def test_models_give_one_logit_per_class_for_any_batch(model_kind):
    cfg = _cfg(model_kind, "none")
    model = build_model(cfg.model, (10, 3), 5).eval()
    assert model(torch.zeros(1, 10, 3)).shape == (1, 5)
    assert model(torch.zeros(7, 10, 3)).shape == (7, 5)
