"""The offline Introcore: load exceptions, decide violations, manage alert exceptions (spec 03 §5, §6, §12)."""

from __future__ import annotations

import enum
import os as _os
from dataclasses import dataclass, replace
from pathlib import Path

from hvmiex.engine.loader import BinLoad, load_bin
from hvmiex.engine.match import Decision, EngineState
from hvmiex.engine.store import (
    ALERT_SIGNATURE_BASE,
    KERNEL_ALERT,
    KERNEL_USER_ALERT,
    PROCESS_CREATION_ALERT,
    ST_CODEBLOCKS,
    ST_EXPORT,
    ST_IDT,
    ST_PROCESS_CREATION,
    USER_ALERT,
    ExceptionStore,
    LoadedException,
    LoadedSignature,
    loaded_from_record,
    populate,
    signature_list_type,
)
from hvmiex.engine.verdict import Action, Reason, Verdict
from hvmiex.errors import HvmiexError
from hvmiex.model import ExceptionSet, Record
from hvmiex.violation import GuestOS, Violation, ViolationKind, ZoneFlags, ZoneType

_ZONE_WRITE = int(ZoneFlags.WRITE)
_EPT = ZoneType.EPT
_VK_UM = ViolationKind.UM


class EngineError(HvmiexError):
    """The engine cannot do what was asked (e.g. an exceptions file that cannot be read)."""


_BLOCKED = Verdict(Action.NOT_ALLOWED, Reason.NO_EXCEPTION, note="originator blocked before any exception lookup")
_NOT_LOADED = Verdict(Action.ALLOWED, Reason.EXCEPTIONS_NOT_LOADED, note="exceptions are not loaded (log-only)")


class UpdateStatus(enum.Enum):
    LOADED = "loaded"  # accepted: the new set replaces the loaded one
    REJECTED = "rejected"  # refused at the header: the previous set (and loaded flag) stays
    FAILED = "failed"  # refused while loading: the previous set is gone and nothing is loaded


@dataclass(frozen=True, slots=True)
class UpdateResult:
    status: UpdateStatus
    message: str
    load: BinLoad | None = None


class AddStatus(enum.Enum):
    ADDED = "added"
    DUPLICATE = "duplicate"  # INT_STATUS_NOT_NEEDED_HINT
    NOT_SUPPORTED = "not-supported"


@dataclass(frozen=True, slots=True)
class AddResult:
    status: AddStatus
    list_name: str | None
    proposal: object  # hvmiex.engine.propose.Proposal (None when not supported)
    message: str = ""


class Engine:
    """One Introcore instance for one guest OS.

    ``update_exceptions`` replaces the loaded set (alert exceptions survive), ``decide`` runs the matcher,
    ``add_exception_from_alert`` / ``remove_exception`` / ``flush_alert_exceptions`` manage alert
    exceptions. Until a file is loaded every decision is ``Allowed / ExceptionsNotLoaded`` (log-only).
    """

    def __init__(self, os: GuestOS = GuestOS.WINDOWS, *, codeblock_cache: bool = True) -> None:
        self.os = os
        self.store = ExceptionStore()
        self.loaded = False
        self.build: int | None = None
        self._records: tuple[Record, ...] = ()
        self._alert_counter = ALERT_SIGNATURE_BASE
        cache: object = None
        if codeblock_cache:
            from hvmiex.engine.codeblocks import CodeblockCache

            cache = CodeblockCache()
        self.state = EngineState(cb_cache=cache)

    # ----------------------------------------------------------------------------------- loading

    @classmethod
    def from_file(cls, path: str | _os.PathLike[str], os: GuestOS = GuestOS.WINDOWS) -> Engine:
        engine = cls(os)
        result = engine.update_exceptions(Path(path))
        if result.status is not UpdateStatus.LOADED:
            raise EngineError(f"{path}: {result.message}", result.load.report.reasons if result.load else ())
        return engine

    def update_exceptions(self, source: bytes | ExceptionSet | Path | str) -> UpdateResult:
        """Introcore's UpdateExceptions: load a file (bytes/path) or a model (spec 03 §5.2, §12.1)."""
        if isinstance(source, ExceptionSet):
            counts = source.header_counts()
            if not (counts.kernel or counts.user or counts.glob or counts.kernel_user):
                return UpdateResult(UpdateStatus.REJECTED, "no exceptions in the set (Introcore refuses it)")
            self._install(source.records)
            self.build = source.build
            return UpdateResult(UpdateStatus.LOADED, f"loaded {len(source.records)} records")
        if isinstance(source, str | Path):
            path = str(source)
            data = Path(source).read_bytes()
        else:
            path = "<bytes>"
            data = bytes(source)
        load = load_bin(data, self.os, path)
        if load.accepted:
            self._install(load.records)
            return UpdateResult(UpdateStatus.LOADED, f"loaded {len(load.records)} records", load)
        message = "; ".join(d.message for d in load.report.reasons) or load.report.status.status_name
        if load.header_rejected:
            return UpdateResult(UpdateStatus.REJECTED, message, load)
        # refused mid-file: the old set was already dropped and the loaded flag stays false
        self.store.clear_loaded()
        self.loaded = False
        return UpdateResult(UpdateStatus.FAILED, message, load)

    def _install(self, records: tuple[Record, ...]) -> None:
        self.store.clear_loaded()
        populate(self.store, records, self.os is GuestOS.LINUX)
        self._records = records
        self.loaded = True
        self._renumber_alert_signatures()

    def attach_sources(self, compiled: ExceptionSet) -> int:
        """Remember where each loaded record was written in JSON, from the same JSON compiled by
        ``hvmiex.compiler`` (records are matched by their bytes, in order). Returns how many were found."""
        from collections import deque

        from hvmiex.binfile.layout import pack_record

        where: dict[bytes, deque[str]] = {}
        loaded_ids = {s.id for sigs in self.store.signatures.values() for s in sigs if not s.alert}
        for rec in compiled.records:
            sig_name = getattr(rec, "name", None)
            sig_id = getattr(rec, "id", None)
            if isinstance(sig_name, str) and isinstance(sig_id, int) and sig_id in loaded_ids:
                self.store.signature_names[sig_id] = sig_name
            loc = getattr(rec, "location", None)
            if loc is None:
                continue
            text = f"{loc.path}:{loc.line}" if loc.line is not None else str(loc.path)
            where.setdefault(pack_record(rec), deque()).append(text)
        found = 0
        for index, rec in enumerate(self._records):
            queue = where.get(pack_record(rec))
            if queue:
                self.store.sources[index] = queue.popleft()
                found += 1
        self.store.invalidate()
        return found

    def _renumber_alert_signatures(self) -> None:
        """After a load, alert signature IDs are renumbered from 0x200001 (spec 03 §12.1)."""
        counter = ALERT_SIGNATURE_BASE
        mapping: dict[int, int] = {}
        for list_name in (USER_ALERT, KERNEL_ALERT, PROCESS_CREATION_ALERT):
            lst = self.store.lists[list_name]
            for i, e in enumerate(lst):
                new_ids: list[int] = []
                stopped = False
                for sid in e.signatures:
                    t = (sid >> 22) & 0x3FF
                    if stopped or t == ST_PROCESS_CREATION:
                        stopped = True
                        new_ids.append(sid)
                        continue
                    if t in (ST_CODEBLOCKS, ST_EXPORT, ST_IDT):
                        counter += 1
                        new = (t << 22) | counter
                        mapping[sid] = new
                        new_ids.append(new)
                    else:
                        new_ids.append(sid)
                if tuple(new_ids) != e.signatures:
                    lst[i] = replace(e, signatures=tuple(new_ids))
        if mapping:
            for t, sigs in self.store.signatures.items():
                self.store.signatures[t] = [
                    replace(s, sig=replace(s.sig, id=mapping[s.id])) if s.alert and s.id in mapping else s for s in sigs
                ]
        self._alert_counter = counter
        self.store.invalidate()

    # ----------------------------------------------------------------------------------- deciding

    def decide(self, violation: Violation, *, trace: bool = True) -> Verdict:
        """What Introcore would decide for ``violation`` (spec 03 §6).

        ``trace=False`` records only the deciding candidate (faster); the verdict is the same.
        """
        v = violation
        if v.env.os is not self.os:
            raise EngineError(
                f"the violation is for a {v.env.os.value} guest, this engine was loaded for {self.os.value}"
            )
        if v.kind is not _VK_UM and v.originator.blocked:  # type: ignore[union-attr]
            return _BLOCKED
        if not self.loaded:
            return _NOT_LOADED
        vic = v.victim
        if vic.zone_type is _EPT and int(vic.zone_flags) & _ZONE_WRITE:
            w = vic.write
            if w is None:
                return Verdict(
                    Action.ALLOWED, Reason.SAME_VALUE, note="write of 0 bytes: same value",
                    warnings=("the violation carries no write info: Introcore compares 0 bytes (same value)",),
                )  # fmt: skip
            n = w.access_size
            if n > 64:
                n = 64
            old, new = w.old[:n], w.new[:n]
            # zero-padded comparison; only needed when the two byte strings differ in length
            if old == new or (len(old) != len(new) and old.ljust(n, b"\0") == new.ljust(n, b"\0")):
                return Verdict(Action.ALLOWED, Reason.SAME_VALUE, note=f"the {n}-byte write does not change the value")
        return Decision(self.store, self.state, v, trace).run()

    # ----------------------------------------------------------------------------------- alert exceptions

    def add_exception_from_alert(self, violation: Violation, context: object = None) -> AddResult:
        """Introcore's AddExceptionFromAlert for ``violation`` (spec 03 §12), via the proposer."""
        from hvmiex.engine.propose import Proposal, ProposalError, is_duplicate, propose

        try:
            proposal = propose(violation, first_counter=self._alert_counter + 1)
        except ProposalError as exc:
            return AddResult(AddStatus.NOT_SUPPORTED, None, None, exc.message)
        record = proposal.exception
        e = loaded_from_record(record, None)
        assert e is not None
        e = replace(e, alert=True, context=context, proposal=proposal)
        list_name = self.store.alert_list_for(e)
        for other in self.store.lists[list_name]:
            if other.originator > e.originator:
                break  # the dedup scan stops once existing originators exceed the new one
            if isinstance(other.proposal, Proposal) and is_duplicate(other.proposal, proposal):
                return AddResult(AddStatus.DUPLICATE, list_name, proposal, "an alert exception already covers it")
        for sig in proposal.signatures:
            self.store.add_signature(LoadedSignature(sig, signature_list_type(sig), alert=True))
        self._alert_counter += len(proposal.signatures)
        self.store.add_alert(e)
        return AddResult(AddStatus.ADDED, list_name, proposal)

    def remove_exception(self, context: object) -> bool:
        """Remove the first alert exception with ``context`` (UserAlert, KernelAlert, ProcessCreationAlert)."""
        for list_name in (USER_ALERT, KERNEL_ALERT, PROCESS_CREATION_ALERT):
            lst = self.store.lists[list_name]
            for i, e in enumerate(lst):
                if e.context == context:
                    del lst[i]
                    self._remove_alert_signatures(e)
                    self.store.invalidate()
                    return True
        return False

    def _remove_alert_signatures(self, e: LoadedException) -> None:
        for sid in e.signatures:
            t = (sid >> 22) & 0x3FF
            if t == ST_PROCESS_CREATION:
                break  # processing stops at a process-creation ID (spec 03 §12.1)
            if t in (ST_EXPORT, ST_CODEBLOCKS, ST_IDT):
                sigs = self.store.signatures.get(t, [])
                self.store.signatures[t] = [s for s in sigs if not (s.alert and s.id == sid)]

    def flush_alert_exceptions(self) -> None:
        for list_name in (KERNEL_ALERT, USER_ALERT, PROCESS_CREATION_ALERT, KERNEL_USER_ALERT):
            self.store.lists[list_name] = []
        for t in (ST_CODEBLOCKS, ST_EXPORT, ST_IDT, ST_PROCESS_CREATION):
            self.store.signatures[t] = [s for s in self.store.signatures[t] if not s.alert]
        self.store.invalidate()

    # ----------------------------------------------------------------------------------- introspection

    def counts(self) -> dict[str, int | list[int]]:
        return self.store.counts()
