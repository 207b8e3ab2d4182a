"""Property tests: group expansion equals writing the members by hand; compiling is deterministic."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hvmiex.compiler import compile
from hvmiex.config import config_from_dict, stock_config_path

STOCK = json.loads(stock_config_path().read_text())
word = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
KINDS = {
    "kernel": ("driver", ("originator", "victim")),
    "user": ("module", ("originator", "victim", "process")),
    "user-apc": ("module", ("originator", "victim", "process")),
    "kernel-user": ("module", ("originator", "victim", "process")),
    "user-glob-match": ("module", ("originator", "victim", "process")),
}
FLAGS = {
    "kernel": st.sampled_from([None, "return", "non-driver", "read 64", "linux", "integrity"]),
    "user": st.sampled_from([None, "return", "linux", "module-load", "child 32", "exec"]),
    "user-apc": st.sampled_from([None, "linux", "read", "one-time"]),
    "kernel-user": st.sampled_from([None, "user", "kernel", "return", "linux"]),
    "user-glob-match": st.sampled_from([None, "read", "child"]),
}


def _compile(entries: list[dict[str, Any]], kind: str, groups: dict[str, list[str]]) -> bytes:
    cfg = dict(STOCK)
    cfg["Groups"] = {**STOCK["Groups"], **groups}
    with tempfile.TemporaryDirectory() as td:
        p = Path(td) / "e.json"
        p.write_text(json.dumps({"Type": kind, "Exceptions": entries}))
        return compile([p], config_from_dict(cfg))


@st.composite
def case(draw: st.DrawFn) -> tuple[str, dict[str, Any], str, list[str]]:
    kind = draw(st.sampled_from(sorted(KINDS)))
    otype, fields = KINDS[kind]
    glob = kind == "user-glob-match"
    name = word.map(lambda w: w + "*") if glob else word.map(lambda w: w + ".exe")
    entry: dict[str, Any] = {"object_type": otype, **{f: draw(name) for f in fields}}
    flags = draw(FLAGS[kind])
    if flags is not None:
        entry["flags"] = flags
    field = draw(st.sampled_from(fields))
    members = draw(st.lists(name, min_size=1, max_size=4))
    return kind, entry, field, members


@settings(max_examples=60, deadline=None)
@given(case())
def test_group_expansion_equals_members_by_hand(c: tuple[str, dict[str, Any], str, list[str]]) -> None:
    kind, entry, field, members = c
    grouped = {**entry, field: "[grp]"}
    by_hand = [{**entry, field: m} for m in members]
    assert _compile([grouped], kind, {"[grp]": members}) == _compile(by_hand, kind, {"[grp]": members})


@settings(max_examples=30, deadline=None)
@given(st.lists(case(), min_size=1, max_size=5))
def test_compile_twice_identical(cases: list[tuple[str, dict[str, Any], str, list[str]]]) -> None:
    with tempfile.TemporaryDirectory() as td:
        files = []
        for i, (kind, entry, _f, _m) in enumerate(cases):
            p = Path(td) / f"{i}.json"
            p.write_text(json.dumps({"Type": kind, "Exceptions": [entry]}))
            files.append(p)
        assert compile(files) == compile(files)
