"""Render → parse → the same violation (the fields a log carries), for oracle violations and generated ones."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hvmiex.logs.parse import LogViolation, parse_lines
from hvmiex.logs.render import RenderOptions, render_violation, sample_violation
from hvmiex.violation import Violation, violation_from_dict
from tests.conftest import SHARED, shared_path
from tests.logs.oracle_projection import project


def _clean(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _clean(v) for k, v in d.items() if k != "same_process_as_victim"}
    return d


def _oracle_violations() -> list[str]:
    out: list[str] = []
    for folder in ("oracle/engine/cases", "oracle/logs-real/engine", "oracle/logs-real/alerts-real"):
        root = SHARED / folder
        if root.exists():
            out += sorted(str(p.relative_to(SHARED)) for p in root.glob("*.json"))
    return out or ["<absent>"]


def _roundtrip(v: Violation, options: RenderOptions | None = None) -> LogViolation:
    lines = render_violation(v, options)
    items = list(parse_lines(lines, "rt.log"))
    assert len(items) == 1 and isinstance(items[0], LogViolation), (items, lines)
    return items[0]


@pytest.mark.parametrize("case", _oracle_violations())
def test_oracle_violation_roundtrip(case: str) -> None:
    data = json.loads(shared_path(*case.split("/")).read_text())
    for evaluation in data["evaluations"]:
        v = violation_from_dict(_clean(evaluation["violation"]), where=case)
        got = _roundtrip(v)
        assert project(got.violation) == project(v)


@pytest.mark.parametrize("reason", ["no-exception", "value-code-not-matched", "process-creation-not-matched", None])
def test_reason_and_beta_roundtrip(reason: str | None) -> None:
    v, _, dump = sample_violation(random.Random(1))
    lines = render_violation(v, RenderOptions(reason=reason, beta=True), dump)
    (lv,) = list(parse_lines(lines))
    assert isinstance(lv, LogViolation)
    assert lv.reason == (reason or "allowed-feedback")
    assert lv.beta == (reason is not None)


@settings(max_examples=120, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), guest_64=st.booleans(), uuid=st.booleans())
def test_generated_violation_roundtrip(seed: int, guest_64: bool, uuid: bool) -> None:
    v, opts, dump = sample_violation(random.Random(seed), guest_64)
    options = RenderOptions(guest="1234-abcd" if uuid else None, reason=opts.reason)
    lines = render_violation(v, options, dump)
    (lv,) = list(parse_lines(lines))
    assert isinstance(lv, LogViolation)
    assert project(lv.violation) == project(v)
    assert lv.violation.env.memory == v.env.memory
    if dump is not None:
        assert lv.codeblocks == dump.__class__(
            dump.marker, dump.rip, dump.hashes, dump.offsets, dump.pivots, dump.rip_index, lv.codeblocks.first_line,
            lv.codeblocks.last_line,
        )  # fmt: skip
