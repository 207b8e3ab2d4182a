"""Shadowing follows Introcore's candidate order (spec 03 §6.3) and is conservative."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hvmiex.lint import lint_paths


def _shadowed(tmp_path: Path, kind: str, *items: dict[str, Any], sigs: list[dict[str, Any]] | None = None) -> list[int]:
    (tmp_path / "e.json").write_text(json.dumps({"Type": kind, "Exceptions": list(items)}, indent=2))
    paths = [str(tmp_path / "e.json")]
    if sigs:
        (tmp_path / "s.json").write_text(json.dumps({"Type": "user", "Signatures": sigs}, indent=2))
        paths.insert(0, str(tmp_path / "s.json"))
    result = lint_paths(paths, select=["HX202"])
    return sorted(int((d.subject or "#-1").split("#")[1].split()[0]) for d in result.diagnostics)


KM = {"originator": "a.sys", "victim": "b.sys", "object_type": "driver"}
UM = {"originator": "ntdll.dll", "victim": "kernel32.dll", "process": "chrome.exe", "object_type": "module"}


def test_generic_km_shadows_named(tmp_path: Path) -> None:
    assert _shadowed(tmp_path, "kernel", KM, dict(KM, originator="*")) == [0]


def test_generic_km_does_not_shadow_return(tmp_path: Path) -> None:
    # a 'return' exception matches through the return driver, even when the generic list is not scanned
    assert _shadowed(tmp_path, "kernel", dict(KM, flags="return"), dict(KM, originator="*")) == []


def test_narrower_access_or_arch_does_not_shadow(tmp_path: Path) -> None:
    assert _shadowed(tmp_path, "kernel", dict(KM, flags="read write"), dict(KM, originator="*")) == []
    assert _shadowed(tmp_path, "kernel", KM, dict(KM, originator="*", flags="64")) == []
    assert _shadowed(tmp_path, "kernel", dict(KM, flags="64"), dict(KM, originator="*")) == [0]


def test_any_type_and_star_victim_cover(tmp_path: Path) -> None:
    assert _shadowed(tmp_path, "kernel", KM, dict(KM, victim="*", object_type="any")) == [0]
    assert _shadowed(tmp_path, "kernel", KM, dict(KM, victim="c.sys", object_type="any")) == []


def test_cr4_smap_smep(tmp_path: Path) -> None:
    cr4 = {"originator": "a.sys", "object_type": "cr4"}
    assert _shadowed(tmp_path, "kernel", dict(cr4, flags="smap"), dict(cr4, originator="*", flags="smap smep")) == [0]
    assert _shadowed(tmp_path, "kernel", dict(cr4, flags="smap smep"), dict(cr4, originator="*", flags="smap")) == []


def test_feedback_named_is_shadowed_by_non_feedback(tmp_path: Path) -> None:
    assert _shadowed(tmp_path, "user", dict(UM, flags="feedback"), UM) == [0]
    # whatever the file order: feedback lists come last
    assert _shadowed(tmp_path, "user", UM, dict(UM, flags="feedback")) == [1]
    # a feedback exception does not hide a non-feedback one
    assert _shadowed(tmp_path, "user", dict(UM, flags="feedback", process="*"), UM) == []


def test_restricting_flags(tmp_path: Path) -> None:
    wide = dict(UM, process="*")
    assert _shadowed(tmp_path, "user", UM, dict(wide, flags="one-time")) == []
    assert _shadowed(tmp_path, "user", UM, dict(wide, flags="child")) == []
    assert _shadowed(tmp_path, "user", dict(UM, flags="child"), wide) == [0]


def test_signatures(tmp_path: Path) -> None:
    cb = {"sig_type": "codeblocks", "sig_id": "c", "score": 1, "hashes": [["0x1"]]}
    ex = {"sig_type": "export", "sig_id": "x", "library": "kernel32.dll", "hashes": [{"name": "f", "delta": 0}]}
    wide = dict(UM, process="*")
    assert _shadowed(tmp_path, "user", dict(UM, signatures=["c"]), dict(wide, signatures=["c"]), sigs=[cb]) == [0]
    assert _shadowed(tmp_path, "user", UM, dict(wide, signatures=["c"]), sigs=[cb]) == []
    # a module injection needs an export signature: an exception without one does not cover
    assert _shadowed(tmp_path, "user", dict(UM, signatures=["x"]), wide, sigs=[ex]) == []
    assert _shadowed(tmp_path, "user", dict(UM, signatures=["c"]), wide, sigs=[cb]) == [0]


def test_process_creation_lists(tmp_path: Path) -> None:
    pc = {"originator": "explorer.exe", "victim": "cmd.exe", "object_type": "process-creation"}
    # process-creation exceptions live in their own list, scanned before the generic one
    assert _shadowed(tmp_path, "user", pc, {"originator": "*", "victim": "*", "object_type": "any",
                                            "flags": "read write exec"}) == []
    assert _shadowed(tmp_path, "user", pc, dict(pc, originator="*")) == [0]


def test_kernel_user_direction(tmp_path: Path) -> None:
    kum = {"originator": "a.exe", "victim": "ntdll.dll", "process": "*", "object_type": "module"}
    assert _shadowed(tmp_path, "kernel-user", dict(kum, flags="user"), dict(kum, originator="*")) == []
    assert _shadowed(tmp_path, "kernel-user", dict(kum, flags="user"), dict(kum, originator="*", flags="user")) == [0]
    assert _shadowed(tmp_path, "kernel-user", dict(kum, flags="kernel"),
                     dict(kum, originator="*", flags="kernel")) == []
