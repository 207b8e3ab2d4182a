"""One positive (bad/) and one negative (good/) fixture per check, under tests/data/lint/<CODE>/."""

from __future__ import annotations

from pathlib import Path

import pytest

from hvmiex.lint import ALL_CHECKS, CHECKS_BY_CODE, lint_paths
from tests.conftest import DATA

FIXTURES = DATA / "lint"
CODES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and p.name.startswith("HX"))


def codes_of(path: Path) -> set[str]:
    return {d.code for d in lint_paths([str(path)]).diagnostics}


def test_codes_are_unique_and_well_formed() -> None:
    codes = [c.code for c in ALL_CHECKS]
    assert len(codes) == len(set(codes))
    assert all(len(c) == 5 and c.startswith("HX") and c[2:].isdigit() for c in codes)
    assert set(CHECKS_BY_CODE) == set(codes)
    for cls in ALL_CHECKS:
        assert cls.title and cls.name


def test_every_check_has_fixtures() -> None:
    assert set(CODES) == {c.code for c in ALL_CHECKS} - {"HX413"}  # HX413 needs the same file twice


@pytest.mark.parametrize("code", CODES)
def test_bad_fixture_reports_the_code(code: str) -> None:
    assert code in codes_of(FIXTURES / code / "bad")


@pytest.mark.parametrize("code", CODES)
def test_good_fixture_is_clean(code: str) -> None:
    assert code not in codes_of(FIXTURES / code / "good")


def test_file_given_twice() -> None:
    one = FIXTURES / "HX201" / "good" / "e.json"
    result = lint_paths([str(one), str(one)])
    assert "HX413" in {d.code for d in result.diagnostics}
    assert "HX413" not in {d.code for d in lint_paths([str(one)]).diagnostics}


def test_findings_have_positions() -> None:
    result = lint_paths([str(FIXTURES / "HX202" / "bad")])
    (d,) = [d for d in result.diagnostics if d.code == "HX202"]
    assert d.location is not None and d.location.path.endswith("e.json")
    assert d.location.line is not None and d.location.col is not None
    assert d.subject == "user exception #1"


def test_unused_signature_kept_quirk_q1() -> None:
    # upstream quirk Q1: with a and b both unused, a is dropped and b (never examined) is kept
    result = lint_paths([str(FIXTURES / "HX102" / "bad")])
    by_code = {d.code: d for d in result.diagnostics}
    assert "'a'" in (by_code["HX101"].subject or "")
    assert "'b'" in (by_code["HX102"].subject or "")


def test_unreadable_input_is_reported_not_raised(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"Type": "user", "Exceptions": [ {,] }')
    result = lint_paths([str(bad)])
    assert [d.code for d in result.errors] == ["json-syntax"]


def test_every_check_is_documented() -> None:
    from tests.conftest import ROOT

    text = (ROOT / "docs" / "lint.md").read_text(encoding="utf-8")
    for cls in ALL_CHECKS:
        assert f"### {cls.code} `{cls.name}`" in text, cls.code
