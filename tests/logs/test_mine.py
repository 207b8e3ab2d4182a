"""`log propose`: proposals compile with `hvmiex build` and allow what they came from; jobs and Dask agree."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest

from hvmiex.compiler import compile_set
from hvmiex.engine import Engine
from hvmiex.logs.mine import merge_results, mine_file, mine_paths, result_documents
from hvmiex.logs.parse import LogViolation, parse_log
from hvmiex.logs.render import RenderOptions, render_violation, sample_violation
from hvmiex.violation import Environment, GuestOS
from tests.conftest import shared_path


def _write_logs(tmp_path: Path, count: int, per_file: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    paths = []
    for i in range(count):
        lines: list[str] = []
        for _ in range(per_file):
            v, opts, dump = sample_violation(rng, rng.random() < 0.8)
            lines += render_violation(v, RenderOptions(guest=f"guest-{i % 2}", reason=opts.reason), dump)
        path = tmp_path / f"log{i}.log"
        path.write_text("\n".join(lines) + "\n")
        paths.append(str(path))
    return paths


def _compile(tmp_path: Path, documents: list[tuple[str, str]]) -> bytes:
    out = tmp_path / "json"
    out.mkdir(exist_ok=True)
    for name, text in documents:
        (out / name).write_text(text)
    return compile_set([str(out)]).data


def _allowed(data: bytes, lvs: list[LogViolation], strip_memory: bool) -> list[str]:
    engines = {os: Engine(os) for os in GuestOS}
    for engine in engines.values():
        engine.update_exceptions(data)
    refused = []
    for lv in lvs:
        v = lv.violation
        if strip_memory:  # synthetic code bytes do not produce the dumped hashes: use the dumped hashes
            v = replace(v, env=Environment(v.env.os, v.env.guest_64))
        verdict = engines[v.env.os].decide(v)
        if not verdict.allowed:
            refused.append(f"{lv.source}:{lv.first_line} {verdict.reason.name}")
    return refused


def test_oracle_logs_proposals_compile_and_allow(tmp_path: Path) -> None:
    root = shared_path("oracle", "logs-real")
    paths = sorted(str(p) for p in root.glob("*/*.log"))
    result = mine_paths(paths)
    assert result.violations == 32 and not result.skipped
    documents = result_documents(result)
    assert documents[0][0] == "log-00-signatures.json"
    assert all("// 1 violation; first: " in text for name, text in documents if "signatures" not in name)
    data = _compile(tmp_path, documents)
    lvs = [x for p in paths for x in parse_log(p) if isinstance(x, LogViolation)]
    # Linux IDTR/GDTR blocks carry no victim line: the proposal can only guess the register (spec 04 §5.3)
    refused = [r for r in _allowed(data, lvs, False) if "lix_km_idtr" not in r]
    assert refused == []


def test_synthetic_proposals_dedup_and_allow(tmp_path: Path) -> None:
    paths = _write_logs(tmp_path, 2, 40, seed=11)
    lines = Path(paths[0]).read_text().splitlines()
    Path(paths[1]).write_text("\n".join(lines * 2) + "\n")  # the same violations again: merged, counted
    result = mine_paths(paths)
    assert result.violations == 120
    counted = sum(m.count for m in result.exceptions.values())
    assert counted + sum(result.unsupported.values()) == 120
    assert max(m.count for m in result.exceptions.values()) >= 3
    data = _compile(tmp_path, result_documents(result))
    lvs = [x for p in paths for x in parse_log(p) if isinstance(x, LogViolation)]
    assert _allowed(data, lvs, True) == []


def test_jobs_give_the_same_result_as_serial(tmp_path: Path) -> None:
    paths = _write_logs(tmp_path, 3, 15, seed=5)
    serial = result_documents(mine_paths(paths, jobs=1))
    parallel = result_documents(mine_paths(paths, jobs=2))
    assert serial == parallel
    assert result_documents(merge_results([mine_file(p, i) for i, p in enumerate(paths)])) == serial


def test_dask_local_cluster_gives_the_same_result(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    from hvmiex.logs.mine import mine_dask

    paths = _write_logs(tmp_path, 3, 10, seed=9)
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        result = mine_dask(paths, client)
    assert result_documents(result) == result_documents(mine_paths(paths))


def test_interrupted_mining_keeps_what_was_done(tmp_path: Path) -> None:
    paths = _write_logs(tmp_path, 2, 5, seed=1)
    def stop(index: int, _n: int) -> None:
        if index == 1:  # Ctrl-C while the second log is read
            raise KeyboardInterrupt

    result = mine_paths(paths, progress=stop)
    assert result.interrupted and 5 <= result.violations <= 10  # the first log whole, the second so far
