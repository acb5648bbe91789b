"""Ctrl-C / SIGTERM during training: the first signal asks fit() to stop at the next batch, a second one aborts."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopFlag:
    """Set by the first signal; fit() polls it between batches (`flag()` is true once a stop was requested)."""

    def __init__(self) -> None:
        self.signal: int | None = None

    def __call__(self) -> bool:
        return self.signal is not None


@contextmanager
def stop_on_signals() -> Iterator[StopFlag]:
    """Install the handlers for the block (main thread only; elsewhere the flag never turns true)."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        if flag.signal is not None:  # second signal: stop now, without a checkpoint
            raise KeyboardInterrupt
        flag.signal = signum

    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
