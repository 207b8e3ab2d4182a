"""Generator of large valid exception corpora for benchmarks (all five kinds, all eight signature kinds,
one signature per four exceptions). Deterministic for a given size and seed."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

SIG_KINDS = ("export", "value", "codeblocks", "value-code", "idt", "version-os", "version-intro", "process-creation")
KINDS = ("kernel", "user", "user-apc", "kernel-user", "user-glob-match")


def _signature(i: int, rnd: random.Random) -> dict[str, Any]:
    kind = SIG_KINDS[i % len(SIG_KINDS)]
    sid = f"sig-{i}"
    if kind == "export":
        return {"sig_type": kind, "sig_id": sid, "library": f"lib{i % 97}.dll",
                "hashes": [{"name": f"Func{i}", "delta": i % 64}, {"name": "*", "delta": 0}]}
    if kind == "value":
        return {"sig_type": kind, "sig_id": sid, "score": 1,
                "hashes": [{"offset": i % 512, "size": 16, "hash": f"0x{rnd.getrandbits(32):08x}"}]}
    if kind == "codeblocks":
        return {"sig_type": kind, "sig_id": sid, "score": 2,
                "hashes": [[f"0x{rnd.getrandbits(32):08x}" for _ in range(4)]]}
    if kind == "value-code":
        return {"sig_type": kind, "sig_id": sid, "offset": -(i % 100), "pattern": ["0x4c", "0x8b", "0x100"]}
    if kind == "idt":
        return {"sig_type": kind, "sig_id": sid, "entry": i % 256}
    if kind == "version-os":
        return {"sig_type": kind, "sig_id": sid, "minimum": "4.14.*", "maximum": "5.*.*", "flags": "linux"}
    if kind == "version-intro":
        return {"sig_type": kind, "sig_id": sid, "minimum": "1.2.*", "maximum": "2.*.*"}
    return {"sig_type": kind, "sig_id": sid, "create_mask": ["debug", "heap-spray"]}


def _exception(kind: str, i: int, sigs: list[str]) -> dict[str, Any]:
    if kind == "kernel":
        e: dict[str, Any] = {"originator": f"\\SystemRoot\\drivers\\drv{i}.sys", "victim": f"victim{i % 1000}.sys",
                             "object_type": "driver code", "flags": "read" if i % 3 else "return"}
    elif kind == "user":
        e = {"originator": f"proc{i}.exe", "victim": f"mod{i % 500}.dll", "process": f"host{i % 50}.exe",
             "object_type": "module"}
    elif kind == "user-apc":
        e = {"originator": f"apc{i}.exe", "victim": "*", "object_type": "apc-thread", "flags": "64 32"}
    elif kind == "kernel-user":
        e = {"originator": f"inj{i}.exe", "victim": "ntdll.dll", "process": f"t{i % 77}.exe",
             "object_type": "module", "flags": "32 64 user"}
    else:
        e = {"originator": f"g{i % 100000}*.exe", "victim": "*", "object_type": "process"}
    if sigs:
        e["signatures"] = sigs
    return e


def generate(directory: Path, count: int, seed: int = 1, per_file: int = 50_000) -> list[Path]:
    """Write a corpus of ``count`` exceptions (and count/4 signatures) into ``directory``; returns the file list
    in compile order (signature file first)."""
    rnd = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    nsig = max(1, count // 4)
    files: list[Path] = []
    sig_path = directory / "0-signatures.json"
    sig_path.write_text(json.dumps({"Type": "user", "Signatures": [_signature(i, rnd) for i in range(nsig)]}))
    files.append(sig_path)
    for start in range(0, count, per_file):
        stop = min(count, start + per_file)
        by_kind: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
        for i in range(start, stop):
            kind = KINDS[i % len(KINDS)]
            sigs = [f"sig-{i // 4}"] if i % 4 == 0 else []
            by_kind[kind].append(_exception(kind, i, sigs))
        for kind, items in by_kind.items():
            if items:
                p = directory / f"{start:08d}-{kind}.json"
                p.write_text(json.dumps({"Type": kind, "Exceptions": items}))
                files.append(p)
    return files
