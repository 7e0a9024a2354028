"""SIGTERM (systemd, Kubernetes, `timeout`) as Ctrl-C for the commands that do not drain a queue
(colored-train, -export, -eval): it raises KeyboardInterrupt in the main thread, so the
command's own Ctrl-C path runs (one line, and for training the resume command) and the exit
status is 128 + the signal: 130 for Ctrl-C, 143 for SIGTERM. Their outputs are atomic, so a
stop never leaves a half-written file. torch-free.
"""

from __future__ import annotations

import signal


class Stop:
    """Installed once at a command's start; ``exit_code`` is what its KeyboardInterrupt path exits with."""

    def __init__(self) -> None:
        self.signum = signal.SIGINT
        signal.signal(signal.SIGTERM, self._received)

    def _received(self, signum: int, _frame=None) -> None:
        self.signum = signum
        raise KeyboardInterrupt

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


__all__ = ["Stop"]
