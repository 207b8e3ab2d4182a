"""One declaration per record: pack -> unpack -> pack is the identity, sizes follow spec 01."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from hvmiex.binfile import layout as L
from hvmiex.binfile.writer import write_bytes
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
    LinuxVersion,
    Name,
    ObjectType,
    ProcessCreationSignature,
    RawObject,
    SignatureRef,
    UserApcException,
    UserException,
    ValueCodeSignature,
    ValueHash,
    ValueSignature,
    VersionIntroSignature,
    VersionOsSignature,
)
from tests.conftest import DATA

u32 = st.integers(0, 0xFFFFFFFF)
u16 = st.integers(0, 0xFFFF)
u8 = st.integers(0, 0xFF)
names = u32.map(Name.verbatim)
flags = u32.map(FlagSet)
refs = st.lists(u32.map(SignatureRef), max_size=6).map(tuple)
glob_text = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20)

exceptions = st.one_of(
    st.builds(KernelException, names, names, flags, u8, refs, u32),
    st.builds(UserException, names, names, names, flags, u8, refs),
    st.builds(UserApcException, names, names, names, flags, u8, refs),
    st.builds(KernelUserException, names, names, names, flags, u8, refs),
    st.builds(GlobException, glob_text, glob_text, glob_text, flags, u8, refs),
)
signatures = st.one_of(
    st.builds(ExportSignature, u32, flags, names,
              st.lists(st.builds(ExportHash, u16, names), max_size=5).map(tuple)),
    st.builds(ValueSignature, u32, flags, u8, st.lists(st.builds(ValueHash, u16, u16, u32), max_size=5).map(tuple)),
    st.builds(CodeBlocksSignature, u32, flags, u8,
              st.lists(st.lists(u32, max_size=6).map(lambda x: tuple(sorted(x))), max_size=4).map(tuple)),
    st.builds(ValueCodeSignature, u32, flags, st.integers(-32768, 32767), st.lists(u16, max_size=10).map(tuple)),
    st.builds(IdtSignature, u32, flags, u8),
    st.builds(VersionOsSignature, u32, flags, st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1)),
    st.builds(VersionIntroSignature, u32, flags, st.builds(IntroVersion, u16, u16, u16, u16),
              st.builds(IntroVersion, u16, u16, u16, u16)),
    st.builds(ProcessCreationSignature, u32, flags, flags),
)  # fmt: skip


def _split(obj: bytes) -> tuple[int, bytes]:
    t, size = L.OBJECT_HEADER.struct.unpack_from(obj, 0)
    assert len(obj) == 3 + size
    return t, obj[3:]


@settings(max_examples=150)
@given(st.one_of(exceptions, signatures))
def test_record_round_trip(record: object) -> None:
    packed = L.pack_record(record)  # type: ignore[arg-type]
    t, body = _split(packed)
    assert t == record.OBJECT  # type: ignore[attr-defined]
    back = L.unpack_record(t, body)
    assert L.pack_record(back) == packed
    assert back == record  # verbatim names and bare refs compare equal


def test_sizes() -> None:
    n4 = Name.verbatim(4)
    r = (SignatureRef(1), SignatureRef(2))
    assert len(L.pack_kernel(KernelException(n4, n4, FlagSet(0), 1, r))) == 3 + 20 + 8
    assert len(L.pack_user(UserException(n4, n4, n4, FlagSet(0), 1))) == 3 + 20
    g = GlobException("a*", "*", "p.exe", FlagSet(0), 2, r)
    assert len(L.pack_glob(g)) == 3 + 8 + 3 + 2 + 6 + 8
    cb = CodeBlocksSignature(1, FlagSet(0), 1, ((1, 2, 3), (4,)))
    assert len(L.pack_codeblocks(cb)) == 3 + 10 + 2 + 4 * 4
    ex = ExportSignature(1, FlagSet(0), n4, (ExportHash(1, n4), ExportHash(2, n4)))
    assert len(L.pack_export(ex)) == 3 + 16 + 16
    assert len(L.pack_value(ValueSignature(1, FlagSet(0), 1, (ValueHash(1, 2, 3),)))) == 3 + 24
    assert len(L.pack_value_code(ValueCodeSignature(1, FlagSet(0), -3, (1, 2, 0x100)))) == 3 + 12 + 6
    assert len(L.pack_idt(IdtSignature(1, FlagSet(0), 2))) == 3 + 12
    assert len(L.pack_version_os(VersionOsSignature(1, FlagSet(0), 0, 0))) == 3 + 24
    iv = IntroVersion(0, 0, 0)
    assert len(L.pack_version_intro(VersionIntroSignature(1, FlagSet(0), iv, iv))) == 3 + 24
    assert len(L.pack_process_creation(ProcessCreationSignature(1, FlagSet(0), FlagSet(9)))) == 3 + 24
    assert L.FILE_HEADER.size == 36 and L.OBJECT_HEADER.size == 3
    assert [d.size for d in (L.KM_EXCEPTION, L.UM_EXCEPTION, L.KUM_EXCEPTION, L.GLOB_EXCEPTION)] == [20, 20, 20, 8]


def test_linux_version_union() -> None:
    v = LinuxVersion(5, 4, 0xFFFF, 0xFFFF)
    assert LinuxVersion.unpack(v.pack()) == v
    assert v.pack().to_bytes(8, "little") == bytes.fromhex("0504ffffffff0000")


def test_glob_non_ascii_quirk_q18() -> None:
    # UTF-8 bytes cut to character count + 1: no NUL survives
    assert L.encode_glob_string("é*") == "é*".encode()[:3]
    assert L.encode_glob_string("a*") == b"a*\0"


def _parse_file(data: bytes) -> ExceptionSet:
    h = L.unpack_header(data)
    pos, records = 36, []
    while pos < len(data):
        t, size = L.OBJECT_HEADER.struct.unpack_from(data, pos)
        records.append(L.unpack_record(t, data[pos + 3 : pos + 3 + size]))
        pos += 3 + size
    return ExceptionSet(tuple(records), h.major, h.minor, h.build)


def test_worked_example_file_round_trip(tmp_path: Path) -> None:
    from hvmiex.compiler import compile

    folder = DATA / "compiler" / "worked"
    data = compile(sorted(folder.glob("*.json")))
    es = _parse_file(data)
    assert write_bytes(es) == data
    assert [type(r).OBJECT for r in es.records] == [1, 1, 2, 2, 9, 14, 6, 11, 11, 12, 13, 4, 5, 10, 8, 3]


def test_unknown_object_kept_raw() -> None:
    raw = L.unpack_record(7, b"\x01\x02")
    assert raw == RawObject(7, b"\x01\x02")
    assert L.pack_record(raw) == b"\x07\x02\x00\x01\x02"
    assert ObjectType.RESERVED == 7
