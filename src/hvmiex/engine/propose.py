"""Introcore's AddExceptionFromAlert: the exception and signatures it creates from a violation (spec 03 §12).

This is the toolkit's single proposer: the engine's ``add_exception_from_alert``, ``hvmiex decide --propose``,
the alert decoder (``hvmiex alert decode --exception``) and the log miner all call :func:`propose`.

The result is a :class:`Proposal` built from the exception model (:mod:`hvmiex.model`): the exception record,
its alert signatures (ids ``(type << 22) | 0x200001, ...``), the alert list it is stored in, and notes on
what was assumed. Hashes are Introcore's (alert-side naming rules, §12.4); each :class:`~hvmiex.names.Name`
also carries the text when the compiler would hash that text to the same value for that field, so that the
JSON route (writer → ``hvmiex build``) reproduces the same record, and is verbatim (hash only) otherwise.

Upstream quirks reproduced here (each named where it happens and tested):

* §13.8: alert-built process-creation exceptions get the inverted object type.
* §13.9: KM alert exceptions take the return driver as originator when the original driver is unknown.
* §13.16: kernel writes into vDSO/vsyscall give victims 5/6 (never matching); in practice such alerts are
  refused (no library zone flag).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from hvmiex.engine.codeblocks import (
    AlertCodeblocks,
    alert_codeblocks,
    level_for_rip,
    match_window,
    select_signature_hashes,
)
from hvmiex.errors import Diagnostic, HvmiexError
from hvmiex.model import (
    STOCK_KERNEL_TYPE_NAMES,
    STOCK_KERNEL_USER_TYPE_NAMES,
    STOCK_USER_TYPE_NAMES,
    CodeBlocksSignature,
    ExportHash,
    ExportSignature,
    FlagSet,
    HashRule,
    IdtSignature,
    KernelException,
    KernelObjectType,
    KernelUserException,
    KernelUserObjectType,
    Name,
    NameOrigin,
    ProcessCreationSignature,
    Signature,
    SignatureRef,
    SignatureType,
    UserException,
    UserObjectType,
    signature_id,
)
from hvmiex.names import name_value
from hvmiex.violation import (
    NONAME,
    DriverFrame,
    GuestOS,
    KernelOriginator,
    ObjectType,
    Process,
    UserOriginator,
    Violation,
    ViolationKind,
    ZoneFlags,
    ZoneType,
    hash_kernel_module,
)

if TYPE_CHECKING:
    from hvmiex.config import Config
    from hvmiex.source.writer import JsonDocument

__all__ = [
    "ALERT_COUNTER_START",
    "AlertList",
    "Proposal",
    "ProposalError",
    "alert_codeblocks_for",
    "is_duplicate",
    "proposal_documents",
    "propose",
    "type_name",
]

ALERT_COUNTER_START = 0x200001  # first alert signature counter after a load or in a fresh store

# alert-side name values (spec 03 §12.4, predefined tables)
_ANY = 0
_KERNEL = 2
_HAL = 3
_NONE = 4  # "-": missing name
_VDSO_KM = 5
_VSYSCALL_KM = 6

# exception flag bits (stock config)
F_32 = 0x2
F_64 = 0x4
F_LINUX = 0x80
F_READ = 0x1000_0000
F_WRITE = 0x2000_0000
F_EXEC = 0x4000_0000
F_SMAP = 0x400
F_SMEP = 0x800
F_INTEGRITY = 0x1000
F_KUM_USER = 0x8000
F_KUM_KERNEL = 0x1_0000

# signature flag bits
S_32 = 0x1
S_64 = 0x2
S_LINUX = 0x80

_COMMON_FLAG_NAMES = (
    (0x1, "feedback"), (F_32, "32"), (F_64, "64"), (0x8, "init"), (0x10, "return"), (F_LINUX, "linux"),
    (F_READ, "read"), (F_WRITE, "write"), (F_EXEC, "exec"), (0x8000_0000, "ignore"),
)  # fmt: skip
_KIND_FLAG_NAMES = {
    ViolationKind.KM: ((0x100, "non-driver"), (0x200, "return-drv"), (F_SMAP, "smap"), (F_SMEP, "smep"),
                       (F_INTEGRITY, "integrity")),
    ViolationKind.UM: ((0x100, "system-process"), (0x200, "child"), (0x800, "one-time"), (0x1000, "like-apphelp"),
                       (0x2000, "debug"), (0x4000, "module-load")),
    ViolationKind.KUM: ((F_KUM_USER, "user"), (F_KUM_KERNEL, "kernel")),
}  # fmt: skip
_SIG_FLAG_NAMES = ((S_32, "32"), (S_64, "64"), (0x4, "medium"), (S_LINUX, "linux"), (0x1_0000, "cli"))

_PREDEFINED_KM = {"*": 0, "[own]": 1, "[kernel]": 2, "[hal]": 3, "-": 4}
_PREDEFINED_UM = {"*": 0, "[own]": 1, "[vdso]": 2, "[vsyscall]": 3, "-": 4}
_PREDEFINED_SIG = {"*": 0, "-": 4}


class AlertList(enum.Enum):
    """Introcore's alert-exception lists (spec 03 §12.2)."""

    KERNEL = "KernelAlert"
    USER = "UserAlert"
    PROCESS_CREATION = "ProcessCreationAlert"
    KERNEL_USER = "KernelUserAlert"


class ProposalError(HvmiexError):
    """Introcore would not create an alert exception for this violation (e.g. INT_STATUS_NOT_SUPPORTED)."""


AlertException = KernelException | UserException | KernelUserException


@dataclass(frozen=True, slots=True)
class Proposal:
    """What AddExceptionFromAlert creates from one violation.

    ``export_offset`` is the raw export delta of an injection alert (offset of the destination from the
    export, without the write size): deduplication compares it (§12.3). ``codeblocks`` are the alert-side
    blocks the codeblocks signature was selected from. ``notes`` say what was assumed or is missing.
    """

    list: AlertList
    exception: AlertException
    signatures: tuple[Signature, ...]
    codeblocks: AlertCodeblocks | None = None
    export_offset: int | None = None
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def kind(self) -> ViolationKind:
        if isinstance(self.exception, KernelException):
            return ViolationKind.KM
        if isinstance(self.exception, KernelUserException):
            return ViolationKind.KUM
        return ViolationKind.UM

    def renumbered(self, first_counter: int) -> Proposal:
        """The same proposal with signature counters ``first_counter, first_counter + 1, ...`` in list order."""
        mapping: dict[int, int] = {}
        sigs: list[Signature] = []
        for i, sig in enumerate(self.signatures):
            new_id = signature_id(sig.id >> 22, first_counter + i)
            mapping[sig.id] = new_id
            sigs.append(replace(sig, id=new_id, name=_sig_name(sig, new_id)))
        refs = tuple(SignatureRef(mapping.get(r.id, r.id), _ref_name(sigs, mapping.get(r.id, r.id)))
                     for r in self.exception.signatures)  # fmt: skip
        return replace(self, exception=replace(self.exception, signatures=refs), signatures=tuple(sigs))


# ---------------------------------------------------------------------------------------------------------
# names: alert-side values + whether the compiler can reproduce them from text (spec 02 §6.7)

_W = HashRule(wide=True, fold=True)
_W_PATH = HashRule(wide=True, fold=True, path_reduce=True)
_N14 = HashRule(wide=False, fold=True, trim=14)
_N15 = HashRule(wide=False, fold=True, trim=15)
_N_RAW = HashRule(wide=False, fold=False)
_W_RAW = HashRule(wide=True, fold=False)


def _linux_rule(rule: HashRule, linux: bool) -> HashRule:
    # records with `linux` are never case-folded by the compiler
    return replace(rule, fold=False) if linux else rule


def _name(value: int, text: str | None, rule: HashRule, table: dict[str, int] | None) -> Name:
    """A Name holding ``value``; with ``text`` only if the compiler would hash that text to ``value``."""
    for label, v in (table or {}).items():
        if v == value:
            return Name(value, label, rule, NameOrigin.PREDEFINED)
    if text:
        try:
            got, origin = name_value(text, rule, table)
        except ValueError:
            got, origin = -1, NameOrigin.HASHED
        if got == value:
            return Name(value, text, rule, origin)
    return Name.verbatim(value)


def _km_frame_value(frame: DriverFrame, os: GuestOS) -> int:
    """Alert-side value of a kernel driver: kernel/HAL names become 2/3 (also when the runtime kept the raw hash)."""
    if frame.name:
        return hash_kernel_module(frame.name, os, substitute=True)
    if frame.name_hash in (0, NONAME):
        return _NONE
    return frame.name_hash


def _km_frame_known(frame: DriverFrame) -> bool:
    return frame.driver or (frame.name_hash not in (0, NONAME) and frame.name is not None)


def _process_value(process: Process | None) -> tuple[int, str | None]:
    if process is None:
        return _NONE, None
    return process.name_hash, process.name


# ---------------------------------------------------------------------------------------------------------
# flags


def _flags(value: int, kind: ViolationKind) -> FlagSet:
    names = [n for bit, n in _KIND_FLAG_NAMES[kind] if value & bit]
    names += [n for bit, n in _COMMON_FLAG_NAMES if value & bit]
    return FlagSet(value, tuple(names))


def _sig_flags(value: int) -> FlagSet:
    return FlagSet(value, tuple(n for bit, n in _SIG_FLAG_NAMES if value & bit))


def _access(zone_flags: int) -> int:
    if zone_flags & ZoneFlags.EXECUTE:
        return F_EXEC
    if zone_flags & ZoneFlags.READ:
        return F_READ
    return F_WRITE


def _sig_name(sig: Signature, sig_id: int) -> str:
    prefix = {600: "alert-cb", 300: "alert-idt", 100: "alert-export", 70: "alert-pc"}.get(sig_id >> 22, "alert-sig")
    return f"{prefix}-{sig_id & 0x3FFFFF:x}"


def _ref_name(sigs: Sequence[Signature], sig_id: int) -> str | None:
    for s in sigs:
        if s.id == sig_id:
            return s.name
    return None


# ---------------------------------------------------------------------------------------------------------
# codeblocks


def _codeblocks_rip(v: Violation) -> int:
    if isinstance(v.originator, KernelOriginator):
        return v.originator.original.rip
    return v.originator.rip


def alert_codeblocks_for(v: Violation) -> AlertCodeblocks | None:
    """Alert-side codeblocks around the violation's RIP from its guest memory (None: no RIP or no memory).

    KM/KUM use the original RIP, UM the current RIP; level from the RIP's address, decoding mode from the
    code segment; execution windows have no fallback (spec 03 §10.6).
    """
    rip = _codeblocks_rip(v)
    if not rip or not v.env.memory:
        return None
    execute = isinstance(v.originator, UserOriginator) and v.originator.execute
    window = match_window(rip, execute)
    data = v.env.memory.read((rip & ~0xFFF) + window.page_offset, window.size)
    return alert_codeblocks(data, window, rip, v.env.decode_64, level_for_rip(rip, v.env.guest_64))


# ---------------------------------------------------------------------------------------------------------
# the builder


class _Builder:
    def __init__(self, v: Violation, cbs: AlertCodeblocks | None, cbs_given: bool, first_counter: int) -> None:
        self.v = v
        self.linux = v.env.os is GuestOS.LINUX
        self.counter = first_counter
        self.signatures: list[Signature] = []
        self.notes: list[str] = []
        self.cbs = cbs
        self.cbs_given = cbs_given
        self.used_cbs: AlertCodeblocks | None = None
        self.export_offset: int | None = None

    def refuse(self, message: str, hint: str | None = None) -> ProposalError:
        return ProposalError(
            "Introcore creates no alert exception for this violation",
            (Diagnostic("HX-PROPOSE-UNSUPPORTED", message, subject="violation", hint=hint),),
        )

    def _add(self, sig_type: int, make: object) -> None:
        sig_id = signature_id(sig_type, self.counter)
        self.counter += 1
        sig = make(sig_id)  # type: ignore[operator]
        self.signatures.append(replace(sig, name=_sig_name(sig, sig_id)))

    def arch_sig_flags(self) -> int:
        return S_32 | S_64 | (S_LINUX if self.linux else 0)

    def add_codeblocks(self) -> None:
        picked = self.pick_codeblocks()
        if picked is None:
            self.notes.append(
                "no code bytes around the RIP: Introcore would add a codeblocks signature here (give the code "
                "page in the violation's memory or the alert's code blocks)"
            )
            return
        valid, hashes, rip_index = picked
        if not valid:
            self.notes.append("code window unreadable (page not present): no codeblocks signature, as Introcore")
            return
        if not hashes:
            self.notes.append("no codeblock found around the RIP: no codeblocks signature")
            return
        execute = isinstance(self.v.originator, UserOriginator) and self.v.originator.execute
        chosen, score = select_signature_hashes(hashes, rip_index, execute)
        flags = _sig_flags(self.arch_sig_flags())
        self._add(
            SignatureType.CODEBLOCKS, lambda i: CodeBlocksSignature(id=i, flags=flags, score=score, lists=(chosen,))
        )

    def pick_codeblocks(self) -> tuple[bool, tuple[int, ...], int | None] | None:
        """(valid, hashes in code order, RIP block index) from, in order: the caller, the violation's alert
        code blocks (decoded alerts), the code bytes in the violation's memory."""
        if self.cbs_given:
            cbs = self.cbs
        else:
            carried = getattr(self.v, "alert_codeblocks", None)
            if carried is not None and not isinstance(carried, AlertCodeblocks):
                hashes = tuple(int(h) for h in carried.hashes)
                rip_index = getattr(carried, "rip_index", getattr(carried, "rip_cb_index", None))
                return bool(getattr(carried, "valid", True)), hashes, rip_index
            cbs = carried if carried is not None else alert_codeblocks_for(self.v)
        if cbs is None:
            return None
        self.used_cbs = cbs
        return cbs.valid, cbs.hashes, cbs.rip_cb_index

    def add_idt(self, entry: int) -> None:
        arch = S_64 if self.v.env.guest_64 else S_32
        flags = _sig_flags(arch | (S_LINUX if self.linux else 0))
        self._add(SignatureType.IDT, lambda i: IdtSignature(id=i, flags=flags, entry=entry))

    def refs(self) -> tuple[SignatureRef, ...]:
        return tuple(SignatureRef(s.id, s.name) for s in self.signatures)

    # -- kernel mode ---------------------------------------------------------------------------------------

    def km(self) -> Proposal:
        v = self.v
        km = v.km
        vic = v.victim
        os = v.env.os
        zone = vic.zone_type
        linux_flag = F_LINUX if self.linux else 0
        both = F_32 | F_64
        ot = vic.object_type
        victim_text = vic.name
        idt_entry: int | None = None
        codeblocks = True
        entry_size = 16 if v.env.guest_64 else 8

        # originator: original driver, else (EPT only) the return driver, else "-"
        if _km_frame_known(km.original):
            originator = _km_frame_value(km.original, os)
            orig_text = km.original.name
        else:
            originator, orig_text = _NONE, None

        if zone == ZoneType.EPT:
            if not _km_frame_known(km.original) and _km_frame_known(km.return_):
                # upstream quirk §13.9: the return driver stands in, but alert-list matching compares the
                # original name hash (NONAME), so the exception does not match the violation it came from
                originator = _km_frame_value(km.return_, os)
                orig_text = km.return_.name
                self.notes.append("quirk 13.9: originator is the return driver; this exception will not match")
            flags = both | _access(vic.zone_flags) | linux_flag
            victim = vic.name_hash
            if ot in (ObjectType.DRIVER_OBJECT, ObjectType.FAST_IO_DISPATCH):
                otype = KernelObjectType.DRVOBJ if ot == ObjectType.DRIVER_OBJECT else KernelObjectType.FASTIO
            elif ot == ObjectType.IDT:
                otype, victim, victim_text = KernelObjectType.IDT, _ANY, None
                idt_entry = ((vic.gva - vic.base_address) // entry_size) & 0xFFFFFFFF
            elif ot == ObjectType.KM_LOGGER_CONTEXT:
                otype, victim, victim_text = KernelObjectType.INFINITY_HOOK, _ANY, None
            else:
                if ot == ObjectType.VDSO:
                    victim, victim_text = _VDSO_KM, None  # upstream quirk §13.16
                elif ot == ObjectType.VSYSCALL:
                    victim, victim_text = _VSYSCALL_KM, None
                elif ot == ObjectType.TOKEN_PRIVS:
                    victim = vic.name_hash  # current process name, narrow
                if ot == ObjectType.SSDT:
                    otype = KernelObjectType.SSDT
                elif ot == ObjectType.TOKEN_PRIVS:
                    otype = KernelObjectType.TOKEN_PRIVS
                else:
                    zf = vic.zone_flags
                    if zf & ZoneFlags.LIB_IMPORTS:
                        otype = KernelObjectType.DRIVER_IMPORTS
                    elif zf & ZoneFlags.LIB_EXPORTS:
                        otype = KernelObjectType.DRIVER_EXPORTS
                    elif zf & ZoneFlags.LIB_CODE:
                        otype = KernelObjectType.DRIVER_CODE
                    elif zf & ZoneFlags.LIB_DATA:
                        otype = KernelObjectType.DRIVER_DATA
                    elif zf & ZoneFlags.LIB_RESOURCES:
                        otype = KernelObjectType.DRIVER_RESOURCES
                    else:
                        raise self.refuse(
                            f"kernel EPT violation on a {ot.json_name} victim with zone flags "
                            f"0x{int(vic.zone_flags):x}: no library zone flag (INT_STATUS_NOT_SUPPORTED)",
                            "Introcore builds kernel EPT alert exceptions only for ssdt, token-privs, driver "
                            "objects, fast-I/O, IDT, logger context and module imports/exports/code/data/resources",
                        )
        elif zone == ZoneType.MSR:
            flags = both | F_WRITE | linux_flag
            otype, victim, victim_text = KernelObjectType.MSR, _ANY, None
        elif zone == ZoneType.CR:
            flags = both | F_SMEP | F_SMAP | F_WRITE | linux_flag
            otype, victim, victim_text = KernelObjectType.CR4, _ANY, None
        elif zone == ZoneType.DTR:
            flags = (F_64 if v.env.guest_64 else F_32) | F_WRITE | linux_flag
            if ot == ObjectType.IDTR:
                otype = KernelObjectType.IDT_REG
            elif ot == ObjectType.GDTR:
                otype = KernelObjectType.GDT_REG
            else:
                raise self.refuse(f"DTR violation with victim object type {ot.json_name} (expected idtr or gdtr)")
            victim, victim_text = _ANY, None
        elif zone == ZoneType.INTEGRITY:
            codeblocks = False
            flags = both | F_INTEGRITY | F_WRITE
            integ = vic.integrity
            table = {
                ObjectType.DRIVER_OBJECT: KernelObjectType.DRVOBJ,
                ObjectType.FAST_IO_DISPATCH: KernelObjectType.FASTIO,
                ObjectType.KM_LOGGER_CONTEXT: KernelObjectType.INFINITY_HOOK,
                ObjectType.IDT: KernelObjectType.IDT,
                ObjectType.TOKEN_PRIVS: KernelObjectType.TOKEN_PRIVS,
                ObjectType.SEC_DESC: KernelObjectType.SECURITY_DESCRIPTOR,
                ObjectType.ACL: KernelObjectType.ACL_EDIT,
                ObjectType.HAL_PERF_COUNTER: KernelObjectType.HAL_PERF_COUNTER,
                ObjectType.SUD_INTEGRITY: KernelObjectType.SUD_MODIFICATION,
                ObjectType.INTERRUPT_OBJECT: KernelObjectType.INTERRUPT_OBJ,
            }
            if ot not in table:
                raise self.refuse(f"integrity violation on a {ot.json_name} victim is not supported")
            otype = table[ot]
            if otype in (KernelObjectType.TOKEN_PRIVS, KernelObjectType.SECURITY_DESCRIPTOR,
                         KernelObjectType.ACL_EDIT, KernelObjectType.SUD_MODIFICATION):  # fmt: skip
                originator, orig_text = _NONE, None
                victim = vic.name_hash
            elif otype in (KernelObjectType.DRVOBJ, KernelObjectType.FASTIO):
                victim = vic.name_hash
            else:
                victim, victim_text = _ANY, None
            if otype == KernelObjectType.IDT:
                idt_entry = (integ.offset // entry_size) if integ is not None else 0
            elif otype == KernelObjectType.INTERRUPT_OBJ:
                idt_entry = integ.interrupt_obj_index if integ is not None else 0
        else:
            raise self.refuse(f"a kernel-mode violation in zone {zone.json_name} has no alert exception")

        # signatures: KM alert exceptions list idt, then codeblocks (spec 03 §9.1)
        if idt_entry is not None:
            self.add_idt(idt_entry)
        if codeblocks:
            self.add_codeblocks()

        exc = KernelException(
            originator=self.km_originator_name(originator, orig_text),
            victim=self.km_victim_name(victim, victim_text, otype),
            flags=_flags(flags, ViolationKind.KM),
            object_type=int(otype),
            signatures=self.refs(),
        )
        return self.finish(AlertList.KERNEL, exc)

    def km_originator_name(self, value: int, text: str | None) -> Name:
        if self.linux:
            # the compiler hashes KM originators wide, Linux modules are hashed narrow: hash only
            return _name(value, None, _W_RAW, _PREDEFINED_KM)
        return _name(value, text, _W_PATH, _PREDEFINED_KM)

    def km_victim_name(self, value: int, text: str | None, otype: int) -> Name:
        if otype == KernelObjectType.SUD_MODIFICATION:
            rule = _N_RAW
        elif otype in (KernelObjectType.TOKEN_PRIVS, KernelObjectType.SECURITY_DESCRIPTOR, KernelObjectType.ACL_EDIT):
            rule = _linux_rule(_N14, self.linux)
        else:
            rule = _linux_rule(_W, self.linux)
        return _name(value, text, rule, _PREDEFINED_KM)

    # -- kernel → user ---------------------------------------------------------------------------------------

    def kum(self) -> Proposal:
        v = self.v
        km = v.km
        vic = v.victim
        os = v.env.os
        if vic.zone_type != ZoneType.EPT:
            raise self.refuse(f"a kernel-user violation in zone {vic.zone_type.json_name} has no alert exception")
        flags = _access(vic.zone_flags) | F_32 | F_64 | (F_LINUX if self.linux else 0)
        execute = bool(vic.zone_flags & ZoneFlags.EXECUTE)
        orig_rule = _linux_rule(_W, self.linux)
        orig_table = _PREDEFINED_KM
        if km.injection.user:
            flags |= F_KUM_USER
            originator, orig_text = _process_value(km.process)
            orig_rule, orig_table = _linux_rule(_N14, self.linux), _PREDEFINED_UM
            if km.process is None:
                self.notes.append("user injection without the injecting process: originator '-'")
        elif km.injection.kernel:
            flags |= F_KUM_KERNEL
            originator, orig_text = _km_frame_value(km.return_, os), km.return_.name
        elif _km_frame_known(km.original):
            originator, orig_text = _km_frame_value(km.original, os), km.original.name
        else:
            originator, orig_text = _km_frame_value(km.return_, os), km.return_.name
        victim, victim_text = vic.name_hash, vic.name
        if execute:
            originator, orig_text, victim, victim_text = _NONE, None, _ANY, None
        zf = vic.zone_flags
        if zf & ZoneFlags.LIB_IMPORTS:
            otype = KernelUserObjectType.MODULE_IMPORTS
        elif zf & ZoneFlags.LIB_EXPORTS:
            otype = KernelUserObjectType.MODULE_EXPORTS
        else:
            otype = KernelUserObjectType.MODULE
        process, process_text = _process_value(vic.process)
        self.add_codeblocks()
        exc = KernelUserException(
            originator=_name(originator, orig_text, orig_rule, orig_table),
            victim=_name(victim, victim_text, _linux_rule(_W, self.linux), _PREDEFINED_UM),
            process=_name(process, process_text, _linux_rule(_N14, self.linux), _PREDEFINED_UM),
            flags=_flags(flags, ViolationKind.KUM),
            object_type=int(otype),
            signatures=self.refs(),
        )
        return self.finish(AlertList.KERNEL_USER, exc)

    # -- user mode --------------------------------------------------------------------------------------------

    def um(self) -> Proposal:
        v = self.v
        um = v.um
        vic = v.victim
        zone = vic.zone_type
        linux_flag = F_LINUX if self.linux else 0
        both = F_32 | F_64
        proc_rule = _linux_rule(_N14, self.linux)  # compiler: process always cut to 14
        narrow_rule = _linux_rule(_N15 if self.linux else _N14, self.linux)
        process, process_text = _ANY, None
        orig_rule = victim_rule = _linux_rule(_W, self.linux)
        lst = AlertList.USER
        export_needed = False

        if zone == ZoneType.EPT:
            flags = both | _access(vic.zone_flags) | linux_flag
            ot = vic.object_type
            if ot == ObjectType.UM_MODULE:
                zf = vic.zone_flags
                if zf & ZoneFlags.LIB_IMPORTS:
                    otype = UserObjectType.MODULE_IMPORTS
                elif zf & ZoneFlags.LIB_EXPORTS:
                    otype = UserObjectType.MODULE_EXPORTS
                else:
                    otype = UserObjectType.MODULE
            elif ot == ObjectType.UM_GENERIC_NX_ZONE:
                otype = UserObjectType.NX_ZONE
            elif ot == ObjectType.SUD_EXEC:
                otype = UserObjectType.SUD_EXEC
            else:
                raise self.refuse(
                    f"user-mode EPT violation on a {ot.json_name} victim has no alert exception",
                    "supported victims: user modules, NX zones, SharedUserData execution",
                )
            if um.execute:
                originator, orig_text, victim, victim_text = _NONE, None, _ANY, None
            else:
                if um.name_hash not in (0, NONAME):
                    originator, orig_text = um.name_hash, um.name
                elif um.return_.name_hash not in (0, NONAME):
                    originator, orig_text = um.return_.name_hash, um.return_.name
                    self.notes.append("the writer is in no module: originator is the return module")
                else:
                    originator, orig_text = _NONE, None
                victim, victim_text = vic.name_hash, vic.name
            current = vic.process if vic.process is not None else um.process
            process, process_text = _process_value(current)
            # Linux execution alerts (lixmm.c) fill no code blocks
            if not (um.execute and self.linux):
                self.add_codeblocks()
        elif zone == ZoneType.PROCESS and vic.zone_flags & ZoneFlags.MODULE_LOAD:
            flags = both | F_WRITE | linux_flag
            otype = UserObjectType.DOUBLE_AGENT
            originator, orig_text = (um.name_hash, um.name) if um.name_hash not in (0, NONAME) else (_NONE, None)
            victim, victim_text = vic.name_hash, vic.name
            victim_rule = narrow_rule
            process, process_text = vic.name_hash, vic.name
        elif zone == ZoneType.PROCESS:
            zf = vic.zone_flags
            flags = both | (F_READ if zf & ZoneFlags.READ else F_WRITE) | linux_flag
            if zf & ZoneFlags.PROC_THREAD_CTX:
                otype = UserObjectType.THREAD_CONTEXT
            elif zf & ZoneFlags.PROC_THREAD_APC:
                otype = UserObjectType.APC_THREAD
            elif zf & ZoneFlags.PROC_INSTRUMENT:
                otype = UserObjectType.INSTRUMENTATION_CALLBACK
            else:
                otype = UserObjectType.PROCESS
            originator, orig_text = (um.name_hash, um.name) if um.name_hash not in (0, NONAME) else (_NONE, None)
            if um.process is not None and um.name_hash in (0, NONAME):
                originator, orig_text = _process_value(um.process)
            victim, victim_text = vic.name_hash, vic.name
            orig_rule = victim_rule = narrow_rule
            export_needed = vic.module is not None
        elif zone == ZoneType.PC:
            flags = both | F_EXEC | linux_flag
            # upstream quirk §13.8: DPI bits → process-creation, none → process-creation-dpi (inverted)
            otype = UserObjectType.PROCESS_CREATION if um.pc_type else UserObjectType.PROCESS_CREATION_DPI
            if um.pc_type:
                lst = AlertList.PROCESS_CREATION
            originator, orig_text = (um.name_hash, um.name) if um.name_hash not in (0, NONAME) else (_NONE, None)
            victim, victim_text = vic.name_hash, vic.name
            orig_rule = victim_rule = narrow_rule
        else:
            raise self.refuse(f"a user-mode violation in zone {zone.json_name} has no alert exception")

        # signatures: UM alert exceptions list codeblocks, export, process-creation (spec 03 §9.1)
        if export_needed:
            self.add_export()
        if zone == ZoneType.PC and um.pc_type:
            mask = int(um.pc_type)
            flags_pc = _sig_flags(self.arch_sig_flags())
            self._add(
                SignatureType.PROCESS_CREATION,
                lambda i: ProcessCreationSignature(id=i, flags=flags_pc, create_mask=FlagSet(mask)),
            )
        exc = UserException(
            originator=_name(originator, orig_text, orig_rule, _PREDEFINED_UM),
            victim=_name(victim, victim_text, victim_rule, _PREDEFINED_UM),
            process=_name(process, process_text, proc_rule, _PREDEFINED_UM),
            flags=_flags(flags, ViolationKind.UM),
            object_type=int(otype),
            signatures=self.refs(),
        )
        return self.finish(lst, exc)

    def add_export(self) -> None:
        vic = self.v.victim
        module = vic.module
        assert module is not None
        length = vic.injection.length if vic.injection is not None else 0
        export = module.export_at(vic.gva)
        if export is not None:
            offset = (vic.gva - module.base) - export.rva
            function = export.name_hashes[0] if export.name_hashes else _ANY
            fname = export.names[0] if export.names else None
        else:
            offset, function, fname = 0, _ANY, None
            self.notes.append("no export found at the injection destination: export function '*'")
        raw = offset & 0xFF
        self.export_offset = raw
        delta = raw + (length & 0xFF)  # each part truncated to 8 bits, as the alert stores them
        library = _name(module.name_hash, module.name, _W_RAW, _PREDEFINED_UM)
        entry = ExportHash(delta=delta, name=_name(function, fname, _N_RAW, _PREDEFINED_SIG))
        flags = _sig_flags(self.arch_sig_flags())
        self._add(
            SignatureType.EXPORT, lambda i: ExportSignature(id=i, flags=flags, library=library, entries=(entry,))
        )

    def finish(self, lst: AlertList, exc: AlertException) -> Proposal:
        return Proposal(
            list=lst,
            exception=exc,
            signatures=tuple(self.signatures),
            codeblocks=self.used_cbs,
            export_offset=self.export_offset,
            notes=tuple(self.notes),
        )


_UNSET = object()


def propose(
    violation: Violation,
    *,
    codeblocks: AlertCodeblocks | object | None = _UNSET,
    first_counter: int = ALERT_COUNTER_START,
) -> Proposal:
    """The alert exception and signatures Introcore's AddExceptionFromAlert creates for ``violation``.

    ``codeblocks``: the alert's own code blocks (e.g. decoded from a serialized alert); by default they are
    extracted from the code around the RIP in ``violation.env.memory`` (alert-side rules, spec 03 §10.6);
    None means "the alert carries none". ``first_counter``: counter of the first signature id (Introcore's
    alert counter; 0x200001 in a fresh store or right after a load).

    Raises :class:`ProposalError` when Introcore creates no exception (unsupported victim kinds).
    """
    given = codeblocks is not _UNSET
    cbs = codeblocks if isinstance(codeblocks, AlertCodeblocks) else None
    builder = _Builder(violation, cbs, given, first_counter)
    if violation.kind is ViolationKind.KM:
        return builder.km()
    if violation.kind is ViolationKind.KUM:
        return builder.kum()
    return builder.um()


# ---------------------------------------------------------------------------------------------------------
# deduplication (spec 03 §12.3)


def _cb_lists(p: Proposal) -> list[tuple[int, ...]]:
    out: list[tuple[int, ...]] = []
    for s in p.signatures:
        if isinstance(s, CodeBlocksSignature):
            out.extend(s.lists)
    return out


def _cb_duplicate(existing: Proposal, new: Proposal) -> bool:
    new_lists = _cb_lists(new)
    if not new_lists:
        return False
    return any(lst == new_lists[0] for lst in _cb_lists(existing))


def _idt_duplicate(existing: Proposal, new: Proposal) -> bool:
    new_idt = [s.entry for s in new.signatures if isinstance(s, IdtSignature)]
    old_idt = [s.entry for s in existing.signatures if isinstance(s, IdtSignature)]
    return bool(new_idt) and new_idt[0] in old_idt


def _export_duplicate(existing: Proposal, new: Proposal) -> bool:
    new_exp = [s for s in new.signatures if isinstance(s, ExportSignature)]
    if not new_exp or not new_exp[0].entries:
        return False
    target = new_exp[0]
    function = target.entries[0].name.value
    new_delta = new.export_offset if new.export_offset is not None else target.entries[0].delta
    for s in existing.signatures:
        if (
            isinstance(s, ExportSignature)
            and s.library.value == target.library.value
            and any(e.name.value == function and e.delta >= new_delta for e in s.entries)
        ):
            return True
    return False


def _has(p: Proposal, kind: type) -> bool:
    return any(isinstance(s, kind) for s in p.signatures)


def is_duplicate(existing: Proposal, new: Proposal) -> bool:
    """Whether Introcore skips adding ``new`` because ``existing`` (same alert list) already covers it.

    Process-creation signatures are not compared (so a DPI process-creation alert added twice is stored
    twice, as Introcore does).
    """
    a, b = existing.exception, new.exception
    other_kind: type
    if type(a) is not type(b) or existing.list is not new.list:
        return False
    same = a.originator.value == b.originator.value and a.victim.value == b.victim.value
    same = same and a.object_type == b.object_type
    if isinstance(a, KernelException):
        same = same and a.flags.value == b.flags.value
        other_dup, other_kind = _idt_duplicate, IdtSignature
    elif isinstance(a, KernelUserException):
        assert isinstance(b, KernelUserException)
        same = same and a.flags.value == b.flags.value and a.process.value == b.process.value
        if not same:
            return False
        if existing.signatures:
            return _cb_duplicate(existing, new)
        return not _has(new, CodeBlocksSignature)
    else:
        assert isinstance(b, UserException)
        same = same and a.process.value == b.process.value
        other_dup, other_kind = _export_duplicate, ExportSignature
    if not same:
        return False
    existing_has = bool(existing.signatures)
    new_cb = _has(new, CodeBlocksSignature)
    new_other = _has(new, other_kind)
    if existing_has:
        cb_dup = _cb_duplicate(existing, new)
        o_dup = other_dup(existing, new)
        return (cb_dup and o_dup) or (cb_dup and not new_other) or (o_dup and not new_cb)
    return not new_cb and not new_other


def type_name(p: Proposal) -> str:
    """JSON name of the proposal's object type (stock config)."""
    table = {
        ViolationKind.KM: STOCK_KERNEL_TYPE_NAMES,
        ViolationKind.UM: STOCK_USER_TYPE_NAMES,
        ViolationKind.KUM: STOCK_KERNEL_USER_TYPE_NAMES,
    }[p.kind]
    return table.get(p.exception.object_type, str(p.exception.object_type))



def proposal_documents(proposals: Iterable[Proposal], *, config: Config | None = None) -> list[JsonDocument]:
    """Exception and signature JSON documents for ``proposals`` (H2's writer), ready for ``hvmiex build``.

    The JSON route keeps every hash (names where the compiler re-hashes them to the same value, else
    ``{"hash": ...}``) but not the alert signature ids: the compiler numbers signatures itself.
    """
    from hvmiex.source.writer import write_json

    items = list(proposals)
    return write_json(
        [p.exception for p in items], [s for p in items for s in p.signatures], config=config
    )
