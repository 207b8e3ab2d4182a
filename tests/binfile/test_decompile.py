"""decompile -> build gives the same bytes: golden files, our fixtures, model-built sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hvmiex.binfile.reader import parse_exceptions_bin, read_exceptions_bin
from hvmiex.compiler import compile_set
from hvmiex.config import config_from_dict
from hvmiex.namedb import NameResolver
from hvmiex.source.writer import decompile, write_documents
from tests.binfile.samples import sample_bytes
from tests.conftest import DATA, SHARED, shared_path

GOLDEN = (
    sorted([SHARED / "golden" / "hvmi-corpus-build2002.bin", *SHARED.glob("golden/*/*/expected.bin")])
    if (SHARED / "golden").exists()
    else []
)
SET1 = DATA / "binfile" / "set1"
SET1_ORDER = ["sigs.json", "km.json", "apc.json", "um.json", "kum.json", "glob.json"]
RESOLVER = NameResolver()


def _rebuild(data: bytes, tmp: Path, resolver: NameResolver | None = RESOLVER) -> bytes:
    parsed = parse_exceptions_bin(data)
    result = decompile(parsed.model, resolver=resolver)
    paths = write_documents(tmp, result.documents)
    config = config_from_dict(result.config) if result.config else None
    return compile_set(paths, config, result.build).data


def test_golden_present_or_skipped() -> None:
    shared_path("golden", "hvmi-corpus-build2002.bin")
    assert len(GOLDEN) >= 30


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.parent.name if p.name == "expected.bin" else p.name)
def test_golden_roundtrip(path: Path, tmp_path: Path) -> None:
    data = path.read_bytes()
    assert _rebuild(data, tmp_path) == data


def test_golden_roundtrip_without_names(tmp_path: Path) -> None:
    data = shared_path("golden", "hvmi-corpus-build2002.bin").read_bytes()
    assert _rebuild(data, tmp_path, NameResolver(builtin=False)) == data
    text = "".join(p.read_text() for p in tmp_path.glob("*.json"))
    assert '{"hash": "0x' in text


def test_fixture_set_roundtrip(tmp_path: Path) -> None:
    data = compile_set([SET1 / n for n in SET1_ORDER], None, 42).data
    assert _rebuild(data, tmp_path / "a") == data
    # quirk Q1: an unused signature survives and must survive the rebuild too
    parsed = parse_exceptions_bin(data)
    sig_ids = {s.id for s in parsed.model.signatures}
    used = {r.id for e in parsed.model.exceptions for r in e.signatures}
    assert sig_ids - used


def test_fixture_user_apc_tie_needs_runs(tmp_path: Path) -> None:
    # apc.json before um.json: an apc record precedes a user record with the same sort key
    data = compile_set([SET1 / n for n in SET1_ORDER], None, 1).data
    parsed = parse_exceptions_bin(data)
    documents = decompile(parsed.model, resolver=RESOLVER).documents
    assert sum(1 for d in documents if d.data.get("Type") in ("user", "user-apc") and "Exceptions" in d.data) > 2


def test_model_built_sample_roundtrip(tmp_path: Path) -> None:
    data = sample_bytes()
    assert _rebuild(data, tmp_path) == data


def test_names_resolved_and_hash_extension(tmp_path: Path) -> None:
    data = compile_set([SET1 / n for n in SET1_ORDER], None, 0).data
    result = decompile(parse_exceptions_bin(data).model, resolver=RESOLVER)
    by_name = {d.filename: d.data for d in result.documents}
    km = by_name["10-kernel.json"]["Exceptions"]
    originators = [e.get("originator") for e in km]
    assert "ntfs.sys" in originators and "tcpip.sys" in originators
    assert {"hash": f"0x{0:08x}"} not in originators
    # a name no dictionary knows stays a hash
    assert any(isinstance(o, dict) and set(o) == {"hash"} for o in originators)
    sigs = by_name["00-signatures.json"]["Signatures"]
    assert all(isinstance(s["id"], int) for s in sigs)
    assert any(s["sig_id"].startswith("q1-placeholder") for s in sigs)


def test_custom_version_emits_config(tmp_path: Path) -> None:
    case = shared_path("golden", "compiler-cases", "case-004", "expected.bin")
    result = decompile(read_exceptions_bin(case).model, resolver=RESOLVER)
    assert result.config is not None and result.config["Version"]["Minor"] == 3


def test_cli_decompile_verifies(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hvmiex.cli.main import main

    src = tmp_path / "in.bin"
    src.write_bytes(compile_set([SET1 / n for n in SET1_ORDER], None, 9).data)
    out = tmp_path / "out"
    run = CliRunner().invoke(main, ["decompile", str(src), "-o", str(out), "--names", str(SET1), "--format", "json"])
    assert run.exit_code == 0, run.output
    doc = json.loads(run.output)
    assert doc["verified_identical"] is True
    assert (out / "build.txt").read_text().startswith("hvmiex build")
    # the folder itself builds to the same bytes (sorted walk keeps the order)
    assert compile_set([out], None, 9).data == src.read_bytes()
