"""File names that are not valid UTF-8, in text the runtime writes (manifest, reports, logs).

Archives copied from Latin-1 or Windows systems hold names like b'M\\xfcller.jpg'.
Python keeps such bytes in str as lone surrogates ('M\\udcfcller.jpg'; os.fsencode
gives the exact bytes back), which a strict UTF-8 encoder refuses. Each writer
picks the form that round-trips in its format:

    JSON (manifest, JSON report, JSON logs)  the escape \\udcfc, valid JSON text that
                                             json.loads turns back into the same str
    terminal and logfmt lines (shown)        \\xfc, as the byte is, one readable line
    CSV report                               the raw bytes (read it back with
                                             errors="surrogateescape")
"""

from __future__ import annotations

import json
import re

_SURROGATE = re.compile("[\udc80-\udcff]")


def has_raw_bytes(text: str) -> bool:
    """Whether `text` holds bytes that were not UTF-8 (as surrogate escapes)."""
    return _SURROGATE.search(text) is not None


def json_text(obj: object, **kw) -> str:
    """json.dumps with non-ASCII kept readable and undecodable name bytes as \\udcXX escapes.

    Inside JSON a lone surrogate can only sit in a string, where backslashreplace
    writes exactly the JSON escape for it; the result encodes as strict UTF-8.
    """
    text = json.dumps(obj, ensure_ascii=False, **kw)
    return text.encode("utf-8", "backslashreplace").decode("utf-8") if has_raw_bytes(text) else text


def shown(text: str) -> str:
    """For terminals and log lines: each undecodable byte as \\xNN."""
    return _SURROGATE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)


__all__ = ["has_raw_bytes", "json_text", "shown"]
