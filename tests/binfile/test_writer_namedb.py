"""source.writer (model -> JSON) and namedb (hash -> name) on their own."""

from __future__ import annotations

from pathlib import Path

import pytest

from hvmiex.config import load_config
from hvmiex.crc32 import hash_narrow, hash_wide
from hvmiex.model import (
    ExceptionKind,
    FlagSet,
    IdtSignature,
    KernelException,
    Name,
    SignatureRef,
    UserException,
)
from hvmiex.namedb import NameResolver, builtin_names, exception_field_rule
from hvmiex.namedb.generate import write as generate_names
from hvmiex.names import HashRule
from hvmiex.source.writer import (
    compile_exception_flags,
    exception_flags_json,
    signature_flags_json,
    write_json,
)

CONFIG = load_config()


@pytest.mark.parametrize(
    ("kind", "value", "type_name", "expected"),
    [
        (ExceptionKind.KERNEL, 0x20000006, "driver", None),
        (ExceptionKind.KERNEL, 0x20000216, "driver code", "return"),
        (ExceptionKind.KERNEL, 0x20000306, "driver", "non-driver"),
        (ExceptionKind.KERNEL, 0x10000004, "driver", "64 read"),
        (ExceptionKind.USER, 0x40000006, "nx_zone", None),
        (ExceptionKind.USER, 0x20000006, "nx_zone", "write"),
        (ExceptionKind.USER_APC, 0x20000006, "process-creation", None),
        (ExceptionKind.USER, 0x40000006, "process-creation", None),
        (ExceptionKind.KERNEL_USER, 0x20008006, "module", "user"),
    ],
)
def test_flags_minimal_names(kind: ExceptionKind, value: int, type_name: str, expected: str | None) -> None:
    assert exception_flags_json(kind, value, type_name, CONFIG) == expected


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (ExceptionKind.KERNEL, 0x20000200),  # return-drv alone: the compiler refuses "return-drv"
        (ExceptionKind.KERNEL, 0x00000006),  # no access bit: the compiler would add write
        (ExceptionKind.USER, 0x20000000),  # no architecture: the compiler would add 32 64
        (ExceptionKind.USER, 0x20100006),  # a bit no table names
        (ExceptionKind.USER, 0x20000406),  # smap is not a user-mode flag (spec 02 Q7)
    ],
)
def test_flags_raw_when_names_cannot_say_it(kind: ExceptionKind, value: int) -> None:
    assert exception_flags_json(kind, value, "process", CONFIG) == {"raw": f"0x{value:08x}"}


def test_flags_text_compiles_back() -> None:
    for value in (0x20000006, 0x20000216, 0x60000086, 0x80000007, 0x10000001):
        text = exception_flags_json(ExceptionKind.KERNEL, value, "driver", CONFIG)
        if isinstance(text, dict):
            continue
        tokens = None if text is None else text.split(" ")
        assert compile_exception_flags(ExceptionKind.KERNEL, tokens, "driver", CONFIG) == value


def test_signature_flags() -> None:
    assert signature_flags_json(0x3, CONFIG) is None
    assert signature_flags_json(0x10002, CONFIG) == "64 cli"
    assert signature_flags_json(0x83, CONFIG) == "linux"
    assert signature_flags_json(0x80, CONFIG) == {"raw": "0x00000080"}


def test_write_json_any_model_objects() -> None:
    sig = IdtSignature(0x4B000001, FlagSet(3), 3, name="my-idt")
    exc = UserException(
        Name(hash_narrow("a.exe"), "A.exe"), Name.verbatim(0x12345678), Name(0), FlagSet(0x20000006), 2,
        (SignatureRef(0x4B000001),),
    )  # fmt: skip
    docs = write_json([exc], [sig], resolver=NameResolver(builtin=False))
    assert [d.filename for d in docs] == ["00-signatures.json", "20-user.json"]
    entry = docs[1].data["Exceptions"][0]
    assert entry["originator"] == "A.exe"  # text kept: it folds and hashes to the stored value
    assert entry["victim"] == {"hash": "0x12345678"}
    assert "process" not in entry and "flags" not in entry
    assert entry["signatures"] == ["my-idt"]
    assert docs[0].data["Signatures"][0] == {"sig_type": "idt", "sig_id": "my-idt", "entry": 3}
    assert '"Exceptions": [' in docs[1].dumps()


def test_write_json_text_of_name_not_matching_value_is_replaced() -> None:
    exc = KernelException(Name(hash_wide("ntfs.sys"), "wrong.sys"), Name(0), FlagSet(0x20000006), 2)
    entry = write_json([exc], resolver=NameResolver())[0].data["Exceptions"][0]
    assert entry["originator"] == "ntfs.sys"


def test_resolver_every_rule() -> None:
    r = NameResolver(["Abcdefghijklmnopq", "MicrosoftEdgeCP.exe", "\\SystemRoot\\System32\\drivers\\MyDrv.sys"])
    assert r.resolve(hash_wide("ntdll.dll"), HashRule(wide=True)) == "ntdll.dll"
    assert r.resolve(hash_narrow("chrome.exe"), HashRule(wide=False)) == "chrome.exe"
    # case folding: the dictionary's lower-case name matches a folded field
    assert r.resolve(hash_narrow("microsoftedgec"), HashRule(trim=14)) == "MicrosoftEdgeCP.exe"
    # 15-character trim without folding (linux), 14 with
    assert r.resolve(0xF178A559, HashRule(fold=False, trim=15)) == "Abcdefghijklmnopq"
    assert r.resolve(hash_narrow("abcdefghijklmn"), HashRule(trim=14)) == "Abcdefghijklmnopq"
    # a path is reduced for the KM originator rule
    rule = exception_field_rule(ExceptionKind.KERNEL, "originator", 4, 0x20000006, CONFIG)
    assert rule is not None
    found = r.resolve(0x3CBA652D, rule.rule, rule.predefined)
    assert found is not None and found.lower().endswith("mydrv.sys")
    # predefined values
    assert r.resolve(2, rule.rule, rule.predefined) == "[kernel]"
    assert r.resolve(0xDEADBEEF, HashRule()) is None


def test_harvest_from_json(tmp_path: Path) -> None:
    src = tmp_path / "x.json"
    src.write_text('// c\n{"Type": "user", "Exceptions": [{"originator": "Zed.exe", "victim": "[python]",'
                   ' "object_type": "process"}]}')  # fmt: skip
    r = NameResolver.from_paths([src], builtin=False)
    assert "Zed.exe" in r.names and "[python]" not in r.names


def test_dictionary_size_and_generator_is_deterministic(tmp_path: Path) -> None:
    names = builtin_names()
    assert len(names) > 3000
    assert "svchost.exe" in names and "ntfs.sys" in names and "systemd" in names and "NtOpenFile" in names
    generate_names(tmp_path)
    bundled = Path(__file__).resolve().parents[2] / "src" / "hvmiex" / "data" / "names"
    for f in tmp_path.iterdir():
        assert f.read_text() == (bundled / f.name).read_text()
