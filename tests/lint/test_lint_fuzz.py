"""Lint never raises on arbitrary (valid or invalid) exception and signature objects."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hvmiex.lint import lint_paths
from hvmiex.lint.render import render_json, render_sarif, render_text

NAMES = st.sampled_from(["*", "-", "[own]", "[kernel]", "[hal]", "[python]", "[office apps]", "a.exe", "Chrome.exe",
                         "ntdll.dll", "*\\x41bc", "naïve.exe", "\\\\x*", "averyveryverylongprocessname.exe", "", "a//b"])
TYPES = st.sampled_from(["process", "module", "module imports", "nx_zone", "process-creation", "double-agent", "driver",
                         "drvobj", "cr4", "msr", "token-privs", "any", "none", "bogus"])
FLAGS = st.one_of(st.none(), st.sampled_from(["", "32", "64", "linux", "read", "write exec", "return", "non-driver",
                                              "integrity", "smep", "one-time", "child", "user", "kernel", "feedback",
                                              "ignore", "module-load", "32  64"]), st.integers())
SIG_NAMES = st.lists(st.sampled_from(["c", "e", "v", "i", "missing", 5]), max_size=3)


@st.composite
def exception(draw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, strat in (("originator", NAMES), ("victim", NAMES), ("process", NAMES), ("object_type", TYPES),
                       ("flags", FLAGS), ("signatures", SIG_NAMES)):
        if draw(st.booleans()):
            out[key] = draw(strat)
    return out


SIGS = [
    {"sig_type": "codeblocks", "sig_id": "c", "score": 3, "hashes": [["0x1", "0x2"]], "flags": "64"},
    {"sig_type": "export", "sig_id": "e", "library": "Kernel32.dll", "hashes": [{"name": "f", "delta": 1}]},
    {"sig_type": "value", "sig_id": "v", "score": 1, "hashes": [{"offset": 0, "size": 1, "hash": "0x1"}]},
    {"sig_type": "idt", "sig_id": "i", "entry": 3, "flags": "linux"},
]
KINDS = st.sampled_from(["kernel", "user", "user-apc", "user-glob-match", "kernel-user"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=KINDS, items=st.lists(st.one_of(exception(), st.integers(), st.none()), max_size=6))
def test_lint_never_raises(kind: str, items: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "s.json").write_text(json.dumps({"Type": "user", "Signatures": SIGS}))
        (d / "e.json").write_text(json.dumps({"Type": kind, "Exceptions": items}))
        result = lint_paths([str(d / "s.json"), str(d / "e.json")])
        render_text(result)
        json.loads(render_json(result))
        json.loads(render_sarif(result))
