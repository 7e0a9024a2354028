"""The one exception type a caller of ColorED needs to catch.

Every error that is the input's or the model's fault (a file that cannot be read, an array
of the wrong kind, a model that cannot be opened, a setting the model cannot run) is a
ColoredError whose message is one line naming the file or value and the reason. The runtime's
own types (batch.images.ImageError, batch.session.SessionError) derive from it, so
``except ColoredError`` in a program catches them without importing the runtime. torch-free.
"""

from __future__ import annotations


class ColoredError(Exception):
    """A one-line, user-facing error: '<what>: <reason>'."""


__all__ = ["ColoredError"]
