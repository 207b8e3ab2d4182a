"""Proposing exceptions from logs: the blog's procedure (spec 04 §10) for every violation, automated.

Each violation goes through the toolkit's single proposer (:func:`hvmiex.engine.propose.propose`,
Introcore's AddExceptionFromAlert) with the alert code blocks taken from the log's ``[CODEBLOCKS]`` dump.
By default the proposal is then refined with what the log shows and an alert does not use (spec 04 §10.2
step 8, §10.4): the architecture narrowed to the observed bitness and an export signature when the victim
line lists exports. ``exact=True`` keeps AddExceptionFromAlert's output unchanged.

Proposals are merged per exception (same fields and the same set of signature types, so that the merged
exception still allows every violation it covers): code-block lists are united as alternatives, export
entries united per library. The map step (:func:`mine_file`) runs per log; :func:`merge_results` combines
partial results in input order, so serial, ``--jobs N`` and Dask runs give identical output.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hvmiex.engine.codeblocks import ALERT_KEEP, AlertBlock, AlertCodeblocks, CodeClass
from hvmiex.engine.propose import Proposal, ProposalError, propose
from hvmiex.logs.blocks import LogStats, SkippedBlock
from hvmiex.logs.lines import CodeBlockDump
from hvmiex.logs.parse import LogViolation, decode_serialized, parse_log
from hvmiex.model import (
    CodeBlocksSignature,
    CommonFlag,
    ExportHash,
    ExportSignature,
    FlagSet,
    HashRule,
    IdtSignature,
    KernelException,
    KernelFlag,
    KernelUserException,
    Name,
    NameOrigin,
    ProcessCreationSignature,
    Signature,
    SignatureFlag,
    SignatureRef,
    SignatureType,
    UserException,
    UserObjectType,
    signature_id,
)
from hvmiex.violation import GuestOS, UserOriginator, Violation, ViolationKind, hash_export, hash_user_module

_PIVOT_CLASS = {
    "CALL": CodeClass.CALL,
    "JMP": CodeClass.JMP,
    "MOV MEM": CodeClass.MOV_MEM,
    "MOV FS/GS": CodeClass.MOV_FS_GS,
    "INVALID": CodeClass.JC,  # never a pivot in practice; kept so that the list stays complete
}
_ARCH = int(CommonFlag.ARCH32 | CommonFlag.ARCH64)
_PC_TYPES = (int(UserObjectType.PROCESS_CREATION), int(UserObjectType.PROCESS_CREATION_DPI))
_SIG_ARCH = int(SignatureFlag.ARCH32 | SignatureFlag.ARCH64)


def alert_codeblocks_from_dump(dump: CodeBlockDump, execute: bool) -> AlertCodeblocks:
    """The code blocks an alert would carry, from a logged dump: the at-most-64 window around the RIP
    block (spec 04 §10.4 step 3a, spec 03 §10.6)."""
    blocks = tuple(
        AlertBlock(off, _PIVOT_CLASS.get(pivot, CodeClass.CALL), h)
        for h, off, pivot in zip(dump.hashes, dump.offsets, dump.pivots, strict=True)
    )
    if not blocks:
        return AlertCodeblocks(True, 0, None, (), execute)
    count = len(blocks)
    rip = min(dump.rip_index, count - 1)
    if execute or count <= ALERT_KEEP or rip <= ALERT_KEEP // 2:
        first = 0
    elif count - rip < ALERT_KEEP:
        first = count - ALERT_KEEP
    else:
        first = rip - ALERT_KEEP // 2
    kept = blocks[first : first + ALERT_KEEP]
    return AlertCodeblocks(True, kept[0].offset, 0 if execute else rip - first, kept, execute)


def _execute(v: Violation) -> bool:
    return isinstance(v.originator, UserOriginator) and v.originator.execute


def propose_violation(lv: LogViolation, *, exact: bool = False) -> Proposal:
    """The proposal for one logged violation (raises :class:`ProposalError` for unsupported kinds)."""
    v = lv.violation
    decoded = decode_serialized(lv) if lv.serialized else []
    alert_cbs = decoded[0].violation.alert_codeblocks if decoded else None
    if alert_cbs is not None:
        # the serialized alert carries Introcore's own alert code blocks: use them (spec 04 §7.6)
        proposal = propose(replace(v, alert_codeblocks=alert_cbs))
    else:
        cbs = alert_codeblocks_from_dump(lv.codeblocks, _execute(v)) if lv.codeblocks is not None else None
        proposal = propose(v, codeblocks=cbs)
    if exact:
        return proposal
    return refine(proposal, lv)


def _arch_bits(lv: LogViolation) -> tuple[int, int]:
    """(exception arch bit, signature arch bit) observed in the log (spec 04 §10.2 step 8)."""
    v = lv.violation
    if v.env.os is GuestOS.LINUX:
        return int(CommonFlag.ARCH64), int(SignatureFlag.ARCH64)
    is64 = v.env.guest_64
    if v.kind is ViolationKind.UM:
        proc = v.victim.process if v.victim.injection is not None else None
        proc = proc or (v.originator.process if isinstance(v.originator, UserOriginator) else None)
        if proc is not None and proc.wow64:
            is64 = False
    return (int(CommonFlag.ARCH64), int(SignatureFlag.ARCH64)) if is64 else (
        int(CommonFlag.ARCH32),
        int(SignatureFlag.ARCH32),
    )


def refine(proposal: Proposal, lv: LogViolation) -> Proposal:
    """The blog's refinements on top of AddExceptionFromAlert: observed architecture, export signature."""
    exc = proposal.exception
    arch, sig_arch = _arch_bits(lv)
    flags = exc.flags.value
    if flags & _ARCH == _ARCH:
        flags = (flags & ~_ARCH) | arch
    v = lv.violation
    size = v.victim.injection.length if v.victim.injection is not None else (
        v.victim.write.access_size if v.victim.write is not None else 0
    )
    sigs: list[Signature] = []
    for sig in proposal.signatures:
        if sig.flags.value & _SIG_ARCH == _SIG_ARCH and not isinstance(sig, IdtSignature):
            sig = replace(sig, flags=FlagSet((sig.flags.value & ~_SIG_ARCH) | sig_arch))
        if isinstance(sig, ExportSignature) and lv.delta is not None:
            # the alert stores each part of the delta in 8 bits (spec 04 §10.5); the log's full value is
            # Delta + size (§10.4), which a 16-bit signature delta holds
            delta = min(lv.delta + size, 0xFFFF)
            sig = replace(sig, entries=tuple(replace(e, delta=delta) for e in sig.entries))
        sigs.append(sig)
    has_export = any(isinstance(s, ExportSignature) for s in sigs)
    module = v.victim.module
    if not has_export and lv.exports and module is not None and lv.delta is not None:
        counter = max((s.id & 0x3FFFFF for s in sigs), default=0x200000) + 1
        sig_id = signature_id(int(SignatureType.EXPORT), counter)
        text_rule = HashRule(wide=False, fold=False)
        entries = tuple(
            ExportHash(delta=min(lv.delta + size, 0xFFFF), name=Name(hash_export(n), n, text_rule, NameOrigin.HASHED))
            for n in lv.exports
        )
        library = Name(hash_user_module(module.name or ""), module.name, HashRule(wide=True, fold=False))
        sigs.append(
            ExportSignature(
                id=sig_id,
                flags=FlagSet(sig_arch | (int(SignatureFlag.LINUX) if v.env.os is GuestOS.LINUX else 0)),
                library=library,
                entries=entries,
                name=f"export-{counter:x}",
            )
        )
    refs = tuple(SignatureRef(s.id, s.name) for s in sigs)
    new_exc = replace(exc, flags=FlagSet(flags), signatures=refs)
    cr = v.victim.cr
    if isinstance(new_exc, KernelException) and cr is not None and (cr.smap_cleared or cr.smep_cleared):
        # only the protection bit(s) the write actually cleared (spec 04 §10.2 step 8)
        bits = (int(KernelFlag.SMAP) if cr.smap_cleared else 0) | (int(KernelFlag.SMEP) if cr.smep_cleared else 0)
        both = int(KernelFlag.SMAP | KernelFlag.SMEP)
        new_exc = replace(new_exc, flags=FlagSet((new_exc.flags.value & ~both) | bits))
    if isinstance(new_exc, UserException) and new_exc.object_type in _PC_TYPES:
        # upstream quirk (spec 03 §13.8): alert exceptions invert the process-creation types; the blog's
        # procedure uses the vocabulary's meaning (spec 04 §10.3)
        pc = v.originator.pc_type if isinstance(v.originator, UserOriginator) else 0
        want = UserObjectType.PROCESS_CREATION_DPI if pc else UserObjectType.PROCESS_CREATION
        new_exc = replace(new_exc, object_type=int(want))
    return replace(proposal, exception=new_exc, signatures=tuple(sigs))


# ---------------------------------------------------------------------------------------------------------
# Merging


ExceptionRecord = KernelException | UserException | KernelUserException


@dataclass(slots=True)
class MergedException:
    """One deduplicated exception: how many violations it covers, where the first was, its signatures."""

    type: str  # exception file Type: kernel / user / kernel-user
    exception: ExceptionRecord
    count: int
    first_source: str
    first_line: int
    order: tuple[int, int]  # (input index, line) of the first violation: merge order
    codeblocks: list[tuple[int, ...]] = field(default_factory=list)
    cb_score: int = 0
    cb_flags: int = 0
    exports: dict[tuple[int, int], dict[int, ExportHash]] = field(default_factory=dict)  # (lib, flags) -> name
    export_names: dict[tuple[int, int], Name] = field(default_factory=dict)
    idt: dict[tuple[int, int], IdtSignature] = field(default_factory=dict)
    creation: dict[tuple[int, int], ProcessCreationSignature] = field(default_factory=dict)
    others: list[Signature] = field(default_factory=list)

    def add(self, proposal: Proposal) -> None:
        for sig in proposal.signatures:
            self._add_signature(sig)

    def _add_signature(self, sig: Signature) -> None:
        if isinstance(sig, CodeBlocksSignature):
            for lst in sig.lists:
                if lst not in self.codeblocks:
                    self.codeblocks.append(lst)
            self.cb_score = min(self.cb_score, sig.score) if self.cb_score else sig.score
            self.cb_flags |= sig.flags.value
        elif isinstance(sig, ExportSignature):
            key = (sig.library.value, sig.flags.value)
            self.export_names.setdefault(key, sig.library)
            entries = self.exports.setdefault(key, {})
            for e in sig.entries:
                old = entries.get(e.name.value)
                if old is None or e.delta > old.delta:
                    entries[e.name.value] = e
        elif isinstance(sig, IdtSignature):
            self.idt.setdefault((sig.entry, sig.flags.value), sig)
        elif isinstance(sig, ProcessCreationSignature):
            self.creation.setdefault((sig.create_mask.value, sig.flags.value), sig)
        else:
            self.others.append(sig)

    def merge(self, other: MergedException) -> None:
        self.count += other.count
        if other.order < self.order:
            self.order, self.first_source, self.first_line = other.order, other.first_source, other.first_line
        for lst in other.codeblocks:
            if lst not in self.codeblocks:
                self.codeblocks.append(lst)
        if other.cb_score:
            self.cb_score = min(self.cb_score, other.cb_score) if self.cb_score else other.cb_score
        self.cb_flags |= other.cb_flags
        for key, entries in other.exports.items():
            self.export_names.setdefault(key, other.export_names[key])
            mine = self.exports.setdefault(key, {})
            for h, e in entries.items():
                if h not in mine or e.delta > mine[h].delta:
                    mine[h] = e
        for k, s in other.idt.items():
            self.idt.setdefault(k, s)
        for k2, s2 in other.creation.items():
            self.creation.setdefault(k2, s2)
        self.others.extend(other.others)

    def signatures(self, counter: Callable[[int], int]) -> tuple[list[Signature], ExceptionRecord]:
        """Final signatures with fresh ids from ``counter(type)``, and the exception referring to them."""
        sigs: list[Signature] = []
        if self.codeblocks:
            sigs.append(
                CodeBlocksSignature(
                    id=counter(int(SignatureType.CODEBLOCKS)),
                    flags=FlagSet(self.cb_flags),
                    score=self.cb_score,
                    lists=tuple(self.codeblocks),
                )
            )
        for key, entries in self.exports.items():
            sigs.append(
                ExportSignature(
                    id=counter(int(SignatureType.EXPORT)),
                    flags=FlagSet(key[1]),
                    library=self.export_names[key],
                    entries=tuple(entries.values()),
                )
            )
        for s in self.idt.values():
            sigs.append(replace(s, id=counter(int(SignatureType.IDT))))
        for s2 in self.creation.values():
            sigs.append(replace(s2, id=counter(int(SignatureType.PROCESS_CREATION))))
        for s3 in self.others:
            sigs.append(replace(s3, id=counter(s3.id >> 22)))
        return sigs, self.exception


def _type_of(exc: ExceptionRecord) -> str:
    if isinstance(exc, KernelException):
        return "kernel"
    if isinstance(exc, KernelUserException):
        return "kernel-user"
    return "user"


def _key(proposal: Proposal) -> tuple[object, ...]:
    exc = proposal.exception
    process = exc.process.value if isinstance(exc, UserException | KernelUserException) else None
    sig_types = tuple(sorted({type(s).__name__ for s in proposal.signatures}))
    return (_type_of(exc), exc.originator.value, exc.victim.value, process, exc.object_type, exc.flags.value, sig_types)


@dataclass(slots=True)
class MineResult:
    """Partial or final result of mining: merged exceptions by key, counters, problems."""

    exceptions: dict[tuple[object, ...], MergedException] = field(default_factory=dict)
    stats: LogStats = field(default_factory=LogStats)
    violations: int = 0
    unsupported: dict[str, int] = field(default_factory=dict)  # refused by the proposer, by reason
    skipped: list[SkippedBlock] = field(default_factory=list)
    interrupted: bool = False

    def add(self, proposal: Proposal, source: str, line: int, index: int) -> None:
        key = _key(proposal)
        found = self.exceptions.get(key)
        exc = replace(proposal.exception, signatures=())
        if found is None:
            found = self.exceptions[key] = MergedException(_type_of(exc), exc, 0, source, line, (index, line))
        found.count += 1
        found.add(proposal)

    def merge(self, other: MineResult) -> None:
        for key, item in other.exceptions.items():
            mine = self.exceptions.get(key)
            if mine is None:
                self.exceptions[key] = item
            else:
                mine.merge(item)
        self.stats.merge(other.stats)
        self.violations += other.violations
        for k, n in other.unsupported.items():
            self.unsupported[k] = self.unsupported.get(k, 0) + n
        self.skipped.extend(other.skipped)
        self.interrupted = self.interrupted or other.interrupted

    def ordered(self) -> list[MergedException]:
        return sorted(self.exceptions.values(), key=lambda m: m.order)


def mine_violations(
    items: Iterable[LogViolation | SkippedBlock], index: int = 0, *, exact: bool = False, result: MineResult | None = None
) -> MineResult:
    out = result if result is not None else MineResult()
    for item in items:
        if isinstance(item, SkippedBlock):
            out.skipped.append(item)
            continue
        out.violations += 1
        try:
            proposal = propose_violation(item, exact=exact)
        except ProposalError as exc:
            out.unsupported[exc.message] = out.unsupported.get(exc.message, 0) + 1
            continue
        out.add(proposal, item.source, item.first_line, index)
    return out


def mine_file(
    path: str, index: int = 0, exact: bool = False, progress: Callable[[int], None] | None = None
) -> MineResult:
    """Map step: one log file → partial result (picklable; runs in worker processes and on Dask).

    Ctrl-C while mining serially returns what was done so far, marked ``interrupted``.
    """
    result = MineResult()
    try:
        mine_violations(parse_log(path, result.stats, progress), index, exact=exact, result=result)
    except KeyboardInterrupt:
        result.interrupted = True
    return result


def merge_results(parts: Sequence[MineResult]) -> MineResult:
    """Reduce step: merge partial results in input order (deterministic whatever ran them)."""
    total = MineResult()
    for part in parts:
        total.merge(part)
    return total


def mine_paths(
    paths: Sequence[str],
    *,
    jobs: int = 1,
    exact: bool = False,
    on_done: Callable[[int, MineResult], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> MineResult:
    """Mine many logs: serially, or with a pool of ``jobs`` processes (same result either way).

    ``on_done(index, part)`` after each file; ``progress(index, bytes_read)`` within a file (serial only).
    """
    parts: list[MineResult | None] = [None] * len(paths)
    if jobs <= 1 or len(paths) <= 1:
        for i, path in enumerate(paths):
            tick = (lambda n, i=i: progress(i, n)) if progress is not None else None
            part = parts[i] = mine_file(path, i, exact, tick)
            if on_done is not None:
                on_done(i, part)
            if part.interrupted:
                break
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(mine_file, path, i, exact): i for i, path in enumerate(paths)}
            try:
                for fut in as_completed(futures):
                    i = futures[fut]
                    part = parts[i] = fut.result()
                    if on_done is not None:
                        on_done(i, part)
            except KeyboardInterrupt:
                for f in futures:
                    f.cancel()
                done = [p for p in parts if p is not None]
                result = merge_results(done)
                result.interrupted = True
                return result
    return merge_results([p for p in parts if p is not None])


def mine_dask(paths: Sequence[str], scheduler: object, *, exact: bool = False) -> MineResult:
    """The same map/merge on a Dask cluster: ``scheduler`` is an address or a ``distributed.Client``."""
    import distributed

    client_type: Any = distributed.Client
    client: Any = scheduler if isinstance(scheduler, client_type) else client_type(scheduler)
    try:
        futures = [client.submit(mine_file, str(p), i, exact, pure=False) for i, p in enumerate(paths)]
        parts = client.gather(futures)
    finally:
        if client is not scheduler:
            client.close()
    return merge_results(list(parts))


def file_list(paths: Iterable[str | Path]) -> list[str]:
    return [str(p) for p in paths]


# ---------------------------------------------------------------------------------------------------------
# JSON output (through the toolkit's writer)

_SHORT = {
    int(SignatureType.CODEBLOCKS): "cb",
    int(SignatureType.EXPORT): "export",
    int(SignatureType.IDT): "idt",
    int(SignatureType.PROCESS_CREATION): "pc",
}
_TYPE_PREFIX = {"kernel": "km", "user": "um", "kernel-user": "kum"}


def result_documents(result: MineResult, *, prefix: str = "log") -> list[tuple[str, str]]:
    """(file name, JSON text) pairs that ``hvmiex build`` compiles as they are: the signatures file first,
    then one exceptions file per type, each exception preceded by a ``//`` comment saying how many
    violations it covers and where the first one was."""
    from hvmiex.source.writer import dumps, write_json

    per_name: dict[str, int] = {}
    signatures: list[Signature] = []
    exceptions: list[ExceptionRecord] = []
    comments: dict[str, list[str]] = {}

    def next_id(code: int) -> int:
        return signature_id(code, len(signatures) + 1)

    for merged in result.ordered():
        tprefix = _TYPE_PREFIX[merged.type]
        sigs, exc = merged.signatures(next_id)
        refs: list[SignatureRef] = []
        for sig in sigs:
            code = sig.id >> 22
            short = f"{prefix}-{tprefix}-{_SHORT.get(code, 'sig')}"
            per_name[short] = per_name.get(short, 0) + 1
            final = replace(sig, id=signature_id(code, len(signatures) + 1), name=f"{short}-{per_name[short]}")
            signatures.append(final)
            refs.append(SignatureRef(final.id, final.name))
        exceptions.append(replace(exc, signatures=tuple(refs)))
        noun = "violation" if merged.count == 1 else "violations"
        comments.setdefault(exc.KIND.value, []).append(
            f"// {merged.count} {noun}; first: {merged.first_source}:{merged.first_line}"
        )
    out: list[tuple[str, str]] = []
    for doc in write_json(exceptions, signatures):
        name = f"{prefix}-{doc.filename}"
        if "Exceptions" in doc.data:
            out.append((name, _commented(doc.data, comments.get(str(doc.data["Type"]), []))))
        else:
            out.append((name, dumps(doc.data)))
    return out


def _commented(data: dict[str, Any], comments: list[str]) -> str:
    entries = data["Exceptions"]
    lines = ["{", f'    "Type": {json.dumps(data["Type"])},', '    "Exceptions": [']
    for i, entry in enumerate(entries):
        if i < len(comments):
            lines.append(f"        {comments[i]}")
        sep = "," if i < len(entries) - 1 else ""
        lines.append(f"        {json.dumps(entry, ensure_ascii=False)}{sep}")
    lines += ["    ]", "}"]
    return "\n".join(lines) + "\n"
