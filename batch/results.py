"""What happened to one input file: the record the manifest, the report and the progress bar share."""

from __future__ import annotations

from dataclasses import dataclass, field

DONE = "done"  # colorized and written
SKIPPED = "skipped"  # deliberately not colorized (colour input with --skip-color)
FAILED = "failed"  # could not be colorized; `reason` says why
ALREADY_DONE = "already done"  # finished by an earlier run with the same settings and model
FAILED_EARLIER = "failed earlier"  # failed in an earlier run and not retried (see --retry-failed)

STATUSES = (DONE, SKIPPED, FAILED, ALREADY_DONE, FAILED_EARLIER)


@dataclass
class Result:
    input: str  # path relative to the input folder, '/'-separated
    output: str | None  # path relative to the output folder, None when nothing is written
    status: str
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    fingerprint: str = ""
    output_bytes: int | None = None
    seconds: float = 0.0
    confidence: float | None = None  # how sure the model was of this picture's colours (0..1); None: no figure
    record: bool = field(default=True, repr=False)  # False: reported, never written to the manifest

    @property
    def failed(self) -> bool:
        return self.status in (FAILED, FAILED_EARLIER)

    def to_dict(self) -> dict:
        return {
            "input": self.input,
            "output": self.output,
            "status": self.status,
            "reason": self.reason,
            "notes": list(self.notes),
            "fingerprint": self.fingerprint,
            "output_bytes": self.output_bytes,
            "seconds": round(self.seconds, 4),
            **({} if self.confidence is None else {"confidence": round(self.confidence, 4)}),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Result":
        return cls(
            input=d["input"],
            output=d.get("output"),
            status=d["status"],
            reason=d.get("reason", ""),
            notes=list(d.get("notes", [])),
            fingerprint=d.get("fingerprint", ""),
            output_bytes=d.get("output_bytes"),
            seconds=float(d.get("seconds", 0.0)),
            record=bool(d.get("record", True)),
            confidence=None if d.get("confidence") is None else float(d["confidence"]),
        )
