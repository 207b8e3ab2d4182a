"""The offline Introcore exception engine (spec 03).

``Engine`` loads an exceptions.bin (or a compiled model) into Introcore's lists and decides violations
(:mod:`hvmiex.violation`) exactly like Introcore, returning a :class:`Verdict` with the evidence.
"""

from hvmiex.engine.codeblocks import CodeblockCache, Level, list_hits, list_passes, match_hashes, match_window
from hvmiex.engine.core import AddResult, AddStatus, Engine, EngineError, UpdateResult, UpdateStatus
from hvmiex.engine.propose import AlertList, Proposal, ProposalError, is_duplicate, propose
from hvmiex.engine.verdict import (
    Action,
    CandidateResult,
    CandidateTrace,
    ExceptionInfo,
    ExceptionKindTag,
    Reason,
    SignatureCheck,
    Step,
    Verdict,
)

__all__ = [
    "Action",
    "AddResult",
    "AddStatus",
    "AlertList",
    "CandidateResult",
    "CandidateTrace",
    "CodeblockCache",
    "Engine",
    "EngineError",
    "ExceptionInfo",
    "ExceptionKindTag",
    "Level",
    "Proposal",
    "ProposalError",
    "Reason",
    "SignatureCheck",
    "Step",
    "UpdateResult",
    "UpdateStatus",
    "Verdict",
    "is_duplicate",
    "list_hits",
    "list_passes",
    "match_hashes",
    "match_window",
    "propose",
]
