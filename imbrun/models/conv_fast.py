"""A faster forward for Conv1d stacks on CPU: the same modules and weights, run as channels-last Conv2d.

Why: inputs arrive as (batch, time, channels). nn.Conv1d wants (batch, channels, time); torch hands oneDNN that
layout, which oneDNN reorders to a blocked format and back around every convolution, forward and backward (as
much time as the convolutions themselves, per ONEDNN_VERBOSE). Read as a (batch, channels, 1, time) 4-D tensor,
the same memory is channels-last (NHWC), which oneDNN convolves directly and max_pool2d pools without reorders.
A max pool after a non-decreasing activation is also run before it (max(f(a), f(b)) == f(max(a, b))), so the
activation touches half the values. Outputs and gradients equal Cnn1d's plain forward (tests/test_speed_equivalence.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Non-decreasing activations: pooling before them gives the same values and gradients. (GELU dips below zero.)
MONOTONE = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.SELU, nn.Tanh, nn.Sigmoid)


def conv_stack_channels_last(layers: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """Run Conv1d / activation / MaxPool1d `layers` on x (batch, time, channels) -> (batch, channels * time').

    The result is flattened channel-major, exactly as `layers(x.transpose(1, 2)).flatten(1)`.
    """
    h = x.transpose(1, 2).unsqueeze(2)  # (batch, channels, 1, time), channels-last strides: no copy
    modules = list(layers)
    i = 0
    while i < len(modules):
        module = modules[i]
        after = modules[i + 1] if i + 1 < len(modules) else None
        if isinstance(module, MONOTONE) and isinstance(after, nn.MaxPool1d):
            h = module(_max_pool(after, h))  # pool first: same result, half the activation work
            i += 2
            continue
        h = _apply(module, h)
        i += 1
    return _FlattenChannelMajor.apply(h)  # (batch, channels * time'), as the dense head's weights expect


class _FlattenChannelMajor(torch.autograd.Function):
    """h.flatten(1) whose gradient comes back channels-last like h.

    Plain flatten returns a standard-layout gradient; the activation's backward then mixes layouts, which took
    ~15x longer than the same op on matching layouts (threshold_backward, 256 x 32 x 93: 1.9 ms vs 0.13 ms).
    """

    @staticmethod
    def forward(ctx, h: torch.Tensor) -> torch.Tensor:
        ctx.shape, ctx.channels_last = h.shape, h.dim() == 4 and h.is_contiguous(memory_format=torch.channels_last)
        flat = h.flatten(1)
        return flat.clone() if flat.data_ptr() == h.data_ptr() else flat  # a Function must not return a view

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.reshape(ctx.shape)
        return grad.contiguous(memory_format=torch.channels_last) if ctx.channels_last else grad


def _apply(module: nn.Module, h: torch.Tensor) -> torch.Tensor:
    if isinstance(module, nn.Conv1d):
        return _conv(module, h)
    if isinstance(module, nn.MaxPool1d):
        return _max_pool(module, h)
    return module(h)  # element-wise layers (activations, dropout) work on any shape


def _conv(conv: nn.Conv1d, h: torch.Tensor) -> torch.Tensor:
    """conv (out, in, k) applied as a (1, k) Conv2d to h (batch, in, 1, time) -> (batch, out, 1, time')."""
    if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
        raise ValueError("conv_stack_channels_last supports numeric zero padding only")
    weight = conv.weight.unsqueeze(2).contiguous(memory_format=torch.channels_last)  # (out, in, 1, k)
    return F.conv2d(h, weight, conv.bias, stride=(1, conv.stride[0]), padding=(0, conv.padding[0]),
                    dilation=(1, conv.dilation[0]), groups=conv.groups)


def _max_pool(pool: nn.MaxPool1d, h: torch.Tensor) -> torch.Tensor:
    if pool.ceil_mode or pool.return_indices:
        raise ValueError("conv_stack_channels_last supports plain floor-mode max pooling only")
    kernel, stride = _one(pool.kernel_size), _one(pool.stride if pool.stride is not None else pool.kernel_size)
    return F.max_pool2d(h, (1, kernel), (1, stride), (0, _one(pool.padding)), (1, _one(pool.dilation)))


def _one(value) -> int:
    return int(value[0]) if isinstance(value, (tuple, list)) else int(value)
