"""Turning an exceptions.bin into what the engine loads: Introcore's acceptance verdict and the records in
file order (both from H2's :mod:`hvmiex.binfile.reader`)."""

from __future__ import annotations

from dataclasses import dataclass

from hvmiex.binfile.reader import GuestOS as ReaderGuestOS
from hvmiex.binfile.reader import LoadReport, parse_exceptions_bin, simulate_load
from hvmiex.model import Record
from hvmiex.violation import GuestOS

# reasons for which Introcore rejects the file before touching the loaded set (spec 03 §5.2)
_HEADER_REJECTIONS = frozenset({"LD001", "LD002", "LD003", "LD004", "LD005", "LD012"})


@dataclass(frozen=True, slots=True)
class BinLoad:
    report: LoadReport
    records: tuple[Record, ...]
    offsets: tuple[int, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.report.accepted

    @property
    def header_rejected(self) -> bool:
        """Refused before anything was cleared: the previously loaded set stays."""
        if self.report.accepted:
            return False
        return bool(self.report.reasons) and self.report.reasons[0].code in _HEADER_REJECTIONS


def load_bin(data: bytes, os: GuestOS, path: str = "<bytes>") -> BinLoad:
    """Introcore's verdict on ``data`` for ``os`` and, when accepted, every record in file order."""
    guest = ReaderGuestOS.LINUX if os is GuestOS.LINUX else ReaderGuestOS.WINDOWS
    report = simulate_load(data, guest, path)
    if not report.accepted:
        return BinLoad(report, ())
    parsed = parse_exceptions_bin(data, path)  # an accepted file is well formed
    return BinLoad(report, parsed.records, parsed.offsets)
