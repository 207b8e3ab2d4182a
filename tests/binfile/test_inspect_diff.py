"""inspect and diff: library results and the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from hvmiex.binfile.diff import Side, diff_sets
from hvmiex.binfile.inspect import inspect_parsed
from hvmiex.binfile.reader import load, parse_exceptions_bin
from hvmiex.cli.main import main
from hvmiex.compiler import compile_set
from hvmiex.namedb import NameResolver
from tests.binfile.samples import sample_bytes
from tests.conftest import DATA

SET1 = DATA / "binfile" / "set1"
ORDER = ["sigs.json", "km.json", "apc.json", "um.json", "kum.json", "glob.json"]


def _set1_bytes(build: int = 3) -> bytes:
    return compile_set([SET1 / n for n in ORDER], None, build).data


def test_inspect_tables_and_names() -> None:
    data = sample_bytes()
    report = inspect_parsed(parse_exceptions_bin(data), resolver=NameResolver(["MyDrv.sys"]), load=load(data))
    assert report.header["build"] == 7
    assert report.header["introcore"]["accepted"] is True
    kernel = report.tables["kernel"]
    assert [r["originator"] for r in kernel] == ["-", "MyDrv.sys", "ntfs.sys"]
    assert kernel[1]["victim"] == "[kernel]"
    assert kernel[1]["flags"] == ["32", "64", "return", "return-drv", "write"]
    assert kernel[0]["object_type"] == "acl-edit"
    user = report.tables["user"]
    assert user[0]["originator"] == "explorer.exe" and user[0]["victim"] == "chrome.exe"
    assert user[1]["originator"] == "chrome.exe" and user[1]["process"] == "chrome.exe"  # wide vs narrow
    assert report.tables["glob"][0]["originator"] == "python*.exe"
    sigs = {r["label"]: r for r in report.tables["signatures"]}
    assert sigs["exp#1"]["library"] == "ntdll.dll"
    assert sigs["exp#1"]["entries"][0]["name"] == "NtOpenFile"
    assert sigs["vc#4"]["pattern"] == ["4c", "8b", "??"]
    assert kernel[1]["signatures"][0] == {"id": "0x19000001", "label": "exp#1", "present": True}


def test_inspect_unresolved_shown_as_hash() -> None:
    data = sample_bytes()
    report = inspect_parsed(parse_exceptions_bin(data), resolver=NameResolver(builtin=False))
    assert report.tables["kernel"][1]["originator"] == "0x3cba652d"


def test_inspect_cli_text_and_json(tmp_path: Path) -> None:
    src = tmp_path / "x.bin"
    src.write_bytes(_set1_bytes())
    runner = CliRunner()
    text = runner.invoke(main, ["inspect", str(src), "--names", str(SET1)], env={"COLUMNS": "250"})
    assert text.exit_code == 0, text.output
    assert "myunknowndriver.sys" in text.output and "[kernel]" in text.output
    js = runner.invoke(main, ["inspect", str(src), "--format", "json", "--list", "glob"])
    doc = json.loads(js.output)
    assert "kernel" not in doc and len(doc["glob"]) == 8
    assert doc["header"]["unused_signatures"]


def test_inspect_cli_refuses_garbage(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"not an exceptions file at all, just text padding....")
    run = CliRunner().invoke(main, ["inspect", str(bad)])
    assert run.exit_code == 1
    assert "Traceback" not in run.output


def test_diff_equivalent_across_order_and_ids() -> None:
    a = compile_set([SET1 / n for n in ORDER], None, 1).exception_set
    reordered = ["sigs.json", "glob.json", "kum.json", "um.json", "apc.json", "km.json"]
    b = compile_set([SET1 / n for n in reordered], None, 1).exception_set
    result = diff_sets(Side(a, "a"), Side(b, "b"))
    assert result.equivalent, result.to_dict()


def test_diff_reports_changes(tmp_path: Path) -> None:
    changed = tmp_path / "set"
    shutil.copytree(SET1, changed)
    km = changed / "km.json"
    km.write_text(km.read_text().replace('"non-driver read"', '"non-driver read integrity"'))
    sigs = changed / "sigs.json"
    sigs.write_text(sigs.read_text().replace('"entry": 14', '"entry": 13'))
    apc = changed / "apc.json"
    apc.write_text(apc.read_text().replace('"zz-unknown-proc.exe"', '"yy-unknown-proc.exe"'))
    a = compile_set([SET1 / n for n in ORDER], None, 1).exception_set
    b = compile_set([changed / n for n in ORDER], None, 1).exception_set
    result = diff_sets(Side(a, "a"), Side(b, "b"), resolver=NameResolver())
    assert not result.equivalent
    assert [c["flags"] for c in result.changed if "flags" in c] == [{"added": ["integrity"], "removed": []}]
    assert any(c["fields"] == ["signatures"] for c in result.changed)
    assert [r["originator"] for r in result.added] == ["yy-unknown-proc.exe"]
    assert [r["originator"] for r in result.removed] == ["zz-unknown-proc.exe"]
    assert [c["fields"] for c in result.signatures_changed] == [["entry"]]


def test_diff_cli_bin_vs_json(tmp_path: Path) -> None:
    src = tmp_path / "a.bin"
    src.write_bytes(_set1_bytes(0))
    runner = CliRunner()
    same = runner.invoke(main, ["diff", str(src), str(SET1)])
    assert same.exit_code == 0, same.output
    other = tmp_path / "b.bin"
    other.write_bytes(sample_bytes())
    differs = runner.invoke(main, ["diff", "--format", "json", str(src), str(other)])
    assert differs.exit_code == 1
    doc = json.loads(differs.output)
    assert doc["equivalent"] is False and doc["header"]


def test_fast_json_equals_rows() -> None:
    from hvmiex.binfile.inspect import inspect_json

    for data in (sample_bytes(), _set1_bytes()):
        parsed = parse_exceptions_bin(data)
        resolver = NameResolver()
        full = inspect_parsed(parsed, resolver=resolver, load=load(data)).to_dict()
        assert json.loads(inspect_json(parsed, resolver=resolver, load=load(data))) == full
        limited = inspect_parsed(parsed, resolver=resolver, limit=1)
        assert all(len(rows) <= 1 for rows in limited.tables.values())
        assert limited.header["records"] == full["header"]["records"]


def test_inspect_damaged_file_shows_records_before_the_damage(tmp_path: Path) -> None:
    bad = tmp_path / "cut.bin"
    bad.write_bytes(sample_bytes() + b"\x00")  # one stray byte: Introcore refuses, records stay readable
    parsed = parse_exceptions_bin(bad.read_bytes(), partial=True)
    assert parsed.error is not None and parsed.error.location is not None
    assert len(parsed.records) == 16
    run = CliRunner().invoke(main, ["inspect", str(bad)], env={"COLUMNS": "200"})
    assert run.exit_code == 0, run.output
    assert "damaged" in run.output and "NOT load" in run.output
