"""Reading a large exceptions.bin: check, parse, inspect (JSON) and decompile timings.

    .venv/bin/python benchmarks/bench_read.py [COUNT]   (default 1_000_000 exceptions)

The file is built directly from the model (names from the bundled dictionary, so name resolution
does real work), sorted as the compiler sorts, with one signature per 100 exceptions. Prints one line
per step and the totals for `hvmiex inspect --format json` and `hvmiex decompile --no-verify`
(target: each under 10 s for 1M exceptions).
"""

from __future__ import annotations

import gc
import io
import random
import sys
import tempfile
import time
from pathlib import Path

from hvmiex.binfile.inspect import inspect_json, inspect_parsed
from hvmiex.binfile.reader import parse_exceptions_bin, simulate_both
from hvmiex.binfile.writer import write_bytes
from hvmiex.crc32 import hash_narrow, hash_wide
from hvmiex.model import (
    CodeBlocksSignature,
    ExceptionSet,
    FlagSet,
    GlobException,
    IdtSignature,
    KernelException,
    KernelUserException,
    Name,
    SignatureRef,
    UserApcException,
    UserException,
)
from hvmiex.namedb import NameResolver, builtin_names
from hvmiex.source.writer import decompile, write_documents


def build_model(count: int, seed: int = 1) -> ExceptionSet:
    rnd = random.Random(seed)
    names = [n for n in builtin_names() if n.endswith((".exe", ".dll", ".sys"))]
    exes = [n for n in names if n.endswith(".exe")]
    n_sigs = max(1, count // 100)
    sigs = []
    for i in range(1, n_sigs + 1):
        if i % 2:
            sigs.append(IdtSignature((300 << 22) + i, FlagSet(3), i % 256))
        else:
            sigs.append(CodeBlocksSignature((600 << 22) + i, FlagSet(3), 1, (tuple(sorted(rnd.sample(range(1 << 30), 4))),)))
    ids = [s.id for s in sigs]
    km, um, kum, globs = [], [], [], []
    w = FlagSet(0x20000006)
    for i in range(count):
        refs = (SignatureRef(ids[i % n_sigs]),) if i % 4 == 0 else ()
        k = i % 10
        if k < 3:
            km.append(KernelException(Name.verbatim(hash_wide(rnd.choice(names))), Name.verbatim(hash_wide(rnd.choice(names))),
                                      w, 2, refs))  # fmt: skip
        elif k < 8:
            cls = UserApcException if k == 7 else UserException
            um.append(cls(Name.verbatim(hash_narrow(rnd.choice(exes)[:14])), Name.verbatim(hash_narrow(rnd.choice(exes)[:14])),
                          Name.verbatim(0), w, 2, refs))  # fmt: skip
        elif k == 8:
            kum.append(KernelUserException(Name.verbatim(hash_wide(rnd.choice(names))), Name.verbatim(hash_wide(rnd.choice(names))),
                                           Name.verbatim(0), w, 2, refs))  # fmt: skip
        else:
            globs.append(GlobException(f"{rnd.choice(exes)[:5]}*.exe", "*", "*", w, 2, refs))
    km.sort(key=lambda e: e.sort_key())
    um.sort(key=lambda e: e.sort_key())
    kum.sort(key=lambda e: e.sort_key())
    globs.sort(key=lambda e: e.sort_key())
    return ExceptionSet((*km, *um, *kum, *globs, *sigs), build=1)


def timed(label: str, fn):  # type: ignore[no-untyped-def]
    """Wall and CPU time of one step; the totals use CPU time (the machine may be shared)."""
    start, cpu = time.perf_counter(), time.process_time()
    value = fn()
    elapsed, used = time.perf_counter() - start, time.process_time() - cpu
    sys.stdout.write(f"{label:<38} {elapsed:7.2f} s wall {used:7.2f} s cpu\n")
    return value, used


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    data, _ = timed(f"build and write ({count} exceptions)", lambda: write_bytes(build_model(count)))
    sys.stdout.write(f"file size {len(data) / 1e6:.1f} MB\n")
    gc.collect()  # start from the bytes only, as the CLI does
    _, t_check = timed("check (Introcore's rules, both guests)", lambda: simulate_both(data))
    parsed, t_parse = timed("parse into the model", lambda: parse_exceptions_bin(data))
    resolver, t_res = timed("name dictionary", NameResolver)
    _, t_inspect = timed("inspect --format json (decode, names, text)", lambda: inspect_json(parsed, resolver=resolver))
    _, t_text = timed("inspect text view (first 200 rows a table)",
                      lambda: inspect_parsed(parsed, resolver=resolver, limit=200))  # fmt: skip
    result, t_dec = timed("decompile (model -> JSON documents)", lambda: decompile(parsed.model, resolver=resolver))
    with tempfile.TemporaryDirectory() as tmp:
        _, t_write = timed("write JSON files", lambda: write_documents(Path(tmp), result.documents))
    out = io.StringIO()
    out.write("\n(totals in CPU seconds)")
    out.write(f"\ninspect --format json total: {t_check + t_parse + t_res + t_inspect:6.2f} s\n")
    out.write(f"inspect (text) total:        {t_check + t_parse + t_res + t_text:6.2f} s\n")
    out.write(f"decompile --no-verify total: {t_parse + t_res + t_dec + t_write:6.2f} s\n")
    sys.stdout.write(out.getvalue())


if __name__ == "__main__":
    main()
