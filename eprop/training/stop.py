"""Stopping a training on SIGINT/SIGTERM at an iteration boundary (`StopRequest`)."""

from __future__ import annotations

import signal
from typing import Any


class StopRequest:
    """SIGINT/SIGTERM: the first asks to stop at the next iteration boundary, the second stops at once."""

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[signum] = signal.signal(signum, self._handle)
            except ValueError:  # not the main thread (e.g. a launcher's worker thread)
                pass
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum, frame) -> None:
        if self.signal_name is not None:
            raise KeyboardInterrupt(signal.Signals(signum).name)
        self.signal_name = signal.Signals(signum).name

    @property
    def requested(self) -> bool:
        return self.signal_name is not None
