"""The golden compiler cases (../shared/golden), through the library: same bytes or a refusal."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from hvmiex.compiler import compile
from hvmiex.errors import InputError
from tests.conftest import SHARED, shared_path


def _cases() -> list[Path]:
    root = SHARED / "golden"
    if not root.exists():
        return []
    return sorted(c for d in ("compiler-cases", "compiler-edge-cases") for c in (root / d).iterdir()
                  if (c / "meta.json").exists())  # fmt: skip


@pytest.mark.parametrize("case", _cases(), ids=lambda p: p.name)
def test_golden_case(case: Path) -> None:
    meta = json.loads((case / "meta.json").read_text())
    order = [case / n for n in (case / "order.txt").read_text().split()]
    config = case / meta["config"] if meta.get("config") else shared_path("corpus", "config.json")
    if (case / "expected.bin").exists():
        assert compile(order, config, meta["build"]) == (case / "expected.bin").read_bytes()
    else:
        with pytest.raises(InputError) as info:
            compile(order, config, meta["build"])
        assert any(d.location is not None and d.location.path in map(str, order) for d in info.value.diagnostics)


def test_hvmi_corpus() -> None:
    corpus = shared_path("corpus")
    order = [corpus / "hvmi-jsons" / n for n in (corpus / "order.txt").read_text().split()]
    data = compile(order, corpus / "config.json", 2002)
    assert data == shared_path("golden", "hvmi-corpus-build2002.bin").read_bytes()
    # a folder argument gives the same order (signature files first, each part sorted)
    assert hashlib.sha256(compile([corpus / "hvmi-jsons"], corpus / "config.json")).hexdigest() == (
        "37f11408141057b4380e9a99c5ecafdda9f58f5056fe2a51658081c9f5183900")


def test_check_compiler_tool() -> None:
    import subprocess
    import sys

    tool = shared_path("tools", "check-compiler")
    exe = Path(sys.executable).with_name("hvmiex")
    if not exe.exists():
        pytest.skip("hvmiex console script not installed next to the interpreter")
    r = subprocess.run([sys.executable, str(tool), "--cmd", f"{exe} build"], capture_output=True, text=True,
                       timeout=600)  # fmt: skip
    assert r.stdout.strip().splitlines()[-1] == "48 passed, 0 failed", r.stdout
