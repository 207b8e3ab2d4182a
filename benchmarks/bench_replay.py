"""Replay throughput: a log rendered from the replay test fixtures, repeated, replayed against their .bin.

Usage: .venv/bin/python benchmarks/bench_replay.py [N_VIOLATIONS]   (prints violations/s and MB/s)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from tests.replay.replay_fixtures import build_bin, violations

    from hvmiex.logs.render import RenderOptions, render_log
    from hvmiex.replay import GuestFacts, Replayer
    from hvmiex.report import render_html, render_json

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    vs = violations()
    with tempfile.TemporaryDirectory() as tmp:
        bin_path = build_bin(Path(tmp))
        block = "\n".join(render_log(vs, RenderOptions(reason="no-exception"))) + "\n"
        log = Path(tmp) / "big.log"
        with log.open("w") as out:
            for _ in range(n // len(vs)):
                out.write(block)
        size = log.stat().st_size
        replayer = Replayer(bin_path, environment=GuestFacts(os_version=19041))
        start = time.perf_counter()
        count = sum(1 for _ in replayer.replay_path(log))
        elapsed = time.perf_counter() - start
        result = replayer.result()
        print(f"replayed {count} violations ({size / 1e6:.1f} MB) in {elapsed:.2f} s: "
              f"{count / elapsed:,.0f} violations/s, {size / 1e6 / elapsed:.1f} MB/s")
        start = time.perf_counter()
        html = render_html(result)
        text = render_json(result)
        print(f"reports: HTML {len(html) / 1e6:.1f} MB, JSON {len(text) / 1e6:.1f} MB in "
              f"{time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
