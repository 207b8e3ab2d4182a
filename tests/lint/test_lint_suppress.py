"""Suppression by comment (record line or the line before) and by the "hvmiex-disable" field; --select/--ignore."""

from __future__ import annotations

import json
from pathlib import Path

from hvmiex.errors import Diagnostic, SourceLocation
from hvmiex.lint import lint_paths
from hvmiex.lint.framework import Selection, Suppressions, comment_disables, field_disables, parse_codes

DUP = {"originator": "explorer.exe", "victim": "notepad.exe", "object_type": "process"}


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "e.json"
    path.write_text(text)
    return str(path)


def _codes(path: str, **kw: object) -> list[str]:
    return [d.code for d in lint_paths([path], **kw).diagnostics]  # type: ignore[arg-type]


def test_comment_on_the_line_before(tmp_path: Path) -> None:
    text = (
        '{"Type": "user", "Exceptions": [\n'
        f"  {json.dumps(DUP)},\n"
        "  // hvmiex: disable=HX201\n"
        f"  {json.dumps(DUP)}\n"
        "]}\n"
    )
    path = _write(tmp_path, text)
    result = lint_paths([path])
    assert [d.code for d in result.diagnostics] == []
    assert result.suppressed == 1


def test_comment_on_the_record_line(tmp_path: Path) -> None:
    text = (
        '{"Type": "user", "Exceptions": [\n'
        f"  {json.dumps(DUP)},\n"
        f"  {json.dumps(DUP)} // hvmiex: disable=HX999, HX201\n"
        "]}\n"
    )
    assert _codes(_write(tmp_path, text)) == []


def test_comment_for_another_code_does_not_suppress(tmp_path: Path) -> None:
    text = (
        '{"Type": "user", "Exceptions": [\n'
        f"  {json.dumps(DUP)},\n"
        "  // hvmiex: disable=HX202\n"
        f"  {json.dumps(DUP)}\n"
        "]}\n"
    )
    assert _codes(_write(tmp_path, text)) == ["HX201"]


def test_comment_two_lines_above_does_not_suppress(tmp_path: Path) -> None:
    text = (
        '{"Type": "user", "Exceptions": [\n'
        f"  {json.dumps(DUP)},\n"
        "  // hvmiex: disable=HX201\n"
        "\n"
        f"  {json.dumps(DUP)}\n"
        "]}\n"
    )
    assert _codes(_write(tmp_path, text)) == ["HX201"]


def test_field_suppression_is_accepted_by_the_reader(tmp_path: Path) -> None:
    second = dict(DUP, **{"hvmiex-disable": ["HX201"]})
    doc = {"Type": "user", "Exceptions": [DUP, second]}
    path = _write(tmp_path, json.dumps(doc, indent=2))
    result = lint_paths([path])
    # the key does not change the record: still a duplicate, but suppressed
    assert [d.code for d in result.diagnostics] == []
    assert result.suppressed == 1


def test_select_and_ignore(tmp_path: Path) -> None:
    doc = {"Type": "user", "Exceptions": [DUP, DUP, dict(DUP, originator="*", victim="*")]}
    path = _write(tmp_path, json.dumps(doc, indent=2))
    # the '*' -> '*' one is over-broad and, being in the generic list, shadows the named ones
    assert sorted(set(_codes(path))) == ["HX201", "HX202", "HX203"]
    assert set(_codes(path, select=["HX2"], ignore=["HX203", "HX202"])) == {"HX201"}
    assert set(_codes(path, select=["HX203"])) == {"HX203"}
    assert _codes(path, ignore=["HX"]) == []


def test_helpers() -> None:
    assert comment_disables("a\n  // hvmiex: disable=HX101,hx202\n") == {2: frozenset({"HX101", "HX202"})}
    assert comment_disables('"x": 1 // just a comment') == {}
    assert field_disables({"hvmiex-disable": "HX101"}) == frozenset({"HX101"})
    assert field_disables({"hvmiex-disable": 5}) == frozenset()
    assert parse_codes(["hx1, HX202", ""]) == ("HX1", "HX202")
    assert Selection(("HX1",), ("HX102",)).wants("HX101")
    assert not Selection(("HX1",), ("HX102",)).wants("HX102")
    sup = Suppressions()
    sup.add_file("f.json", "x\n// hvmiex: disable=all\n")
    assert sup.suppressed(Diagnostic("HX204", "m", location=SourceLocation("f.json", 3, 1)))
    assert not sup.suppressed(Diagnostic("HX204", "m", location=SourceLocation("g.json", 3, 1)))
    assert not sup.suppressed(Diagnostic("HX204", "m"))


def test_comment_before_a_refused_record_covers_its_field_findings(tmp_path: Path) -> None:
    # HX405 comes from the reader, located at the 'flags' field: the record-level comment still applies
    text = (
        '{"Type": "user", "Exceptions": [\n'
        "  // hvmiex: disable=HX405\n"
        "  {\n"
        '    "originator": "a.exe", "victim": "b.exe", "object_type": "process",\n'
        '    "flags": "smep"\n'
        "  }\n"
        "]}\n"
    )
    path = _write(tmp_path, text)
    result = lint_paths([path])
    assert "HX405" not in [d.code for d in result.diagnostics]
    assert result.suppressed == 1


def test_field_suppression_covers_field_findings(tmp_path: Path) -> None:
    doc = {"Type": "user", "Exceptions": [dict(DUP, flags="smep", **{"hvmiex-disable": ["HX405"]})]}
    path = _write(tmp_path, json.dumps(doc, indent=2))
    assert "HX405" not in _codes(path)
