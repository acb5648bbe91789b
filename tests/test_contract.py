"""Every registered model and every balancing strategy trains for one epoch on tiny data (registry contract)."""

import numpy as np
import pytest
import torch

from imbrun.balance import STRATEGIES, TrainJob, build_plan, predictor_from_spec
from imbrun.config import validate_config
from imbrun.models import MODELS, build_model
from imbrun.train import predict_proba

N_CLASSES = 3


def _tiny_arrays(shape, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(N_CLASSES), [20, 6, 4])
    # classes overlap (shift 0.3 sd), so neighbour-based resamplers find other classes near every row
    X = (rng.normal(size=(len(y), *shape)) + 0.3 * y.reshape(-1, *[1] * len(shape))).astype(np.float32)
    return X, y


# What a strategy needs on the tiny arrays below (smallest class: 4 rows); the rest use their defaults.
SETTINGS = {kind: {"k_neighbors": 2} for kind in ("smote", "borderline_smote", "adasyn", "smote_tomek", "smote_enn")}
SETTINGS["crt"] = {"epochs": 1}


def _cfg(model_kind, balance_kind):
    return validate_config({"data": {"kind": "csv", "path": "x.csv"}, "model": {"kind": model_kind},
                            "balance": {"kind": balance_kind, **SETTINGS.get(balance_kind, {})},
                            "train": {"epochs": 1, "batch_size": 8}})


@pytest.mark.parametrize("shape", [(6,), (12, 2)], ids=["table", "series"])
@pytest.mark.parametrize("balance_kind", sorted(STRATEGIES))
@pytest.mark.parametrize("model_kind", sorted(MODELS))
def test_every_model_and_strategy_trains_one_epoch(model_kind, balance_kind, shape):
    cfg = _cfg(model_kind, balance_kind)
    X, y = _tiny_arrays(shape)
    torch.manual_seed(0)
    plan = build_plan(cfg.balance, y, ["a", "b", "c"], X, seed=0)
    X_fit, _ = plan.train_arrays
    assert X_fit.shape[1:] == shape and X_fit.dtype == np.float32
    job = TrainJob(build_model(cfg.model, shape, N_CLASSES), lambda k: build_model(cfg.model, shape, k),
                   plan.train_arrays, (X[::3], y[::3]), cfg.train, 0, torch.device("cpu"))
    model, result = plan.train(job)
    assert len(result.history) >= 1 and all(np.isfinite(row["train_loss"]) for row in result.history)
    probs = predict_proba(model, X, 16, torch.device("cpu"))
    assert probs.shape == (len(y), N_CLASSES)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    # the saved weights load back into the predictor rebuilt from its spec, and predict the same
    rebuilt = predictor_from_spec(plan.predictor_spec(), lambda k: build_model(cfg.model, shape, k), N_CLASSES)
    rebuilt.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(predict_proba(rebuilt, X, 16, torch.device("cpu")), probs)
    record = plan.final_record()
    assert record["strategy"] == balance_kind


@pytest.mark.parametrize("model_kind", sorted(MODELS))
def test_models_give_one_logit_per_class_for_any_batch(model_kind):
    cfg = _cfg(model_kind, "none")
    model = build_model(cfg.model, (10, 3), 5).eval()
    assert model(torch.zeros(1, 10, 3)).shape == (1, 5)
    assert model(torch.zeros(7, 10, 3)).shape == (7, 5)


# Non-default architecture options: each trains one epoch on series rows and gives one probability row per input.
VARIANTS = {
    "lstm_gru": {"kind": "lstm", "cell": "gru", "hidden_size": 8},
    "lstm_bidirectional": {"kind": "lstm", "hidden_size": 8, "bidirectional": True},
    "lstm_two_layers": {"kind": "lstm", "hidden_size": 8, "num_layers": 2, "dropout": 0.1},
    "gru_bidirectional_two_layers": {"kind": "lstm", "cell": "gru", "hidden_size": 8, "bidirectional": True,
                                     "num_layers": 2},
    "dense_batch_norm": {"kind": "dense", "hidden": [16, 8], "batch_norm": True},
    "cnn1d_pool_each": {"kind": "cnn1d", "channels": [4, 4], "kernel_size": 3, "pool_after": "each",
                        "hidden": [8]},
}


@pytest.mark.parametrize("model_cfg", list(VARIANTS.values()), ids=list(VARIANTS))
def test_model_variants_train_one_epoch(model_cfg):
    cfg = validate_config({"data": {"kind": "csv", "path": "x.csv"}, "model": model_cfg,
                           "train": {"epochs": 1, "batch_size": 8}})
    assert cfg.model.model_dump() == {**type(cfg.model)().model_dump(), **model_cfg}  # every option was taken
    shape = (12, 2)
    X, y = _tiny_arrays(shape)
    torch.manual_seed(0)
    plan = build_plan(cfg.balance, y, ["a", "b", "c"], X, seed=0)
    model = build_model(cfg.model, shape, N_CLASSES)
    job = TrainJob(model, lambda k: build_model(cfg.model, shape, k), plan.train_arrays, (X[::3], y[::3]),
                   cfg.train, 0, torch.device("cpu"))
    model, result = plan.train(job)
    assert len(result.history) == 1 and np.isfinite(result.history[0]["train_loss"])
    probs = predict_proba(model, X, 16, torch.device("cpu"))
    assert probs.shape == (len(y), N_CLASSES)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)


def test_model_variants_change_the_network():
    def n_params(model_cfg):
        cfg = validate_config({"data": {"kind": "csv", "path": "x.csv"}, "model": model_cfg})
        return sum(p.numel() for p in build_model(cfg.model, (12, 2), N_CLASSES).parameters())

    lstm = n_params({"kind": "lstm", "hidden_size": 8})
    # LSTM cell: 4 gates x (2 inputs + 8 hidden + 2 biases) x 8 units, then the 8 -> 3 head
    assert lstm == 4 * 8 * (2 + 8 + 2) + 8 * 3 + 3
    assert n_params({"kind": "lstm", "cell": "gru", "hidden_size": 8}) == 3 * 8 * (2 + 8 + 2) + 8 * 3 + 3
    assert n_params({"kind": "lstm", "hidden_size": 8, "bidirectional": True}) == 2 * 4 * 8 * 12 + 16 * 3 + 3
    assert n_params({"kind": "lstm", "hidden_size": 8, "num_layers": 2}) == lstm + 4 * 8 * (8 + 8 + 2)
    plain = n_params({"kind": "dense", "hidden": [16]})
    assert n_params({"kind": "dense", "hidden": [16], "batch_norm": True}) == plain + 2 * 16
    last = n_params({"kind": "cnn1d", "channels": [4, 4], "kernel_size": 3, "pool": 2, "hidden": [8]})
    each = n_params({"kind": "cnn1d", "channels": [4, 4], "kernel_size": 3, "pool": 2, "pool_after": "each",
                     "hidden": [8]})
    assert last > each  # pooling after every block leaves fewer time steps for the dense head
