"""The speed rewrites compute what the straightforward code computes: outputs, gradients, losses, errors."""

import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from imbrun.config.model import Cnn1dModel
from imbrun.config.train import TrainConfig
from imbrun.device import keep_freed_memory, resolve_device
from imbrun.errors import ImbrunError
from imbrun.models import build_model
from imbrun.train import _train_epoch, predict_logits

torch.set_num_threads(1)


def plain_cnn_forward(model, x: torch.Tensor) -> torch.Tensor:
    """Cnn1d as first written: Conv1d on (batch, channels, time), modules in their listed order."""
    return model.head(model.features(x.transpose(1, 2)).flatten(1))


@pytest.mark.parametrize("activation, pool_after, kernel, steps", [
    ("relu", "last", 5, 13), ("relu", "each", 3, 12), ("gelu", "last", 5, 11), ("tanh", "each", 3, 9),
    ("leaky_relu", "last", 1, 7), ("elu", "last", 5, 13), ("elu", "each", 3, 12), ("selu", "last", 3, 11),
    ("selu", "each", 5, 12), ("sigmoid", "last", 5, 10), ("sigmoid", "each", 3, 13)])
def test_cnn1d_channels_last_matches_plain_conv1d(activation, pool_after, kernel, steps):
    torch.manual_seed(0)
    cfg = Cnn1dModel(channels=[3, 4], kernel_size=kernel, pool=2, pool_after=pool_after, hidden=[5],
                     activation=activation)
    model = build_model(cfg, (steps, 2), 3)
    x = torch.randn(6, steps, 2, requires_grad=True)  # (batch, time, channels)
    fast = model(x)
    fast_grads = torch.autograd.grad(fast.square().sum(), [x, *model.parameters()])
    plain = plain_cnn_forward(model, x)
    plain_grads = torch.autograd.grad(plain.square().sum(), [x, *model.parameters()])
    assert fast.shape == (6, 3)
    torch.testing.assert_close(fast, plain, rtol=0, atol=1e-5)
    for got, want in zip(fast_grads, plain_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-5)


def _fast_and_plain(model, x):
    """Outputs and gradients (input, then every parameter) of the fast and the plain forward."""
    results = []
    for forward in (model, lambda inputs: plain_cnn_forward(model, inputs)):
        out = forward(x)
        results.append((out, torch.autograd.grad(out.square().sum(), [x, *model.parameters()])))
    return results


ECG_SHAPE = {"channels": [32, 32], "kernel_size": 5, "pool": 2, "hidden": [128, 64]}  # configs/ecg_kaggle_csv.yaml


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "elu", "selu", "tanh", "sigmoid", "gelu"])
@pytest.mark.parametrize("pool_after", ["last", "each"])
def test_cnn1d_at_the_ecg_shape_matches_plain_conv1d_exactly_in_float64(activation, pool_after):
    # float64: the two formulations agree to rounding (~1e-15); in float32 the kernels round differently, and
    # where two pooled values tie to within that rounding the gradient goes to the other one (both are right)
    torch.manual_seed(0)
    model = build_model(Cnn1dModel(**ECG_SHAPE, pool_after=pool_after, activation=activation), (187, 1), 5).double()
    x = torch.rand(64, 187, 1, dtype=torch.float64, requires_grad=True)  # (batch, time, channels), beats in [0, 1]
    (fast, fast_grads), (plain, plain_grads) = _fast_and_plain(model, x)
    assert fast.shape == (64, 5) and len(fast_grads) == 11
    torch.testing.assert_close(fast, plain, rtol=0, atol=1e-12)
    for got, want in zip(fast_grads, plain_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("activation", ["relu", "elu", "selu", "sigmoid"])
def test_cnn1d_at_the_ecg_shape_gives_the_plain_outputs_in_float32(activation):
    torch.manual_seed(1)
    model = build_model(Cnn1dModel(**ECG_SHAPE, activation=activation), (187, 1), 5)
    x = torch.rand(64, 187, 1)
    with torch.no_grad():
        torch.testing.assert_close(model(x), plain_cnn_forward(model, x), rtol=0, atol=1e-5)


def test_cnn1d_flat_rows_read_as_one_channel_series():
    torch.manual_seed(1)
    model = build_model(Cnn1dModel(channels=[2], kernel_size=3, hidden=[]), (8,), 2)
    x = torch.randn(4, 8)
    torch.testing.assert_close(model(x), plain_cnn_forward(model, x.unsqueeze(-1)), rtol=0, atol=1e-6)


def reference_epoch(model, X, y, order, loss_fn, optimizer, batch_size):
    """The loop as first written: one loss.item() per batch, summed in Python floats."""
    total = 0.0
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        loss = loss_fn(model(X[idx]), y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
    return total / len(order)


def test_train_epoch_loss_and_weights_equal_the_plain_loop():
    X = torch.tensor([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [0.5, 0.5], [1.5, 2.0], [3.0, 0.0], [0.0, 2.5]])
    y = torch.tensor([0, 1, 1, 0, 2, 1, 2])
    order = torch.tensor([3, 0, 6, 1, 5, 2, 4, 0])  # with a repeat, as a weighted sampler draws
    cfg = TrainConfig(batch_size=3, lr=0.1, optimizer="sgd")
    results = []
    for run in (_train_epoch, reference_epoch):
        torch.manual_seed(0)
        model = nn.Linear(2, 3)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        loss_fn = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 0.5, 2.0]))
        if run is _train_epoch:
            loss = _train_epoch(model, X, y, order, loss_fn, optimizer, cfg, 1, None)
        else:
            loss = reference_epoch(model, X, y, order, loss_fn, optimizer, 3)
        results.append((loss, model.weight.detach().clone()))
    assert results[0][0] == results[1][0]  # bit for bit: the same float64 sum in the same order
    assert torch.equal(results[0][1], results[1][1])


class NanFromCall(nn.Module):
    """Cross-entropy that returns NaN from its `first_nan`-th call on (calls count from 1)."""

    def __init__(self, first_nan: int):
        super().__init__()
        self.first_nan, self.calls = first_nan, 0

    def forward(self, logits, targets):
        self.calls += 1
        loss = F.cross_entropy(logits, targets)
        return loss * float("nan") if self.calls >= self.first_nan else loss


@pytest.mark.parametrize("first_nan, n_rows", [(3, 40), (34, 40), (1, 2)])
def test_nan_loss_names_its_batch_although_checked_in_groups(first_nan, n_rows):
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    X, y = torch.randn(n_rows, 2), torch.arange(n_rows) % 2
    cfg = TrainConfig(batch_size=1, optimizer="sgd")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ImbrunError) as err:
        _train_epoch(model, X, y, torch.arange(n_rows), NanFromCall(first_nan), optimizer, cfg, 4, None)
    assert str(err.value).startswith(f"train: the loss became nan at epoch 4, batch {first_nan}; usual causes")


def test_predict_logits_in_chunks_equals_one_pass():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 2)).train()
    X = np.random.default_rng(0).normal(size=(2500, 3)).astype(np.float32)  # 3 chunks of <= 1024 rows
    logits = predict_logits(model, X, 4096, torch.device("cpu"))
    assert model.training and not logits.is_inference() and logits.shape == (2500, 2)
    with torch.no_grad():
        torch.testing.assert_close(logits, model.eval()(torch.from_numpy(X)), rtol=0, atol=1e-6)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_cpu_device_keeps_freed_memory_and_is_idempotent():
    assert keep_freed_memory() is True
    assert resolve_device("cpu") == torch.device("cpu")
    assert keep_freed_memory() is True  # calling again changes nothing
