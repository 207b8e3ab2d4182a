"""The proposer against Introcore's own AddExceptionFromAlert (../shared/oracle/alerts-real)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hvmiex.engine.codeblocks import select_signature_hashes
from hvmiex.engine.propose import Proposal, ProposalError, alert_codeblocks_for, is_duplicate, propose
from hvmiex.model import (
    CodeBlocksSignature,
    ExportSignature,
    IdtSignature,
    KernelException,
    KernelUserException,
    ProcessCreationSignature,
    Signature,
)
from hvmiex.violation import Violation, violation_from_dict
from tests.conftest import SHARED, shared_path

CASES_DIR = SHARED / "oracle" / "alerts-real" / "cases"
CASE_NAMES = sorted(p.stem for p in CASES_DIR.glob("*.json")) if CASES_DIR.exists() else ["<absent>"]

# keys of the oracle schema that the violation model does not take (yet)
_DROP_ORIGINATOR_KEYS = ("same_process_as_victim",)


def load_case(name: str) -> tuple[dict[str, Any], Violation]:
    case = json.loads(Path(shared_path("oracle", "alerts-real", "cases", f"{name}.json")).read_text())
    raw = dict(case["violation"])
    raw["memory"] = case["memory"]
    raw["originator"] = {k: v for k, v in raw["originator"].items() if k not in _DROP_ORIGINATOR_KEYS}
    return case, violation_from_dict(raw, where=name)


def _sig(s: Signature) -> dict[str, Any]:
    base: dict[str, Any] = {"id": s.id, "alert": True, "flags": s.flags.value}
    if isinstance(s, CodeBlocksSignature):
        return {**base, "type": "codeblocks", "score": s.score, "lists": [list(x) for x in s.lists]}
    if isinstance(s, IdtSignature):
        return {**base, "type": "idt", "entry": s.entry}
    if isinstance(s, ExportSignature):
        entries = [{"hash": e.name.value, "delta": e.delta} for e in s.entries]
        return {**base, "type": "export", "library": s.library.value, "entries": entries}
    assert isinstance(s, ProcessCreationSignature)
    return {**base, "type": "process-creation", "create_mask": s.create_mask.value}


def as_oracle(p: Proposal) -> dict[str, Any]:
    e = p.exception
    kind = "km" if isinstance(e, KernelException) else "kum" if isinstance(e, KernelUserException) else "um"
    exc: dict[str, Any] = {"kind": kind, "originator": e.originator.value, "victim": e.victim.value}
    if not isinstance(e, KernelException):
        exc["process"] = e.process.value
    exc.update(flags=e.flags.value, object_type=e.object_type, signatures=[r.id for r in e.signatures])
    return {"list": p.list.value, "exception": exc, "signatures": [_sig(s) for s in p.signatures]}


@pytest.mark.parametrize("name", CASE_NAMES)
def test_proposal_equals_introcore(name: str) -> None:
    case, violation = load_case(name)
    created = case["created_exceptions"]
    if not case["alert_exception"]["header"]["valid"]:
        with pytest.raises(ProposalError):
            propose(violation)
        assert created == []
        return
    proposal = propose(violation)
    first = {k: v for k, v in created[0].items() if k != "context"}
    assert as_oracle(proposal) == first


@pytest.mark.parametrize("name", CASE_NAMES)
def test_second_add_deduplication(name: str) -> None:
    case, violation = load_case(name)
    if not case["created_exceptions"]:
        pytest.skip("no exception created")
    first = propose(violation)
    second = propose(violation, first_counter=0x200001 + len(first.signatures))
    added_again = len(case["created_exceptions"]) > 1
    assert is_duplicate(first, second) is not added_again


@pytest.mark.parametrize("name", CASE_NAMES)
def test_alert_event_codeblocks(name: str) -> None:
    """Our alert-side blocks equal the alert's INTRO_CODEBLOCKS where the event carries them."""
    case, violation = load_case(name)
    event_cb = case["alert_event"].get("codeblocks")
    if not event_cb:
        pytest.skip("event carries no code blocks")

    cbs = alert_codeblocks_for(violation)
    assert cbs is not None
    assert cbs.valid == event_cb["valid"]
    assert list(cbs.hashes) == event_cb["hashes"]
    assert cbs.rip_cb_index == event_cb["rip_cb_index"]
    assert (violation.km.original.rip if violation.kind.value != "um" else violation.um.rip) & ~0xFFF == (
        event_cb["start"] & ~0xFFF
    )


@pytest.mark.parametrize("name", CASE_NAMES)
def test_alert_exception_codeblocks_from_carried_blocks(name: str) -> None:
    """Given the alert's own blocks (as a decoded alert carries them), the signature is the same."""
    case, _violation = load_case(name)
    event_cb = case["alert_event"].get("codeblocks")
    ax = case["alert_exception"]
    if not event_cb or not ax["codeblocks"].get("valid"):
        pytest.skip("no carried code blocks")
    hashes, score = select_signature_hashes(event_cb["hashes"], event_cb["rip_cb_index"], False)
    assert list(hashes) == ax["codeblocks"]["hashes"]
    assert score == ax["codeblocks"]["score"]
