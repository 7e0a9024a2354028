"""colored-watch, the watch-folder service: `daemon` (the service and its CLI) and its parts,
`events` (which file-system events make a file a candidate, and when it is complete),
`moves` (--move-done / --move-failed), `status` (the status file) and `preview` (the sheet
of the latest files)."""

from batch.watch.daemon import main

__all__ = ["main"]
