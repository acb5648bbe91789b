"""Device choice, thread count and seeding: the knobs that decide speed and reproducibility."""

from __future__ import annotations

import ctypes
import ctypes.util
import random
import sys

import numpy as np
import torch

from imbrun.errors import ImbrunError


def resolve_device(name: str, threads: int | None = None) -> torch.device:
    """`auto` picks CUDA when available; asking for CUDA without it is a clear error."""
    if threads:
        torch.set_num_threads(threads)
    if name == "cuda" and not torch.cuda.is_available():
        raise ImbrunError("train.device: 'cuda' was asked for but no CUDA device is available (use auto or cpu)")
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name)
    if device.type == "cpu":
        keep_freed_memory()
    return device


# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory(mmap_below: int = 32 << 20, trim_above: int = 1 << 30) -> bool:
    """Let glibc keep freed activation buffers for reuse instead of returning them to the OS.

    Each CPU batch allocates and frees tensors of a few to ~25 MB (a 1024-row chunk of a 187 x 32 activation); by
    default glibc serves these from mmap or trims them off the heap, and every reuse then page-faults fresh zeroed
    pages. Heap-allocated (below `mmap_below` bytes) and not trimmed (until `trim_above` bytes are free), CPU
    inference of the 1D-CNN ran ~1.6x faster for ~90 MB more peak RSS (bench/train_speed.py). Linux/glibc only;
    elsewhere a no-op returning False. Process-wide, like torch.set_num_threads.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, mmap_below)) and bool(libc.mallopt(_M_TRIM_THRESHOLD,
                                                                                          trim_above))
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return False


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch; on CPU the same seed and thread count give identical runs."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
