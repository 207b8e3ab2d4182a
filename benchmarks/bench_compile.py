"""Compile generated corpora of 16k, 100k and 1M exceptions; print time and peak memory per size.

Usage: python benchmarks/bench_compile.py [--no-cli] [SIZE ...]   (default: 16000 100000 1000000)

The corpus is written first (by this process); then a fresh process compiles it with
``compile_set(locations=False)`` (what ``hvmiex build`` does), so its heap and peak RSS are its own; then
``hvmiex build`` itself runs on the same files (start-up, compile, atomic write, exit). Targets: linear
growth, 16k < 0.5 s, 1M < 10 s and < 2 GB. "cpu" is the compiling process's CPU time
(time.process_time): on a shared machine it is the steadier figure; "seconds" is wall-clock time.
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


def _child(list_file: str) -> None:
    from hvmiex.compiler import compile_set

    files = Path(list_file).read_text().splitlines()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0, c0 = time.perf_counter(), time.process_time()
    result = compile_set(files, locations=False)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": elapsed, "cpu": cpu, "peak_mb": peak / 1024, "before_mb": before / 1024,
                      "bytes": len(result.data), "records": len(result.exception_set.records)}))


def _cli(files: list[str], out: Path) -> tuple[float, float]:
    """Wall seconds and peak MB of ``hvmiex build`` on ``files``."""
    exe = Path(sys.executable).with_name("hvmiex")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "hvmiex"]
    t0 = time.perf_counter()
    subprocess.run([*cmd, "build", "-o", str(out), *files], check=True, capture_output=True)
    wall = time.perf_counter() - t0
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        _child(sys.argv[2])
        return
    args = sys.argv[1:]
    cli = "--no-cli" not in args
    sizes = [int(x) for x in args if x != "--no-cli"] or [16_000, 100_000, 1_000_000]
    sys.path.insert(0, str(HERE))
    from corpus_gen import generate

    prev: tuple[int, float] | None = None
    print(f"{'exceptions':>10} {'seconds':>8} {'cpu':>8} {'us/exc':>7} {'peak MB':>8} {'ratio':>6} {'bytes':>11}"
          + (f" {'build s':>8} {'build MB':>8}" if cli else ""))  # fmt: skip
    for size in sizes:
        with tempfile.TemporaryDirectory() as td:
            files = [str(p) for p in generate(Path(td) / "corpus", size)]
            list_file = Path(td) / "files.txt"
            list_file.write_text("\n".join(files))
            out = subprocess.run([sys.executable, __file__, "--child", str(list_file)], capture_output=True, text=True,
                                 check=True)  # fmt: skip
            r = json.loads(out.stdout.strip().splitlines()[-1])
            extra = ""
            if cli:
                wall, mb = _cli(files, Path(td) / "exceptions.bin")
                extra = f" {wall:>8.3f} {mb:>8.0f}"
        ratio = ""
        if prev is not None:
            ratio = f"{(r['cpu'] / prev[1]) / (size / prev[0]):.2f}"
        print(f"{size:>10} {r['seconds']:>8.3f} {r['cpu']:>8.3f} {1e6 * r['cpu'] / size:>7.2f} {r['peak_mb']:>8.0f} "
              f"{ratio:>6} {r['bytes']:>11}{extra}", flush=True)  # fmt: skip
        prev = (size, r["cpu"])
    print("us/exc and ratio use CPU time; ratio = (time growth) / (size growth), 1.0 is linear;"
          + (" build = `hvmiex build` end to end (wall, peak RSS)" if cli else ""))  # fmt: skip


if __name__ == "__main__":
    main()
