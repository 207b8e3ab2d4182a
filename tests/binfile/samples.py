"""Small exception sets written by us, built in code through the model and H1's writer."""

from __future__ import annotations

from hvmiex.binfile.writer import write_bytes
from hvmiex.crc32 import hash_narrow, hash_wide
from hvmiex.model import (
    CodeBlocksSignature,
    ExceptionSet,
    ExportHash,
    ExportSignature,
    FlagSet,
    GlobException,
    IdtSignature,
    IntroVersion,
    KernelException,
    KernelUserException,
    Name,
    ProcessCreationSignature,
    SignatureRef,
    UserApcException,
    UserException,
    ValueCodeSignature,
    ValueHash,
    ValueSignature,
    VersionIntroSignature,
    VersionOsSignature,
)

V = Name.verbatim
EXP = 0x19000001
CB = 0x96000002
VAL = 0x32000003
VC = 0x7D000004
IDT = 0x4B000005
VOS = 0x0C800006
VINTRO = 0x0CC00008
PC = 0x11800009


def sample_set(build: int = 7) -> ExceptionSet:
    """One record of every kind, every signature kind, Windows and Linux, ordered as the compiler would."""
    w = FlagSet(0x20000006)
    records = (
        KernelException(V(4), V(hash_narrow("microsoftedge.")), FlagSet(0x20001006), 23, (SignatureRef(VAL),)),
        KernelException(V(hash_wide("mydrv.sys")), V(2), FlagSet(0x20000216), 4, (SignatureRef(EXP), SignatureRef(CB))),
        KernelException(V(hash_wide("ntfs.sys")), V(0), FlagSet(0x20000087), 2),
        UserException(V(hash_narrow("explorer.exe")), V(hash_narrow("chrome.exe")), V(0), w, 2),
        UserException(V(hash_wide("chrome.exe")), V(hash_wide("kernel32.dll")), V(hash_narrow("chrome.exe")), w, 6,
                      (SignatureRef(EXP),)),
        UserApcException(V(hash_narrow("services.exe")), V(0), V(0), FlagSet(0x20000106), 10),
        KernelUserException(V(hash_narrow("chrome.exe")), V(hash_wide("ntdll.dll")), V(hash_narrow("chrome.exe")),
                            FlagSet(0x20008006), 2, (SignatureRef(PC), SignatureRef(EXP))),
        GlobException("python*.exe", "*", "*", w, 2, (SignatureRef(VOS), SignatureRef(VINTRO), SignatureRef(IDT))),
        VersionOsSignature(VOS, FlagSet(3), 7600, 0xFFFF),
        VersionIntroSignature(VINTRO, FlagSet(3), IntroVersion(1, 2, 0, 0), IntroVersion(2, 0xFFFF, 0xFFFF, 0xFFFF)),
        ProcessCreationSignature(PC, FlagSet(3), FlagSet(9)),
        ExportSignature(EXP, FlagSet(3), V(hash_wide("ntdll.dll")), (ExportHash(16, V(hash_narrow("NtOpenFile"))),)),
        ValueSignature(VAL, FlagSet(3), 1, (ValueHash(0, 108, 0x164BD348),)),
        IdtSignature(IDT, FlagSet(3), 2),
        ValueCodeSignature(VC, FlagSet(2), -3, (0x4C, 0x8B, 0x100)),
        CodeBlocksSignature(CB, FlagSet(3), 3, ((0x2A3282E3, 0x4D8C1CFF), (0xA,))),
    )
    return ExceptionSet(records, build=build)


def sample_bytes(build: int = 7) -> bytes:
    return write_bytes(sample_set(build))
