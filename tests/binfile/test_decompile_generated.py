"""decompile -> build is byte-identical on generated inputs: H1's corpus generator and random JSON sets
(unused signatures for quirk Q1, glob prefixes for Q2, user/user-apc ties, Linux flags, escapes)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hvmiex.binfile.reader import parse_exceptions_bin
from hvmiex.compiler import compile_set
from hvmiex.namedb import NameResolver
from hvmiex.source.writer import decompile, write_documents

ROOT = Path(__file__).resolve().parents[2]
RESOLVER = NameResolver()

SIGNATURES: list[dict[str, Any]] = [
    {"sig_type": "export", "library": "ntdll.dll", "hashes": [{"name": "NtClose", "delta": 1}]},
    {"sig_type": "idt", "entry": 3},
    {"sig_type": "codeblocks", "score": 1, "hashes": [["0x00000003", "0x00000001"]]},
    {"sig_type": "value", "score": 1, "hashes": [{"offset": 1, "size": 2, "hash": "0x10"}]},
    {"sig_type": "value-code", "offset": 2, "pattern": ["0x90"]},
    {"sig_type": "version-os", "minimum": "7600", "maximum": "*"},
    {"sig_type": "version-intro", "minimum": "1.0.*", "maximum": "2.*.*"},
    {"sig_type": "process-creation", "create_mask": ["debug"]},
]
EXCEPTIONS: list[tuple[str, dict[str, Any]]] = [
    ("kernel", {"originator": "ntfs.sys", "victim": "[kernel]", "object_type": "driver code", "flags": "return"}),
    ("kernel", {"originator": "zzdrv.sys", "object_type": "msr", "flags": "linux smep"}),
    ("kernel", {"object_type": "acl-edit", "victim": "winlogon.exe", "flags": "integrity"}),
    ("user", {"originator": "explorer.exe", "victim": "chrome.exe", "object_type": "process"}),
    ("user", {"originator": "*\\x41bc", "victim": "x.exe", "object_type": "process"}),
    ("user", {"originator": "bash", "victim": "sshd", "object_type": "process", "flags": "linux feedback"}),
    ("user", {"originator": "svchost.exe", "victim": "*", "object_type": "nx_zone"}),
    ("user-apc", {"originator": "explorer.exe", "victim": "chrome.exe", "object_type": "process"}),
    ("user-apc", {"originator": "services.exe", "victim": "*", "object_type": "apc-thread"}),
    ("kernel-user", {"originator": "chrome.exe", "victim": "ntdll.dll", "object_type": "module", "flags": "user"}),
    ("kernel-user", {"originator": "-", "victim": "[kernel]", "object_type": "any"}),
    ("user-glob-match", {"originator": "*zz.exe", "victim": "x.exe", "object_type": "process"}),
    ("user-glob-match", {"originator": "b?.exe", "victim": "*", "object_type": "process"}),
    ("user-glob-match", {"originator": "[ab]c.exe", "victim": "", "object_type": "nx_zone"}),
]


def _roundtrip(files: list[Path], build: int, tmp: Path) -> None:
    data = compile_set(files, None, build).data
    result = decompile(parse_exceptions_bin(data).model, resolver=RESOLVER)
    written = write_documents(tmp / "out", result.documents)
    assert compile_set(written, None, result.build).data == data


def test_h1_corpus_generator(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from corpus_gen import generate  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    files = generate(tmp_path / "src", 3000, seed=7, per_file=1000)
    _roundtrip(files, 5, tmp_path)


@st.composite
def json_sets(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
    sig_idx = draw(st.lists(st.integers(0, len(SIGNATURES) - 1), min_size=0, max_size=10))
    sigs = [dict(SIGNATURES[i], sig_id=f"s{n}") for n, i in enumerate(sig_idx)]
    picks = draw(st.lists(st.integers(0, len(EXCEPTIONS) - 1), min_size=1, max_size=14))
    names = [str(s["sig_id"]) for s in sigs]
    excs = []
    for i in picks:
        kind, entry = EXCEPTIONS[i]
        entry = dict(entry)
        refs: list[str] = draw(st.lists(st.sampled_from(names), max_size=3)) if names else []
        if refs:
            entry["signatures"] = refs
        excs.append((kind, entry))
    return sigs, excs


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_sets())
def test_random_sets(case: tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]) -> None:
    sigs, excs = case
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        files = []
        if sigs:
            p = tmp / "sigs.json"
            p.write_text(json.dumps({"Type": "user", "Signatures": sigs}))
            files.append(p)
        # one file per exception: the input order (and so sort ties) follows the drawn order
        for n, (kind, entry) in enumerate(excs):
            p = tmp / f"e{n:03d}.json"
            p.write_text(json.dumps({"Type": kind, "Exceptions": [entry]}))
            files.append(p)
        _roundtrip(files, 1, tmp)
