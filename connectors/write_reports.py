"""What became of a write: :class:`WriteReport` and :class:`WriteResult`, and where reports go.

Every write through :class:`connectors.writer.SafeWriter` produces one report, handed to a
:class:`WriteSink` (the store's journal, or :class:`MemorySink` in the CLI and tests). Re-exported
by :mod:`connectors.writer`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from connectors.registers import Value

logger = logging.getLogger(__name__)


class WriteResult(StrEnum):
    """What became of a write."""

    CONFIRMED = "confirmed"
    UNCHANGED = "unchanged"
    REFUSED = "refused"
    NOT_CONFIRMED = "not_confirmed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class WriteReport:
    """One write attempt, as the store records it.

    ``requested`` is what the caller asked for; ``written`` what was sent after snapping (``None``
    if nothing was sent); ``read_back`` the value read afterwards (``None`` if unreadable).
    """

    ts: datetime
    device: str
    point: str
    requested: Value
    written: Value | None
    read_back: Value | None
    reason: str
    result: WriteResult
    detail: str = ""

    @property
    def ok(self) -> bool:
        """Whether the device now holds the value (written and confirmed, or already there)."""
        return self.result in (WriteResult.CONFIRMED, WriteResult.UNCHANGED)

    def as_dict(self) -> dict[str, object]:
        """Return the report as a JSON-ready mapping."""
        return {
            "ts": self.ts.isoformat().replace("+00:00", "Z"),
            "device": self.device,
            "point": self.point,
            "requested": self.requested,
            "written": self.written,
            "read_back": self.read_back,
            "reason": self.reason,
            "result": self.result.value,
            "detail": self.detail,
        }


class WriteSink(Protocol):
    """Where write reports go (the store implements this)."""

    def record_write(self, report: WriteReport) -> None:
        """Persist or forward one report."""
        ...


@dataclass
class MemorySink:
    """A sink that keeps reports in a list (CLI, tests)."""

    reports: list[WriteReport] = field(default_factory=list)

    def record_write(self, report: WriteReport) -> None:
        """Append the report."""
        self.reports.append(report)
