"""hvmiex.replay over our own fixtures: violation JSON, rendered logs (plain and gzip), alert files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hvmiex.namedb import NameResolver
from hvmiex.replay import (
    GuestFacts,
    InputKind,
    Replayer,
    ReplayError,
    detect_input,
    replay,
)
from tests.replay.replay_fixtures import EXPECTED, SOURCES, VIOLATIONS, violations, write_log

WIN10 = GuestFacts(os_version=19041)


def _labels(result: object) -> dict[int, str]:
    return {k: v.label for k, v in result.exception_index().items()}  # type: ignore[attr-defined]


def test_violation_json_verdicts(bin_path: Path) -> None:
    result = replay(bin_path, [VIOLATIONS])
    labels = _labels(result)
    assert [i.reason for i in result.items] == [r for _, r, _ in EXPECTED]
    for item, (_, _, exc) in zip(result.items, EXPECTED, strict=True):
        assert (labels[item.exception] if item.exception is not None else None) == exc
        assert item.allowed == (exc is not None)
        assert item.logged_action is None and item.changed is None
        assert item.input is InputKind.VIOLATIONS
    first = result.items[0]
    assert (first.process, first.originator, first.victim, first.kind) == ("app.exe", "hooker.dll", "ntdll.dll", "um")
    assert (first.object_type, first.access) == ("um-module", "write")
    assert result.items[1].explanation


def test_summary_and_coverage(bin_path: Path) -> None:
    result = replay(bin_path, [VIOLATIONS, VIOLATIONS])
    s = result.summary
    assert (s.total, s.allowed, s.blocked, s.changed) == (12, 6, 6, 0)
    assert dict(s.blocked_by_reason) == {"no-exception": 6}
    assert dict(s.by_reason) == {"allowed": 6, "no-exception": 6}
    assert dict(s.by_kind) == {"um": 6, "km": 6}
    assert dict(s.top_originators) == {"evil.dll": 2, "rogue.sys": 2, "hooker.dll": 2}
    assert dict(s.top_processes)["other.exe"] == 2
    labels = _labels(result)
    assert {labels[i]: c for i, c in s.allowed_by_exception} == {
        "user hooker.dll/ntdll.dll/app.exe module": 2,
        "kernel fixer.sys/bar.sys driver code": 2,
        "kernel versioned.sys/bar.sys driver code": 2,
    }
    assert len(result.coverage) == 5  # every exception record, signatures left out
    assert sorted(c.exception.label for c in result.fired) == sorted(labels[i] for i, _ in s.allowed_by_exception)
    never = [c.exception for c in result.never_fired]
    assert len(never) == 2
    assert {n.kind for n in never} == {"kernel", "user"}
    assert all(c.hits == 2 and c.first for c in result.fired)
    assert [i.number for i in result.items] == list(range(1, 13))
    assert result.inputs[0].violations == 6 and result.inputs[0].input is InputKind.VIOLATIONS


def test_names_resolve_never_fired_exceptions(bin_path: Path) -> None:
    plain = replay(bin_path, [VIOLATIONS], resolver=NameResolver(builtin=False))
    assert any(c.exception.originator.startswith("0x") for c in plain.never_fired)
    named = replay(bin_path, [VIOLATIONS], resolver=NameResolver.from_paths(SOURCES, builtin=False))
    assert sorted(c.exception.originator for c in named.never_fired) == ["never.dll", "unused.sys"]
    user = next(c.exception for c in named.never_fired if c.exception.kind == "user")
    assert (user.victim, user.process, user.object_type, user.flags) == ("kernel32.dll", "*", "module", "64 write")


@pytest.mark.parametrize("suffix", [".log", ".log.gz"])
def test_log_replay_compares_with_logged_verdict(bin_path: Path, tmp_path: Path, suffix: str) -> None:
    log = write_log(tmp_path / f"guest{suffix}")
    assert detect_input(log) is InputKind.LOG
    result = replay(bin_path, [log], environment=WIN10)
    assert [i.reason for i in result.items] == [r for _, r, _ in EXPECTED]
    assert all(i.input is InputKind.LOG for i in result.items)
    assert all(i.logged_action == "not-allowed" and i.logged_reason == "no-exception" for i in result.items)
    assert [i.changed for i in result.items] == [r == "allowed" for _, r, _ in EXPECTED]
    assert result.summary.changed == 3
    lines = [i.line or 0 for i in result.items]
    assert lines[0] == 1 and lines == sorted(lines) and len(set(lines)) == len(lines)
    assert all(i.source == str(log) and i.guest for i in result.items)
    assert result.inputs[0].bytes == log.stat().st_size


def test_log_without_os_version_needs_guest_facts(bin_path: Path, tmp_path: Path) -> None:
    log = write_log(tmp_path / "guest.log")
    unknown = replay(bin_path, [log]).items[5]
    assert not unknown.allowed  # the log does not print the Windows build: the version-os signature cannot pass
    assert replay(bin_path, [log], environment=WIN10).items[5].allowed
    old = replay(bin_path, [log], environment=GuestFacts(os_version=7601)).items[5]
    assert old.reason == "version-os-not-matched"


def test_feedback_block_is_logged_as_allowed(bin_path: Path, tmp_path: Path) -> None:
    log = write_log(tmp_path / "feedback.log", violations()[:2], reason=None)
    items = replay(bin_path, [log]).items
    assert [(i.logged_action, i.logged_reason) for i in items] == [("allowed", "allowed-feedback")] * 2
    assert [i.changed for i in items] == [True, True]  # now allowed by an exception / blocked outright


def test_unparseable_text_is_not_fatal(bin_path: Path, tmp_path: Path) -> None:
    log = tmp_path / "noise.log"
    log.write_text("hello\nthis is not an introcore log\n[xx] foo.c : 12 something\n", encoding="utf-8")
    result = replay(bin_path, [log])
    assert result.summary.total == 0 and result.inputs[0].violations == 0


def test_max_items_keeps_counting(bin_path: Path) -> None:
    result = replay(bin_path, [VIOLATIONS, VIOLATIONS], max_items=4)
    assert len(result.items) == 4 and result.items_dropped == 8
    assert result.summary.total == 12
    assert any("not listed" in n for n in result.notes)


def test_stopping_early_keeps_what_was_done(bin_path: Path) -> None:
    replayer = Replayer(bin_path)
    for n, _ in enumerate(replayer.replay_path(VIOLATIONS), 1):
        if n == 2:
            break
    result = replayer.result(interrupted=True)
    assert result.interrupted
    assert result.summary.total == 2 and len(result.items) == 2
    assert [i.path for i in result.inputs] == [str(VIOLATIONS)]


def test_replay_violations_in_memory(bin_path: Path) -> None:
    replayer = Replayer(bin_path.read_bytes())
    items = list(replayer.replay_violations(violations(), "mem"))
    assert [i.reason for i in items] == [r for _, r, _ in EXPECTED]
    assert replayer.result().exceptions_path == "<bytes>"


def test_refused_bin(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"not an exceptions file at all, sorry" * 4)
    with pytest.raises(ReplayError) as info:
        Replayer(bad)
    assert "refuses" in info.value.message and info.value.diagnostics


def test_detect_input(tmp_path: Path) -> None:
    alerts = tmp_path / "blobs.txt"
    alerts.write_text("# two blobs\nAAAAAAIAAAAIAAAAAAABAAAAAQAAAAEAAAAB\n\nAAAAAAIAAAAIAAAAAAABAAAAAQAAAAEAAAAB\n")
    assert detect_input(alerts) is InputKind.ALERTS
    js = tmp_path / "v.txt"
    js.write_text(json.dumps([{"kind": "km"}]))
    assert detect_input(js) is InputKind.VIOLATIONS
    assert detect_input(VIOLATIONS) is InputKind.VIOLATIONS
    log = tmp_path / "x.txt"
    log.write_text("[0c1f7a2e-5b7d-4e0a-9d3c-6a1b2c3d4e5f] exceptions.c : 1 hello\n")
    assert detect_input(log) is InputKind.LOG
    assert detect_input("-") is InputKind.LOG


def test_bad_alert_blob_is_a_problem_not_a_failure(bin_path: Path, tmp_path: Path) -> None:
    alerts = tmp_path / "blobs.txt"
    alerts.write_text("AAAAAAIAAAAIAAAAAAABAAAAAQAAAAEAAAAB\n")
    result = replay(bin_path, [alerts])
    assert result.summary.total == 0
    assert len(result.problems) == 1 and "alert not decoded" in result.problems[0].message
    assert result.problems[0].line == 1 and result.inputs[0].problems == 1


def test_sources_do_not_break_replay(bin_path: Path) -> None:
    result = replay(bin_path, [VIOLATIONS], sources=SOURCES)
    assert result.summary.total == 6
    # file:line appears once the compiler keeps record locations; until then a note says so
    assert all(c.exception.source for c in result.coverage) or any("sources" in n for n in result.notes)


def test_access_bits_follow_the_violation_model() -> None:
    from hvmiex.replay import _ACCESS_BITS, _access
    from hvmiex.violation import ZoneFlags

    assert dict(_ACCESS_BITS) == {
        int(ZoneFlags.WRITE): "write", int(ZoneFlags.READ): "read", int(ZoneFlags.EXECUTE): "execute",
        int(ZoneFlags.INTEGRITY): "integrity",
    }  # fmt: skip
    assert _access(int(ZoneFlags.READ | ZoneFlags.WRITE)) == "write+read" and _access(0) == "-"


def test_truncated_gzip_keeps_what_was_read(bin_path: Path, tmp_path: Path) -> None:
    full = write_log(tmp_path / "full.log.gz", violations() * 40)
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size * 2 // 3])
    result = replay(bin_path, [cut, VIOLATIONS])
    assert 0 < result.inputs[0].violations < 240
    assert any("ends early" in p.message for p in result.problems)
    assert result.inputs[1].violations == 6  # the next input is still replayed


def test_beta_block_is_still_a_detection(bin_path: Path, tmp_path: Path) -> None:
    from hvmiex.logs.render import RenderOptions, render_log

    log = tmp_path / "beta.log"
    log.write_text("\n".join(render_log(violations()[:2], RenderOptions(reason="no-exception", beta=True))) + "\n")
    items = replay(bin_path, [log]).items
    assert [(i.logged_action, i.logged_reason, i.logged_beta) for i in items] == [
        ("not-allowed", "no-exception", True)
    ] * 2
    assert [i.changed for i in items] == [True, False]


def test_one_engine_per_guest(bin_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hvmiex.replay as replay_module
    from hvmiex.logs.render import RenderOptions, render_log

    log = tmp_path / "fleet.log"
    lines: list[str] = []
    guests = [f"0c1f7a2e-5b7d-4e0a-9d3c-6a1b2c3d4e{n:02x}" for n in range(3)]
    for guest in guests * 2:
        lines.extend(render_log(violations()[:3], RenderOptions(guest=guest)))
    log.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(replay_module, "MAX_ENGINES", 2)  # forces evictions: verdicts must not change
    replayer = Replayer(bin_path)
    items = list(replayer.replay_path(log))
    items.sort(key=lambda i: i.line or 0)  # blocks of interleaved guests may come out of line order
    assert [i.guest for i in items] == [g for g in guests * 2 for _ in range(3)]
    assert [i.reason for i in items] == ["allowed", "no-exception", "allowed"] * 6
    assert len(replayer._engines) == 2
