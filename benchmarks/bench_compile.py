"""Compile generated corpora of 16k, 100k and 1M exceptions; print time and peak memory per size.

Usage: python benchmarks/bench_compile.py [SIZE ...]   (default: 16000 100000 1000000)
Each size runs in a fresh process so that peak RSS is that run's own. Targets: linear growth,
16k < 0.5 s, 1M < 10 s and < 2 GB. "cpu" is this process's CPU time (time.process_time): on a shared
machine it is the steadier figure; "seconds" is wall-clock time.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _child(size: int) -> None:
    sys.path.insert(0, str(HERE))
    from corpus_gen import generate

    from hvmiex.compiler import compile_set

    with tempfile.TemporaryDirectory() as td:
        files = generate(Path(td), size)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0, c0 = time.perf_counter(), time.process_time()
        result = compile_set(files, locations=False)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"size": size, "seconds": elapsed, "cpu": cpu, "peak_mb": peak / 1024, "before_mb": before / 1024,
                      "bytes": len(result.data), "records": len(result.exception_set.records)}))


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        _child(int(sys.argv[2]))
        return
    sizes = [int(x) for x in sys.argv[1:]] or [16_000, 100_000, 1_000_000]
    prev: tuple[int, float] | None = None
    print(f"{'exceptions':>10} {'seconds':>8} {'cpu':>8} {'us/exc':>7} {'peak MB':>8} {'ratio':>6} {'bytes':>11}")
    for size in sizes:
        out = subprocess.run([sys.executable, __file__, "--child", str(size)], capture_output=True, text=True,
                             check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        ratio = ""
        if prev is not None:
            ratio = f"{(r['cpu'] / prev[1]) / (size / prev[0]):.2f}"
        print(f"{size:>10} {r['seconds']:>8.3f} {r['cpu']:>8.3f} {1e6 * r['cpu'] / size:>7.2f} {r['peak_mb']:>8.0f} "
              f"{ratio:>6} {r['bytes']:>11}")
        prev = (size, r["cpu"])
    print("us/exc and ratio use CPU time; ratio = (time growth) / (size growth), 1.0 is linear")


if __name__ == "__main__":
    main()
