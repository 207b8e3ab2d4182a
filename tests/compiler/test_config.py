"""The bundled stock config equals spec 02 §5.1; bad configs are refused with the field named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hvmiex.config import config_from_dict, load_config, stock_config_path
from hvmiex.errors import InputError
from tests.conftest import SHARED


def test_stock_tables() -> None:
    c = load_config()
    assert (c.major, c.minor) == (2, 2)
    assert dict(c.predefined["kernel-mode"]) == {"*": 0, "[own]": 1, "[kernel]": 2, "[hal]": 3, "-": 4}
    assert dict(c.predefined["user-mode"]) == {"*": 0, "[own]": 1, "[vdso]": 2, "[vsyscall]": 3, "-": 4}
    assert dict(c.predefined["signature"]) == {"*": 0, "-": 4}
    assert dict(c.signature_types) == {"version-os": 50, "version-intro": 51, "process-creation": 70, "export": 100,
                                       "value": 200, "idt": 300, "value-code": 500, "codeblocks": 600}  # fmt: skip
    assert c.flags["common"]["ignore"] == 0x80000000 and c.flags["user-mode"]["module-load"] == 0x4000
    assert dict(c.flags["kernel-user-mode"]) == {"user": 0x8000, "kernel": 0x10000}
    assert c.flags["signatures"]["cli"] == 0x10000
    assert c.types["kernel-mode"]["interrupt-obj"] == 25 and c.types["user-mode"]["instrumentation-callback"] == 15
    assert dict(c.types["kernel-user-mode"]) == {"none": 0, "any": 1, "module": 2, "module imports": 3,
                                                 "module exports": 4}  # fmt: skip
    assert c.groups["[python]"] == ("python.exe", "python2.7.exe", "python3.2.exe")
    assert len(c.groups) == 10
    # the KUM table is the union user-mode, kernel-mode, kernel-user-mode (later wins), then common
    kum = c.flag_table("kernel-user-mode")
    assert kum["smep"] == 0x800 and kum["user"] == 0x8000 and kum["64"] == 4


def test_stock_equals_upstream_corpus_config() -> None:
    upstream = SHARED / "corpus" / "config.json"
    if not upstream.exists():
        pytest.skip("../shared is not available")
    a, b = load_config(), load_config(upstream)
    for attr in ("major", "minor", "signature_types", "process_creation_flags", "groups", "flags", "types"):
        assert getattr(a, attr) == getattr(b, attr), attr
    assert a.predefined["kernel-mode"] == b.predefined["kernel-mode"]


def test_bad_config(tmp_path: Path) -> None:
    data = json.loads(stock_config_path().read_text())
    data["Flags"]["common"]["write"] = 0x20000000  # must be a string
    del data["Types"]
    with pytest.raises(InputError) as info:
        config_from_dict(data, "cfg.json")
    text = str(info.value)
    assert "Flags.common" in text and "'Types'" in text
    bad = tmp_path / "c.json"
    bad.write_text("{")
    with pytest.raises(InputError, match="not valid JSON"):
        load_config(bad)
