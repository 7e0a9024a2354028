"""Stop signals for colored-batch: SIGTERM (systemd, Kubernetes, `timeout`) drains like Ctrl-C.

The first SIGTERM or SIGINT ends the job stream: no new file is started, the files already
in the pipeline are finished and recorded, and the command then prints its summary, writes
its report and exits 128 + the signal number (143, 130). A second signal does not wait:
SIGINT raises KeyboardInterrupt, SIGTERM gets the default action (outputs are atomic and
the manifest is only written after them, so that is safe too).
"""

from __future__ import annotations

import signal
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """Installed for the length of a run; `signum` is the first signal received, or None."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
        for sig in SIGNALS:
            signal.signal(sig, self._received)

    def _received(self, signum: int, _frame=None) -> None:
        self.signum = signum
        signal.signal(signal.SIGINT, signal.default_int_handler)  # the second one: at once
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def until_stopped(self, items: Iterable[T]) -> Iterator[T]:
        """`items` until a stop signal arrives (checked before each one is handed out)."""
        for item in items:
            if self.signum is not None:
                return
            yield item

    @property
    def exit_code(self) -> int | None:
        return None if self.signum is None else 128 + self.signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


__all__ = ["StopSignals"]
