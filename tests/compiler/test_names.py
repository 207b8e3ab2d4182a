"""Spec 02 §6: from a name to its 32-bit value."""

from __future__ import annotations

import pytest

from hvmiex.crc32 import hash_bytes, hash_narrow, hash_wide
from hvmiex.names import (
    EMPTY_NAME_VALUE,
    HashRule,
    NameOrigin,
    NameSyntaxError,
    decode_escapes,
    make_name,
    name_value,
    reduce_path,
)

KM = {"*": 0, "[own]": 1, "[kernel]": 2, "[hal]": 3, "-": 4}


def test_empty_is_all_ones() -> None:
    assert name_value("", HashRule(), None) == (EMPTY_NAME_VALUE, NameOrigin.EMPTY)
    assert name_value(None, HashRule(), None)[0] == 0xFFFFFFFF


def test_predefined_before_trim_and_exact() -> None:
    rule = HashRule(wide=True, table="kernel-mode")
    assert name_value("[kernel]", rule, KM) == (2, NameOrigin.PREDEFINED)
    # folding happens first, so [KERNEL] is predefined too; without folding it is hashed
    assert name_value("[KERNEL]", rule, KM)[0] == 2
    assert name_value("[KERNEL]", HashRule(wide=True, fold=False), KM)[0] == hash_wide("[KERNEL]")


def test_narrow_wide_trim() -> None:
    assert name_value("Chrome.exe", HashRule(), None)[0] == 0x80689A87
    assert name_value("Chrome.exe", HashRule(wide=True), None)[0] == 0x8EB0D21F
    # spec 02 §17.3
    assert name_value("startmenuexperiencehost", HashRule(trim=14), None)[0] == 0x41CF65CE
    assert name_value("MicrosoftEdge.exe", HashRule(trim=14), None)[0] == 0x40B276E2
    assert name_value("Abcdefghijklmnopq", HashRule(fold=False, trim=15), None)[0] == 0xF178A559
    assert name_value("Abcdefghijklmnopq", HashRule(fold=False, trim=14), None)[0] == 0xA32D6B98


def test_path_reduction() -> None:
    assert reduce_path("\\SystemRoot\\System32\\Drivers\\MyDrv.sys") == "MyDrv.sys"
    assert reduce_path("/lib/modules/foo.ko") == "foo.ko"
    assert reduce_path("/a/b\\c") == "c"
    assert reduce_path("c:foo") == "c:foo"
    assert reduce_path("\\a") == "\\a"
    assert reduce_path("C:\\x\\y.sys") == "y.sys"
    with pytest.raises(NameSyntaxError):
        reduce_path("\\a\\b\\")
    rule = HashRule(wide=True, path_reduce=True)
    assert name_value("\\SystemRoot\\System32\\Drivers\\MyDrv.sys", rule, None)[0] == 0x3CBA652D


def test_escapes() -> None:
    assert decode_escapes("*\\x41bc") == b"*Abc"
    assert decode_escapes("*\\x4") == b"*\x04"
    assert decode_escapes("*\\x8a\\xfe") == b"*\x8a\xfe"
    with pytest.raises(NameSyntaxError):
        decode_escapes("*\\x")
    with pytest.raises(NameSyntaxError):
        decode_escapes("*\\xzz")
    with pytest.raises(NameSyntaxError):
        decode_escapes("*abc\\")
    rule = HashRule(trim=14, escapes=True, table="user-mode")
    assert name_value("*\\x41bc", rule, None)[0] == 0xC2586E95
    # folding comes first: \X41 is an escape too and keeps its value
    assert name_value("*\\X41bc", rule, None)[0] == 0xC2586E95
    # upstream quirk Q5: after group expansion the bytes are ASCII-lower-cased
    lowered = HashRule(trim=14, escapes=True, lower_bytes=True)
    assert name_value("*\\x41bc", lowered, None)[0] == 0xFA152875 == hash_narrow("*abc")
    with pytest.raises(NameSyntaxError):
        name_value("*\\x41bc", HashRule(wide=True, escapes=True), None)
    # trimming counts bytes
    assert name_value("*\\x41" + "b" * 20, rule, None)[0] == hash_bytes(b"*A" + b"b" * 12)


def test_make_name_keeps_text_and_rule() -> None:
    rule = HashRule(trim=14)
    n = make_name("Explorer.EXE", rule, None)
    assert (n.text, n.rule, n.value, n.origin) == ("Explorer.EXE", rule, hash_narrow("explorer.exe"), NameOrigin.HASHED)
    assert str(n) == "Explorer.EXE"
