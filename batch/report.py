"""After a run: the summary table for the terminal, and the JSON/CSV report files."""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from batch.names import json_text, shown
from batch.out_of_space import OutputFull, out_of_space_error
from batch.results import DONE, FAILED, SKIPPED, STATUSES, Result
from colored.atomic import atomic_write_bytes

# confidence: the model's own figure for the picture (0..1, see batch.confidence); empty (null) when
# the model has none or nothing was colorized.
REPORT_FIELDS = ("input", "output", "status", "reason", "notes", "output_bytes", "seconds", "confidence")


def counts(results: Sequence[Result]) -> dict[str, int]:
    """Files per status, every status present (zeros included), in a fixed order."""
    c = Counter(r.status for r in results)
    return {s: c.get(s, 0) for s in STATUSES}


def exit_code(results: Sequence[Result]) -> int:
    """0 when nothing failed (in this run or, not retried, an earlier one), else 1."""
    return 1 if any(r.failed for r in results) else 0


def summary_table(results: Sequence[Result], elapsed: float, ignored: Counter | None = None, max_listed: int = 20) -> str:
    """A few lines for the terminal: counts, speed, each failure with its reason, notes."""
    c = counts(results)
    width = max(len(s) for s in STATUSES)
    lines = [f"  {s:<{width}}  {n:>7}" for s, n in c.items()]
    worked = c["done"] + c["skipped"] + c["failed"]
    rate = f"{worked / elapsed:.2f} images/s" if elapsed > 0 and worked else "-"
    lines.append(f"  {'total':<{width}}  {len(results):>7}   in {elapsed:.1f} s ({rate})")
    if ignored:
        exts = ", ".join(f"{ext} x{n}" for ext, n in sorted(ignored.items()))
        lines.append(f"  not images (ignored): {exts}")
    failed = sorted((r for r in results if r.failed), key=lambda r: r.input)
    if failed:
        lines.append("failed:")
        lines += [f"  {shown(r.input)}: {shown(r.reason)}" for r in failed[:max_listed]]
        if len(failed) > max_listed:
            lines.append(f"  ... and {len(failed) - max_listed} more (see the report)")
        if any(r.status == "failed earlier" for r in failed):
            lines.append("  ('failed earlier' files were not tried again: add --retry-failed)")
    skipped = Counter(r.reason for r in results if r.status == "skipped")
    if skipped:  # grouped: --skip-color can skip thousands, a FIFO or a folder link only a few
        lines.append("skipped:")
        lines += [f"  {shown(reason)} ({k} entr{'ies' if k > 1 else 'y'})" for reason, k in skipped.most_common(max_listed)]
    # This run's notes only: a resumed run's "already done" files carry the notes of the run that did them.
    notes = Counter(n for r in results if r.status in (DONE, SKIPPED, FAILED) for n in r.notes)
    if notes:
        lines.append("notes:")
        lines += [f"  {shown(n)} ({k} file{'s' if k > 1 else ''})" for n, k in notes.most_common(max_listed)]
    return "\n".join(lines)


def keep_earlier(path: Path) -> Path | None:
    """Move an earlier run's report out of the way, to the first free NAME.N.EXT (colored-report.1.json,
    .2, ...), so that a resumed run, whose rows mostly say "already done", keeps the report of the
    run that did the work. Returns where it went."""
    if not path.exists():
        return None
    n = 1
    while (kept := path.with_name(f"{path.stem}.{n}{path.suffix}")).exists():
        n += 1
    os.rename(path, kept)
    return kept


def write_report(path: str | Path, results: Sequence[Result], meta: dict) -> Path:
    """Write the per-file report as JSON (with `meta` and counts) or CSV, by the file's extension;
    a report already there (an earlier run's) is kept under a number (keep_earlier).

    Names that are not UTF-8 (batch.names): \\udcXX escapes in JSON, their raw bytes in CSV.
    Raises OutputFull when the disk cannot take it (no partial file is left).
    """
    path = Path(path)
    rows = sorted(results, key=lambda r: r.input)
    if path.suffix.lower() == ".csv":
        data = _csv_text(rows).encode("utf-8", "surrogateescape")
    else:
        doc = {**meta, "counts": counts(rows), "files": [_row(r) for r in rows]}
        data = (json_text(doc, indent=2) + "\n").encode("utf-8")
    try:
        keep_earlier(path)
        atomic_write_bytes(path, data)
    except OSError as e:
        if out_of_space_error(e):
            raise OutputFull(e, str(path)) from e
        raise
    return path


def _row(r: Result) -> dict:
    d = r.to_dict()
    return {k: d.get(k) for k in REPORT_FIELDS}


def _csv_text(rows: Sequence[Result]) -> str:
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=REPORT_FIELDS)
    w.writeheader()
    for r in rows:
        w.writerow({**_row(r), "notes": "; ".join(r.notes)})
    return buf.getvalue()
