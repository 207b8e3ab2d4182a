"""Signature usability (spec 03 §9.1–9.2) and score checks, beyond the one-per-check fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hvmiex.errors import Severity
from hvmiex.lint import lint_paths
from hvmiex.lint.framework import LintResult


def _lint(tmp_path: Path, kind: str, exc: dict[str, Any], *sigs: dict[str, Any], select: str) -> LintResult:
    (tmp_path / "s.json").write_text(json.dumps({"Type": "user", "Signatures": list(sigs)}, indent=2))
    (tmp_path / "e.json").write_text(json.dumps({"Type": kind, "Exceptions": [exc]}, indent=2))
    return lint_paths([str(tmp_path / "s.json"), str(tmp_path / "e.json")], select=[select])


UM = {"originator": "explorer.exe", "victim": "notepad.exe", "object_type": "process"}
KM = {"originator": "a.sys", "victim": "b.sys", "object_type": "driver"}


def cb(sid: str, flags: str | None = None, score: int = 1, lists: list[list[str]] | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"sig_type": "codeblocks", "sig_id": sid, "score": score, "hashes": lists or [["0x1", "0x2"]]}
    if flags is not None:
        d["flags"] = flags
    return d


def test_one_usable_signature_in_the_group_is_enough(tmp_path: Path) -> None:
    r = _lint(tmp_path, "user", dict(UM, flags="32", signatures=["a", "b"]), cb("a", "64"), cb("b", "32"), select="HX107")
    assert r.diagnostics == ()


def test_other_os_signature(tmp_path: Path) -> None:
    r = _lint(tmp_path, "user", dict(UM, signatures=["a"]), cb("a", "linux"), select="HX107")
    assert [d.code for d in r.diagnostics] == ["HX107"] and "other OS" in r.diagnostics[0].message


def test_medium_on_kernel_exception(tmp_path: Path) -> None:
    r = _lint(tmp_path, "kernel", dict(KM, signatures=["a"]), cb("a", "medium"), select="HX107")
    assert [d.code for d in r.diagnostics] == ["HX107"]
    r = _lint(tmp_path, "user", dict(UM, signatures=["a"]), cb("a", "medium"), select="HX107")
    assert r.diagnostics == ()


def test_export_on_kernel_exception_always_passes(tmp_path: Path) -> None:
    exp = {"sig_type": "export", "sig_id": "x", "library": "a.dll", "flags": "linux",
           "hashes": [{"name": "f", "delta": 0}]}  # fmt: skip
    assert _lint(tmp_path, "kernel", dict(KM, signatures=["x"]), exp, select="HX107").diagnostics == ()


def test_guest_only_kinds_and_wow64(tmp_path: Path) -> None:
    vos = {"sig_type": "version-os", "sig_id": "v", "minimum": "7600", "maximum": "*", "flags": "64"}
    # a '32' user exception also matches WoW64 processes on a 64-bit guest, where version-os needs '64'
    assert _lint(tmp_path, "user", dict(UM, flags="32", signatures=["v"]), vos, select="HX107").diagnostics == ()
    r = _lint(tmp_path, "kernel", dict(KM, flags="32", signatures=["v"]), vos, select="HX107")
    assert [d.code for d in r.diagnostics] == ["HX107"]


def test_codeblocks_score_partial_and_total(tmp_path: Path) -> None:
    sig = cb("a", score=2, lists=[["0x1"], ["0x1", "0x2"]])
    (d,) = _lint(tmp_path, "user", dict(UM, signatures=["a"]), sig, select="HX104").diagnostics
    assert d.severity is Severity.WARNING and "#0" in d.message
    sig = cb("a", score=3, lists=[["0x1"], ["0x1", "0x2"]])
    (d,) = _lint(tmp_path, "user", dict(UM, signatures=["a"]), sig, select="HX104").diagnostics
    assert d.severity is Severity.ERROR


def test_kind_mismatch_process_creation(tmp_path: Path) -> None:
    pc = {"sig_type": "process-creation", "sig_id": "p", "create_mask": ["debug"]}
    (d,) = _lint(tmp_path, "kernel", dict(KM, signatures=["p"]), pc, select="HX108").diagnostics
    assert d.severity is Severity.ERROR
    kum = {"originator": "a.exe", "victim": "ntdll.dll", "process": "*", "object_type": "module", "signatures": ["p"]}
    (d,) = _lint(tmp_path, "kernel-user", kum, pc, select="HX108").diagnostics
    assert d.severity is Severity.WARNING
    assert _lint(tmp_path, "user", dict(UM, signatures=["p"]), pc, select="HX108").diagnostics == ()


def test_verbatim_flags_without_access_or_architecture(tmp_path: Path) -> None:
    kum = {"originator": "a.exe", "victim": "ntdll.dll", "process": "*", "object_type": "module"}
    (tmp_path / "e.json").write_text(json.dumps({"Type": "kernel-user", "Exceptions": [
        dict(kum, flags={"raw": "0x00000006"}),  # 32 64, no access: Introcore adds none for kernel-user
        dict(kum, flags={"raw": "0x20000000"}),  # write, neither 32 nor 64
        dict(kum, flags={"raw": "0x20000006"}),
    ]}, indent=2))  # fmt: skip
    r = lint_paths([str(tmp_path / "e.json")], select=["HX301"])
    assert sorted(d.subject or "" for d in r.diagnostics) == ["kernel-user exception #0", "kernel-user exception #1"]
    (tmp_path / "e.json").write_text(json.dumps({"Type": "user", "Exceptions": [
        dict(UM, flags={"raw": "0x00000006"}),  # the loader adds 'write': fine for process
        {"originator": "a.exe", "object_type": "nx_zone", "flags": {"raw": "0x00000006"}},  # gets 'exec'
    ]}, indent=2))  # fmt: skip
    assert lint_paths([str(tmp_path / "e.json")], select=["HX301"]).diagnostics == ()


def test_value_score_cli_is_only_a_warning(tmp_path: Path) -> None:
    val = {"sig_type": "value", "sig_id": "v", "score": 2, "flags": "cli",
           "hashes": [{"offset": 0, "size": 4, "hash": "0x1234"}]}  # fmt: skip
    (d,) = _lint(tmp_path, "user", dict(UM, signatures=["v"]), val, select="HX105").diagnostics
    assert d.severity is Severity.WARNING
