from __future__ import annotations

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from hvmiex.cli.main import main
from hvmiex.crc32 import crc32, hash_narrow, hash_wide


def test_check_values() -> None:
    assert crc32("crc32") == 0x9676DBBC
    assert crc32(b"123456789") == 0xD202D277
    assert crc32("a") == 0xC54AAE31
    assert crc32("crc32", wide=True) == 0xAAD4A8AB
    assert crc32("ntdll.dll", wide=True) == 0xBE9D4EC5
    assert hash_narrow("chrome.exe") == 0x80689A87
    assert hash_wide("chrome.exe") == 0x8EB0D21F


@settings(max_examples=100)
@given(st.binary(), st.binary())
def test_chaining(a: bytes, b: bytes) -> None:
    assert crc32(b, initial_crc=crc32(a)) == crc32(a + b)


def test_cli() -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["crc32", "crc32"]).output.strip() == "0x9676dbbc"
    assert runner.invoke(main, ["crc32", "--wide", "ntdll.dll"]).output.strip() == "0xbe9d4ec5"
    out = runner.invoke(main, ["crc32", "a", "crc32"]).output.splitlines()
    assert out == ["0xc54aae31  a", "0x9676dbbc  crc32"]
    chained = runner.invoke(main, ["crc32", "6789", "--initial", hex(crc32("12345"))]).output.strip()
    assert chained == "0xd202d277"
    assert runner.invoke(main, ["crc32"]).exit_code == 2


def test_cli_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "x"
    f.write_bytes(b"123456789")
    assert CliRunner().invoke(main, ["crc32", "--file", str(f)]).output.strip() == "0xd202d277"
