"""What the engine returns: Introcore's action and reason plus the evidence (spec 03 §3.8, §6.5)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Action(enum.IntEnum):
    ALLOWED = 0
    ALLOWED_VIRTUAL = 1
    ALLOWED_PATCHED = 2
    NOT_ALLOWED = 3
    IGNORE = 4
    RETRY = 5

    @property
    def json_name(self) -> str:
        return self.name.lower().replace("_", "-")


class Reason(enum.IntEnum):
    ALLOWED = 0
    ALLOWED_FEEDBACK = 1
    SIGNATURE_NOT_MATCHED = 2
    NO_EXCEPTION = 3
    EXTRA_CHECKS_FAILED = 4
    EXCEPTIONS_NOT_LOADED = 5
    INTERNAL_ERROR = 6
    VALUE_CODE_NOT_MATCHED = 7
    VALUE_NOT_MATCHED = 8
    EXPORT_NOT_MATCHED = 9
    IDT_NOT_MATCHED = 10
    VERSION_OS_NOT_MATCHED = 11
    VERSION_INTRO_NOT_MATCHED = 12
    PROCESS_CREATION_NOT_MATCHED = 13
    SAME_VALUE = 14
    UNKNOWN = 15

    @property
    def json_name(self) -> str:
        return self.name.lower().replace("_", "-")


class ExceptionKindTag(enum.Enum):
    """How the engine evaluates an exception (spec 03 §3.1): the oracle's ``kind`` strings."""

    KM = "km"
    UM = "um"
    UMG = "umg"
    KUM = "kum"


class CandidateResult(enum.Enum):
    ALLOW = "allow"
    NOT_MATCHED = "not-matched"
    ERROR = "error"


class Step(enum.Enum):
    """Where a candidate stopped (spec 03 §6.4)."""

    OS_GATE = "os-gate"
    STEP1 = "step1"
    EXTRA = "extra-checks"
    SIGNATURES = "signatures"
    MATCHED = "matched"


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """One stored signature tested for a candidate (or one group-level outcome when ``sig_id`` is None)."""

    type: int  # 50, 51, 70, 100, 200, 300, 500, 600
    sig_id: int | None
    passed: bool
    why: str
    name: str | None = None  # the signature's sig_id text when the source is known

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "id": self.sig_id, "passed": self.passed, "why": self.why}
        if self.name is not None:
            out["name"] = self.name
        return out


@dataclass(frozen=True, slots=True)
class ExceptionInfo:
    """A loaded exception as Introcore holds it (after load-time fix-ups) and where it came from."""

    kind: ExceptionKindTag
    originator: int | str
    victim: int | str
    process: int | str | None
    flags: int
    object_type: int
    signatures: tuple[int, ...]
    list_name: str
    index: int  # position in its list at decision time
    record_index: int | None  # position of the record in the .bin (None for alert exceptions)
    alert: bool = False
    source: str | None = None  # "file:line" of the JSON entry, when known
    names: tuple[str, ...] = ()  # flag names, when known

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind.value,
            "originator": self.originator,
            "victim": self.victim,
        }
        if self.process is not None:
            out["process"] = self.process
        out.update(
            flags=self.flags,
            object_type=self.object_type,
            signatures=list(self.signatures),
            list=self.list_name,
            index=self.index,
            record_index=self.record_index,
            alert=self.alert,
        )
        if self.source is not None:
            out["source"] = self.source
        return out

    def oracle_record(self) -> dict[str, Any]:
        """The oracle's ``<exception-record>`` form (for comparisons)."""
        out: dict[str, Any] = {"kind": self.kind.value, "originator": self.originator, "victim": self.victim}
        if self.process is not None:
            out["process"] = self.process
        out.update(flags=self.flags, object_type=self.object_type, signatures=list(self.signatures))
        return out


@dataclass(frozen=True, slots=True)
class CandidateTrace:
    """One evaluation of one candidate (one ``IntExceptMatchException`` call), with the state after it."""

    exception: ExceptionInfo
    result: CandidateResult
    step: Step
    action: Action
    reason: Reason
    why: str
    signatures: tuple[SignatureCheck, ...] = ()
    phase: str = ""  # which scan produced it: "alert", "generic", "no-name", "glob", "bucket", "return", "feedback"

    def to_dict(self) -> dict[str, Any]:
        return {
            "exception": self.exception.to_dict(),
            "phase": self.phase,
            "result": self.result.value,
            "step": self.step.value,
            "action": self.action.json_name,
            "reason": self.reason.json_name,
            "why": self.why,
            "signatures": [s.to_dict() for s in self.signatures],
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    reason: Reason
    matched: ExceptionInfo | None = None
    candidates: tuple[CandidateTrace, ...] = ()
    deciding: CandidateTrace | None = None  # the candidate that set the final reason (blocked) or matched
    note: str = ""  # shortcut explanations (same value, not loaded, originator blocked)
    warnings: tuple[str, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        return self.action is Action.ALLOWED

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action.json_name,
            "action_value": int(self.action),
            "reason": self.reason.json_name,
            "reason_value": int(self.reason),
            "matched_exception": self.matched.to_dict() if self.matched else None,
            "deciding_candidate": self.deciding.to_dict() if self.deciding else None,
            "candidates": [c.to_dict() for c in self.candidates],
            "note": self.note,
            "warnings": list(self.warnings),
        }
