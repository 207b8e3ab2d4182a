"""Exceptions proposed from decoded alerts, through the toolkit's single proposer (spec 03 §12).

Introcore's AddExceptionFromAlert decides (not upstream's Python deserializer, spec 05 §11): every
proposal is made by :func:`hvmiex.engine.propose.propose` from the decoded violation, with the code
blocks the alert itself carries. Many alerts: proposals with the same exception fields are merged into
one exception whose signature list is the union of their (distinct) signatures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from hvmiex.alerts.convert import DecodedViolation
from hvmiex.alerts.layout import Section
from hvmiex.engine.codeblocks import AlertBlock, AlertCodeblocks, CodeClass
from hvmiex.engine.propose import ALERT_COUNTER_START, Proposal, propose
from hvmiex.model import Signature, SignatureRef, signature_id
from hvmiex.violation import UserOriginator


def alert_codeblocks_of(decoded: DecodedViolation) -> AlertCodeblocks | None:
    """The alert's own code blocks (first code-blocks object of the misc section), in the proposer's form.

    No object: the alert carries no code blocks (RIP 0). An object with N = 0: extraction failed.
    Block offsets and pivot classes are not serialized; only the hashes and the RIP index matter here.
    """
    alert = decoded.alert
    obj = alert.first(35, Section.MISC) or alert.first(35)
    if obj is None:
        return None
    hashes: tuple[int, ...] = tuple(obj.values["hashes"])
    execute = isinstance(decoded.violation.originator, UserOriginator) and decoded.violation.originator.execute
    blocks = tuple(AlertBlock(0, CodeClass.CALL, h) for h in hashes)
    valid = bool(hashes) or bool(obj.values["start_address"])
    rip_index = obj.values["rip_index"] if hashes else None
    return AlertCodeblocks(valid, obj.values["start_address"] & 0xFFF, rip_index, blocks, execute)


def propose_from_alert(decoded: DecodedViolation, first_counter: int = ALERT_COUNTER_START) -> Proposal:
    """What Introcore's AddExceptionFromAlert would create for the alert's violation.

    Raises :class:`hvmiex.engine.propose.ProposalError` when Introcore creates nothing."""
    return propose(decoded.violation, codeblocks=alert_codeblocks_of(decoded), first_counter=first_counter)


@dataclass(frozen=True, slots=True)
class MergedProposal:
    """One exception covering several alerts: same exception fields, union of their signatures."""

    proposal: Proposal
    sources: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.sources)


def _exception_key(p: Proposal) -> tuple[Any, ...]:
    exc = p.exception
    return (p.list, type(exc), replace(exc, signatures=()))


def _signature_key(sig: Signature) -> Signature:
    return replace(sig, id=0, name=None)


def merge_proposals(items: Iterable[tuple[str, Proposal]], first_counter: int = 1) -> list[MergedProposal]:
    """Group proposals by exception fields (order of first appearance), merge distinct signatures, and
    renumber every signature id (per type counter ``first_counter, ...`` in output order)."""
    groups: dict[tuple[Any, ...], tuple[Proposal, list[str], list[Signature], set[Signature]]] = {}
    for source, prop in items:
        key = _exception_key(prop)
        entry = groups.get(key)
        if entry is None:
            entry = (prop, [], [], set())
            groups[key] = entry
        entry[1].append(source)
        for sig in prop.signatures:
            skey = _signature_key(sig)
            if skey not in entry[3]:
                entry[3].add(skey)
                entry[2].append(sig)
    out: list[MergedProposal] = []
    counter = first_counter
    for prop, sources, sigs, _ in groups.values():
        renamed: list[Signature] = []
        for sig in sigs:
            new_id = signature_id(sig.id >> 22, counter)
            counter += 1
            renamed.append(replace(sig, id=new_id, name=_sig_name(sig, new_id)))
        refs = tuple(SignatureRef(s.id, s.name) for s in renamed)
        exception = replace(prop.exception, signatures=refs)
        out.append(MergedProposal(replace(prop, exception=exception, signatures=tuple(renamed)), tuple(sources)))
    return out


def _sig_name(sig: Signature, new_id: int) -> str:
    kind = type(sig).__name__.removesuffix("Signature").lower()
    return f"alert-{kind}-{new_id & 0x3FFFFF:x}"
