"""Ctrl-C / SIGTERM during a run: never a run left `running` by a signal.

abort_on_signals() covers the whole run: a signal aborts it at once with KeyboardInterrupt, so the caller can mark
it `interrupted` (without a checkpoint). Inside it, stop_on_signals() covers the training that fit() can checkpoint:
there the first signal only asks fit() to stop at the next batch, and a second one aborts.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class RunInterrupted(KeyboardInterrupt):
    """A run stopped without a checkpoint; the message says so and what to do (the CLI prints it, exit 130)."""


class SignalGuard:
    """The signals a run received; the first one outside a pause point aborts it (KeyboardInterrupt), once."""

    def __init__(self) -> None:
        self.signal: int | None = None  # the signal that aborted the run
        self.shielded = False  # the run is being marked (checkpoint, status): further signals are ignored

    def shield(self) -> None:
        """From now on signals are ignored: what the run writes to say how it ended must not be cut short."""
        self.shielded = True

    def describe(self) -> str:
        """How the run was stopped: 'stopped by SIGTERM', or 'stopped' when no signal of ours did it."""
        return f"stopped by {signal.Signals(self.signal).name}" if self.signal is not None else "stopped"

    def handle(self, signum: int, frame) -> None:
        if self.shielded:
            return
        self.signal, self.shielded = signum, True  # abort once; marking the run is not interrupted again
        raise KeyboardInterrupt


class StopFlag:
    """Set by the first signal; fit() polls it between batches (`flag()` is true once a stop was requested)."""

    def __init__(self) -> None:
        self.signal: int | None = None

    def __call__(self) -> bool:
        return self.signal is not None


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()  # signal handlers can only be set there


@contextmanager
def _handlers(handler) -> Iterator[dict]:
    """Install `handler` for SIGNALS for the block; yields the previous handlers, restored afterwards."""
    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    try:
        yield previous
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def abort_on_signals() -> Iterator[SignalGuard]:
    """A run's handlers (main thread only; elsewhere nothing is installed and the guard never fires)."""
    guard = SignalGuard()
    if not _main_thread():
        yield guard
        return
    with _handlers(guard.handle):
        yield guard


@contextmanager
def stop_on_signals() -> Iterator[StopFlag]:
    """The first signal sets the flag; a second goes to the handler outside (a run's guard: abort).

    Main thread only; elsewhere the flag never turns true.
    """
    flag = StopFlag()
    if not _main_thread():
        yield flag
        return
    outside: dict = {}

    def handler(signum, frame):
        if flag.signal is None:
            flag.signal = signum
            return
        previous = outside.get(signum)
        if callable(previous):  # e.g. SignalGuard.handle, or Python's default SIGINT handler
            return previous(signum, frame)
        raise KeyboardInterrupt  # no Python handler outside (SIGTERM's default): stop now, without a checkpoint

    with _handlers(handler) as previous:
        outside.update(previous)
        yield flag
