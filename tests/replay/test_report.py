"""The report renderers over a ReplayResult built by hand (text, JSON, HTML) and over a real replay."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hvmiex.replay import (
    CoverageEntry,
    ExceptionRef,
    InputKind,
    InputSummary,
    Problem,
    ReplayItem,
    ReplayResult,
    Summary,
    replay,
)
from hvmiex.report import render_html, render_json, render_text
from tests.replay.replay_fixtures import VIOLATIONS

NASTY = "</script><b>x</b>&amp;"


def _item(number: int, allowed: bool, exception: int | None, process: str = "app.exe") -> ReplayItem:
    return ReplayItem(
        number, "guest.log", 10 * number, InputKind.LOG, "uuid-1", "windows", "um", process, "hook.dll",
        "ntdll.dll", "um-module", "write", "not-allowed", "no-exception",
        "allowed" if allowed else "not-allowed", "allowed" if allowed else "no-exception", allowed, exception,
        "matched on names and flags" if allowed else "no exception passed the name and flag checks",
    )  # fmt: skip


def hand_result() -> ReplayResult:
    refs = [
        ExceptionRef(0, "user", "hook.dll", "ntdll.dll", "app.exe", "module", "64 write", 0, False, "u.json:3"),
        ExceptionRef(1, "kernel", "old.sys", "*", None, "driver", "64 write", 1, False),
    ]
    items = (_item(1, True, 0), _item(2, False, None), _item(3, False, None, NASTY))
    summary = Summary(
        total=3, allowed=1, blocked=2, changed=1,
        by_reason=(("no-exception", 2), ("allowed", 1)), blocked_by_reason=(("no-exception", 2),),
        by_kind=(("um", 3),), top_processes=(("app.exe", 1), (NASTY, 1)), top_originators=(("hook.dll", 2),),
        allowed_by_exception=((0, 1),),
    )  # fmt: skip
    return ReplayResult(
        "exceptions.bin", 7, (InputSummary("guest.log", InputKind.LOG, 1234, 3, 1),), items, 0, summary,
        (CoverageEntry(refs[0], 1, "guest.log:10"), CoverageEntry(refs[1], 0, None)),
        (Problem("guest.log", 99, "malformed block skipped: victim line missing"),), False, 0.25,
    )  # fmt: skip


def test_text_report_sections() -> None:
    text = render_text(hand_result(), width=200)
    for needle in (
        "3 violations: 1 allowed, 2 blocked, 1 decided otherwise than logged",
        "blocked by reason", "top processes (blocked)", "top originators (blocked)", "allowed by exception",
        "exception coverage: 1 of 2 fired, 1 never did", "user hook.dll/ntdll.dll/app.exe module (u.json:3)",
        "never", "guest.log:10", "no-exception", "problems (1)", "victim line missing",
    ):  # fmt: skip
        assert needle in text, needle
    assert "violations (1 of 3 shown)" in render_text(hand_result(), rows=1)


def test_json_report_shape() -> None:
    data = json.loads(render_json(hand_result()))
    assert data["schema"] == "hvmiex-replay/1"
    assert data["summary"]["total"] == 3 and data["summary"]["blocked_by_reason"] == {"no-exception": 2}
    assert data["summary"]["allowed_by_exception"] == [{"exception": 0, "count": 1}]
    assert data["coverage"]["fired"] == 1 and data["coverage"]["never_fired"] == 1
    entry = data["coverage"]["entries"][0]
    assert entry["label"] == "user hook.dll/ntdll.dll/app.exe module" and entry["hits"] == 1
    row = data["violations"][0]
    assert row["logged"] == {"action": "not-allowed", "reason": "no-exception", "beta": False}
    assert (row["action"], row["reason"], row["exception"], row["changed"]) == ("allowed", "allowed", 0, True)
    assert set(row) >= {"source", "line", "kind", "process", "originator", "victim", "explanation"}
    assert data["problems"][0]["line"] == 99
    assert json.loads(render_json(hand_result(), rows=False))["violations"] == []


def _embedded(page: str) -> dict[str, object]:
    m = re.search(r'<script type="application/json" id="replay-data">(.*?)</script>', page, re.S)
    assert m is not None
    return json.loads(m.group(1))  # type: ignore[no-any-return]


def test_html_report_is_self_contained() -> None:
    result = hand_result()
    page = render_html(result)
    assert page.startswith("<!DOCTYPE html>")
    assert '<table id="violations">' in page and '<table id="coverage">' in page
    assert page.count("<svg") >= 4 and 'id="search"' in page
    assert _embedded(page) == json.loads(render_json(result))
    # no external resources: nothing loaded from a URL
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', page)
    assert "<link" not in page and "@import" not in page
    # user text is escaped in HTML and cannot close the data script
    assert NASTY not in page
    assert "&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;&amp;amp;" in page
    assert page.count("</script>") == 2


def _script(page: str) -> str:
    return str(re.findall(r"<script>(.*?)</script>", page, re.S)[0])


# A tiny DOM, enough to run the page's script under node and see the table it draws.
_DOM_SHIM = r"""
function El(tag){ this.tagName = tag; this.children = []; this.className = ''; this.style = {};
  this.listeners = {}; this._text = ''; }
El.prototype.appendChild = function(c){ if (c.frag) { this.children.push.apply(this.children, c.children); }
  else this.children.push(c); return c; };
El.prototype.addEventListener = function(n, f){ this.listeners[n] = f; };
El.prototype.getAttribute = function(){ return null; };
Object.defineProperty(El.prototype, 'textContent', {get: function(){ return this._text; },
  set: function(v){ this._text = String(v); if (v === '') this.children = []; }});
function table(n){ var t = new El('table'); var cells = []; for (var i = 0; i < n; i++) cells.push(new El('th'));
  t.tHead = {rows: [{cells: cells}]}; var body = new El('tbody'); body.rows = []; t.tBodies = [body]; return t; }
var els = {violations: table(10), coverage: null, search: new El('input'), which: new El('select'),
  more: new El('button'), count: new El('span'), 'replay-data': new El('script')};
els.search.value = ''; els.which.value = 'all';
els['replay-data']._text = DATA;
global.document = {getElementById: function(id){ return els[id]; },
  createElement: function(t){ return new El(t); },
  createDocumentFragment: function(){ var f = new El('frag'); f.frag = true; return f; }};
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_html_script_runs(tmp_path: Path) -> None:
    page = render_html(hand_result())
    data = json.dumps(json.dumps(_embedded(page)))
    program = (
        f"var DATA = {data};\n{_DOM_SHIM}\n{_script(page)}\n"
        "var body = els.violations.tBodies[0];\n"
        "console.log(JSON.stringify({rows: body.children.length, count: els.count.textContent,\n"
        "  first: body.children[0].children.map(function(c){ return c.textContent; })}));\n"
        "els.search.value = 'hook.dll ALLOWED'; els.search.listeners.input();\n"
        "console.log(JSON.stringify({rows: body.children.length}));\n"
        "els.which.value = 'blocked'; els.search.value = ''; els.which.listeners.change();\n"
        "console.log(JSON.stringify({rows: body.children.length}));\n"
        "els.violations.tHead.rows[0].cells[0].listeners.click();\n"
        "console.log(JSON.stringify({first: body.children[0].children[0].textContent}));\n"
    )
    script = tmp_path / "page.js"
    script.write_text(program)
    out = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=60, check=True).stdout
    lines = [json.loads(x) for x in out.splitlines()]
    assert lines[0]["rows"] == 3 and lines[0]["count"].startswith("3 of 3")
    assert lines[0]["first"][:3] == ["1", "guest.log:10", "um"]
    assert "#0 user hook.dll/ntdll.dll/app.exe module" in lines[0]["first"]
    assert lines[1]["rows"] == 1  # words are ANDed, case-insensitive
    assert lines[2]["rows"] == 2
    assert lines[3]["first"] == "3"  # already sorted by number: a click reverses


def test_reports_of_a_real_replay(bin_path: Path, tmp_path: Path) -> None:
    result = replay(bin_path, [VIOLATIONS])
    page = render_html(result)
    assert _embedded(page)["summary"] == result.summary.to_dict()
    assert "kernel fixer.sys/bar.sys driver code" in page
    assert "6 violations: 3 allowed, 3 blocked" in render_text(result)
    assert json.loads(render_json(result))["coverage"]["exceptions"] == 5


def test_html_row_cap() -> None:
    page = render_html(hand_result(), max_rows=2)
    assert len(_embedded(page)["violations"]) == 2  # type: ignore[arg-type]
    assert "1 further violations are counted above but not listed" in page


def test_html_is_well_formed() -> None:
    from html.parser import HTMLParser

    void = {"meta", "input", "br", "img", "rect", "circle", "link"}

    class Checker(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.stack: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag not in void:
                self.stack.append(tag)

        def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            pass

        def handle_endtag(self, tag: str) -> None:
            if tag in void:
                return
            assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
            self.stack.pop()

    checker = Checker()
    checker.feed(render_html(hand_result()))
    checker.close()
    assert checker.stack == []
