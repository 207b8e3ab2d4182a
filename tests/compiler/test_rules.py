"""Each rule of spec 02, on small fixtures written here."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from hvmiex.compiler import compile, compile_set
from hvmiex.config import config_from_dict, load_config, stock_config_path
from hvmiex.crc32 import hash_narrow, hash_wide
from hvmiex.errors import InputError
from hvmiex.model import (
    GlobException,
    KernelException,
    KernelUserException,
    UserApcException,
    UserException,
)
from tests.compiler.helpers import build, exc_file, one, sig_file, write
from tests.conftest import DATA

WORKED = DATA / "compiler" / "worked"
EXP = {"sig_type": "export", "sig_id": "s-exp", "library": "ntdll.dll", "hashes": [{"name": "NtOpenFile", "delta": 16}]}


def refused(folder: Path, kind: str, *entries: dict, sigs: tuple = ()) -> str:  # type: ignore[type-arg]
    with pytest.raises(InputError) as info:
        build(folder, kind, *entries, sigs=sigs)
    return str(info.value)


# ----------------------------------------------------------------- whole files


def test_worked_example_01_10() -> None:
    data = compile(sorted(WORKED.glob("*.json")))
    assert len(data) == 486
    assert hashlib.sha256(data).hexdigest() == "2671bcadf4c5bd01635b0618ead68687f79f7cde28155eb0648af25303155551"


def test_compile_twice_identical() -> None:
    files = sorted(WORKED.glob("*.json"))
    assert compile(files) == compile(files) == compile(files, load_config(), 0)


def test_header_versions_and_build(tmp_path: Path) -> None:
    cfg = json.loads(stock_config_path().read_text())
    cfg["Version"]["Minor"] = 5
    data = compile(sorted(WORKED.glob("*.json")), config_from_dict(cfg), build=0xFFFFFFFF)
    assert data[4:8] == b"\x02\x00\x05\x00" and data[20:24] == b"\xff\xff\xff\xff"
    with pytest.raises(InputError, match="32 bits"):
        compile(sorted(WORKED.glob("*.json")), build=1 << 32)


# ----------------------------------------------------------------- file order (§2, Q10, Q11)


def test_signatures_resolved_after_all_files(tmp_path: Path) -> None:
    e = exc_file(tmp_path, "a.json", "user", {"originator": "a.exe", "victim": "b.exe", "object_type": "process",
                                              "signatures": ["s-exp"]})  # fmt: skip
    s = sig_file(tmp_path, "b.json", EXP)
    one_way = compile([e, s])
    assert one_way == compile([s, e])
    assert one_way[-24:-20] == (0x19000001).to_bytes(4, "little")


def test_directory_walk_sorted_signature_files_first(tmp_path: Path) -> None:
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    sig_file(d / "sub", "z-sigs.json", {**EXP, "sig_id": "late"})
    sig_file(d, "b-sigs.json", {**EXP, "sig_id": "early"})
    exc_file(d, "a.json", "user", {"originator": "a.exe", "victim": "b.exe", "object_type": "process",
                                   "signatures": ["early", "late"]})  # fmt: skip
    (d / "notes.txt").write_text("ignored")
    (d / "dir.json").mkdir()
    r = compile_set([d])
    assert [Path(f).name for f in r.files] == ["b-sigs.json", "z-sigs.json", "a.json"]
    ids = [s.id for s in r.exception_set.signatures]
    assert ids == [0x19000001, 0x19000002]


def test_file_twice_compiled_once(tmp_path: Path) -> None:
    e = exc_file(tmp_path, "a.json", "user", {"originator": "a.exe", "victim": "b.exe", "object_type": "process"})
    r = compile_set([e, e, tmp_path])
    assert len(r.exception_set.exceptions) == 1
    assert any(d.code == "input-twice" for d in r.diagnostics)


# ----------------------------------------------------------------- dispatch (§4)


def test_dispatch(tmp_path: Path) -> None:
    # a file with both keys and an exception Type yields only its exceptions
    both = write(tmp_path, "both.json", {"Type": "user", "Exceptions": [
        {"originator": "a.exe", "victim": "b.exe", "object_type": "process"}], "Signatures": [EXP]})  # fmt: skip
    r = compile_set([both])
    assert len(r.exception_set.exceptions) == 1 and not r.exception_set.signatures
    bad = write(tmp_path, "bad.json", {"Type": "usr", "Exceptions": []})
    with pytest.raises(InputError, match="did you mean 'user'"):
        compile([bad])
    notype = write(tmp_path, "notype.json", {"Exceptions": []})
    with pytest.raises(InputError, match="missing key 'Type'"):
        compile([notype])


# ----------------------------------------------------------------- flags (§7)


@pytest.mark.parametrize(
    ("kind", "obj", "flags", "value"),
    [
        ("kernel", {"object_type": "driver", "victim": "x"}, None, 0x20000006),
        ("kernel", {"object_type": "driver", "victim": "x"}, "non-driver", 0x20000306),
        ("kernel", {"object_type": "driver", "victim": "x"}, "64 read", 0x10000004),
        ("kernel", {"object_type": "cr4"}, "smep", 0x20000806),
        ("user", {"object_type": "nx_zone"}, None, 0x40000006),
        ("user", {"object_type": "process-creation", "victim": "v"}, None, 0x40000006),
        ("user-apc", {"object_type": "process-creation", "victim": "v"}, None, 0x20000006),
        ("user", {"object_type": "process", "victim": "v"}, "module-load", 0x20004006),
        ("kernel-user", {"object_type": "module", "victim": "v"}, "return", 0x20000216),
        ("kernel-user", {"object_type": "module", "victim": "v"}, "child smep", 0x20000A06),
    ],
)
def test_flag_arithmetic_17_6(tmp_path: Path, kind: str, obj: dict, flags: str | None, value: int) -> None:  # type: ignore[type-arg]
    entry = {"originator": "a.sys", **obj}
    if flags is not None:
        entry["flags"] = flags
    assert one(tmp_path, kind, entry).flags.value == value


def test_signature_flags(tmp_path: Path) -> None:
    sigs = ({"sig_type": "idt", "sig_id": "a", "entry": 1}, {"sig_type": "idt", "sig_id": "b", "entry": 1, "flags": ""},
            {"sig_type": "idt", "sig_id": "c", "entry": 1, "flags": "cli 64"},
            {"sig_type": "idt", "sig_id": "d", "entry": 1, "flags": "linux"})  # fmt: skip
    r = build(tmp_path, "user", {"originator": "a", "victim": "b", "object_type": "process",
                                 "signatures": ["a", "b", "c", "d"]}, sigs=sigs)  # fmt: skip
    assert [s.flags.value for s in r.exception_set.signatures] == [3, 3, 0x10002, 0x83]


def test_flag_errors(tmp_path: Path) -> None:
    msg = refused(tmp_path, "kernel", {"originator": "a", "victim": "b", "object_type": "driver", "flags": "retrun"})
    assert "invalid flag 'retrun'" in msg and "did you mean 'return'" in msg and "1-exc.json:" in msg
    assert "empty flag" in refused(tmp_path, "user", {"originator": "a", "victim": "b", "object_type": "process",
                                                       "flags": "32  64"})  # fmt: skip
    assert "obsolete" in refused(tmp_path, "kernel", {"originator": "a", "victim": "b", "object_type": "driver",
                                                      "flags": "return-drv"})  # fmt: skip
    assert "smep" in refused(tmp_path, "kernel", {"originator": "a", "object_type": "cr4"})
    assert "exclude each other" in refused(tmp_path, "kernel-user", {"originator": "a", "victim": "b",
                                                                      "object_type": "module", "flags": "user kernel"})  # fmt: skip


def test_q7_kernel_flags_refused_in_user_kinds(tmp_path: Path) -> None:
    kum = exc_file(tmp_path, "0-kum.json", "kernel-user", {"originator": "a", "victim": "b", "object_type": "module"})
    um = exc_file(tmp_path, "1-um.json", "user", {"originator": "a", "victim": "b", "object_type": "process",
                                                  "flags": "integrity user"})  # fmt: skip
    with pytest.raises(InputError, match="kernel/kernel-user flag"):
        compile([kum, um])


# ----------------------------------------------------------------- hashing matrix (§6.7)


def test_km_fields(tmp_path: Path) -> None:
    e = one(tmp_path, "kernel", {"originator": "\\SystemRoot\\System32\\Drivers\\MyDrv.sys", "victim": "[kernel]",
                                 "object_type": "driver code", "flags": "return"})  # fmt: skip
    assert isinstance(e, KernelException)
    assert (e.originator.value, e.path_hash, e.victim.value, e.flags.value) == (0x3CBA652D, 0xFFFFFFFF, 2, 0x20000216)
    e = one(tmp_path, "kernel", {"victim": "MicrosoftEdge.exe", "object_type": "acl-edit", "flags": "integrity"})
    assert (e.originator.value, e.victim.value, e.flags.value) == (4, 0x40B276E2, 0x20001006)
    e = one(tmp_path, "kernel", {"victim": "StartMenuExperienceHost", "object_type": "security-descriptor",
                                 "flags": "integrity"})  # fmt: skip
    assert (e.originator.value, e.victim.value) == (4, 0x41CF65CE)
    e2 = one(tmp_path, "kernel", {"victim": "x", "object_type": "sud-modification", "flags": "integrity"})
    assert e2.victim.value == hash_narrow("x")
    e3 = one(tmp_path, "kernel", {"originator": "A.SYS", "victim": "Ntoskrnl.exe", "object_type": "driver", "flags": "linux"})
    assert (e3.originator.value, e3.victim.value) == (hash_wide("A.SYS"), hash_wide("Ntoskrnl.exe"))
    assert e3.flags.value & 0x80


def test_km_errors(tmp_path: Path) -> None:
    assert "originator cannot be missing" in refused(tmp_path, "kernel", {"victim": "x", "object_type": "driver"})
    assert "requires a victim" in refused(tmp_path, "kernel", {"originator": "a", "object_type": "driver"})
    assert "must not have a victim" in refused(tmp_path, "kernel", {"originator": "a", "victim": "x", "object_type": "msr"})
    assert "ends with a separator" in refused(tmp_path, "kernel", {"originator": "\\a\\", "victim": "x",
                                                                    "object_type": "driver"})  # fmt: skip
    assert "must not have an originator" in refused(tmp_path, "kernel", {"originator": "a", "victim": "x",
                                                    "object_type": "acl-edit", "flags": "integrity"})  # fmt: skip
    assert "only works with flag 'integrity'" in refused(tmp_path, "kernel", {"victim": "x", "object_type": "acl-edit"})
    assert "token-privs" in refused(tmp_path, "kernel", {"victim": "x", "object_type": "token-privs"})
    msg = refused(tmp_path, "kernel", {"originator": "a", "victim": "x", "object_type": "driver kode"})
    assert "did you mean 'driver code'" in msg and "#0" in msg and "object_type" in msg


def test_um_fields_17_1_17_2(tmp_path: Path) -> None:
    e = one(tmp_path, "user", {"process": "Chrome.exe", "originator": "Chrome.exe", "victim": "kernel32.dll",
                               "object_type": "module exports", "signatures": ["s-exp"]}, sigs=(EXP,))  # fmt: skip
    assert isinstance(e, UserException)
    assert (e.originator.value, e.victim.value, e.process.value, e.flags.value, e.object_type) == (
        0x8EB0D21F, 0x72F47653, 0x80689A87, 0x20000006, 6)
    assert [r.id for r in e.signatures] == [0x19000001]
    e = one(tmp_path, "user", {"originator": "explorer.exe", "victim": "chrome.exe", "object_type": "process"})
    assert (e.originator.value, e.victim.value, e.process.value) == (0x3A2949C5, 0x80689A87, 0)


def test_um_linux_trims_15_but_process_14(tmp_path: Path) -> None:
    e = one(tmp_path, "user", {"originator": "Abcdefghijklmnopq", "victim": "v", "object_type": "process",
                               "flags": "linux"})  # fmt: skip
    assert e.originator.value == 0xF178A559
    e = one(tmp_path, "user", {"originator": "x", "victim": "v", "process": "Abcdefghijklmnopq",
                               "object_type": "module", "flags": "linux"})  # fmt: skip
    assert e.process.value == 0xA32D6B98


def test_apc_differences(tmp_path: Path) -> None:
    e = one(tmp_path, "user-apc", {"originator": "Abcdefghijklmnopq", "victim": "v", "object_type": "process",
                                   "flags": "linux"})  # fmt: skip
    assert isinstance(e, UserApcException) and e.originator.value == 0xA32D6B98
    # process-creation is wide for APC, narrow for UM
    a = one(tmp_path, "user-apc", {"originator": "a.exe", "victim": "b.exe", "object_type": "process-creation"})
    u = one(tmp_path, "user", {"originator": "a.exe", "victim": "b.exe", "object_type": "process-creation"})
    assert (a.originator.value, u.originator.value) == (hash_wide("a.exe"), hash_narrow("a.exe"))
    assert "must not have a victim" in refused(tmp_path, "user-apc", {"originator": "a", "victim": "*",
                                                                      "object_type": "nx_zone"})  # fmt: skip
    # no \x processing for APC
    a = one(tmp_path, "user-apc", {"originator": "*\\x41", "victim": "b.exe", "object_type": "process"})
    assert a.originator.value == hash_narrow("*\\x41")


def test_um_errors(tmp_path: Path) -> None:
    assert "required key 'originator'" in refused(tmp_path, "user", {"object_type": "process", "victim": "a"})
    assert "requires a victim" in refused(tmp_path, "user", {"originator": "a", "object_type": "module", "process": "p"})
    assert "process cannot be missing" in refused(tmp_path, "user", {"originator": "a", "victim": "b",
                                                                     "object_type": "module"})  # fmt: skip
    assert "process must be missing" in refused(tmp_path, "user", {"originator": "a", "victim": "b", "process": "p",
                                                                   "object_type": "process"})  # fmt: skip
    assert "needs flag 'exec'" in refused(tmp_path, "user", {"originator": "a", "object_type": "nx_zone",
                                                             "flags": "write"})  # fmt: skip
    assert "narrow" in refused(tmp_path, "user", {"originator": "*\\x41", "victim": "b", "process": "p",
                                                  "object_type": "module"})  # fmt: skip


def test_kum_17_5(tmp_path: Path) -> None:
    e = one(tmp_path, "kernel-user", {"flags": "32 64 user", "process": "chrome.exe", "originator": "chrome.exe",
                                      "victim": "ntdll.dll", "object_type": "module"})  # fmt: skip
    assert isinstance(e, KernelUserException)
    assert (e.originator.value, e.victim.value, e.process.value, e.flags.value) == (0x80689A87, 0xBE9D4EC5,
                                                                                     0x80689A87, 0x20008006)
    e = one(tmp_path, "kernel-user", {"originator": "chrome.exe", "victim": "[kernel]", "object_type": "module"})
    # Q6: the victim uses the user-mode table, so [kernel] is hashed; no process -> '*' -> 0
    assert (e.originator.value, e.victim.value, e.process.value) == (0x8EB0D21F, hash_wide("[kernel]"), 0)
    assert "victim cannot be missing" in refused(tmp_path, "kernel-user", {"originator": "a", "object_type": "module"})


# ----------------------------------------------------------------- glob (§8.5, §12, Q2)


def test_glob_order_and_duplicates(tmp_path: Path) -> None:
    base = {"object_type": "module", "process": "p.exe", "flags": "exec"}
    r = build(tmp_path, "user-glob-match", {**base, "originator": "b*.exe", "victim": "Chrome?.exe"},
              {**base, "originator": "*zz.exe", "victim": "x.exe"}, {**base, "originator": "a[0-9]c.exe", "victim": "*"})
    globs = r.exception_set.exceptions
    assert [g.originator for g in globs] == ["*zz.exe", "*zz.exe", "a[0-9]c.exe", "b*.exe"]
    assert isinstance(globs[3], GlobException) and globs[3].victim == "Chrome?.exe"
    assert r.exception_set.header_counts().glob == 4
    assert r.data[24:28] == (4).to_bytes(4, "little")


def test_glob_rules(tmp_path: Path) -> None:
    assert "glob item" in refused(tmp_path, "user-glob-match", {"originator": "a.exe", "victim": "b", "object_type": "process"})
    assert "pattern too long" in refused(tmp_path, "user-glob-match", {"originator": "abcdefghijklmno*",
                                                                       "victim": "*", "object_type": "process"})  # fmt: skip
    e = one(tmp_path, "user-glob-match", {"originator": "x[abc][def]0123456789?", "victim": "*", "object_type": "process"})
    assert e.process == "*"
    e = one(tmp_path, "user-glob-match", {"originator": "a*", "victim": "", "object_type": "nx_zone"})
    assert (e.victim, e.flags.value) == ("*", 0x40000006)
    assert "victim cannot be missing" in refused(tmp_path, "user-glob-match", {"originator": "a*", "object_type": "nx_zone"})


# ----------------------------------------------------------------- groups (§11, Q3, Q4, Q5)


def test_group_expansion_order(tmp_path: Path) -> None:
    r = build(tmp_path, "user", {"originator": "[wow64-dlls]", "victim": "[python]", "process": "x.exe",
                                 "object_type": "module"})  # fmt: skip
    assert len(r.exception_set.exceptions) == 9


def test_firefox_example(tmp_path: Path) -> None:
    r = build(tmp_path, "user", {"process": "[firefox-processes]", "originator": "mozglue.dll", "victim": "ntdll.dll",
                                 "object_type": "module", "flags": "return"})  # fmt: skip
    assert sorted(e.process.value for e in r.exception_set.exceptions) == sorted([0x209B1103, 0x497C70FD])
    assert {e.flags.value for e in r.exception_set.exceptions} == {0x20000016}


def test_q5_escapes_lowered_after_expansion_17_7(tmp_path: Path) -> None:
    e = one(tmp_path, "user", {"originator": "*\\x41bc", "victim": "x.exe", "object_type": "process"})
    assert (e.originator.value, e.victim.value) == (0xC2586E95, 0xE292E31E)
    r = build(tmp_path, "user", {"originator": "*\\x41bc", "victim": "[python]", "object_type": "process"})
    assert {x.originator.value for x in r.exception_set.exceptions} == {0xFA152875}
    assert sorted(x.victim.value for x in r.exception_set.exceptions) == sorted([0xCE9A514D, 0xF30CA253, 0x9D9B2697])


@pytest.mark.parametrize("kind", ["user-apc", "kernel-user", "user-glob-match"])
def test_q3_all_kinds_expand(tmp_path: Path, kind: str) -> None:
    entry = {"originator": "[python]", "victim": "v*", "object_type": "module", "process": "p.exe"}
    r = build(tmp_path, kind, entry)
    assert len(r.exception_set.exceptions) == 3


def test_q4_km_return_and_integrity_expand(tmp_path: Path) -> None:
    r = build(tmp_path, "kernel", {"originator": "[sptd-drivers]", "victim": "x", "object_type": "driver",
                                   "flags": "return"})  # fmt: skip
    assert len(r.exception_set.exceptions) == 4
    assert {e.flags.value for e in r.exception_set.exceptions} == {0x20000216}
    r = build(tmp_path, "kernel", {"victim": "[edge-family]", "object_type": "acl-edit", "flags": "integrity"})
    assert len(r.exception_set.exceptions) == 4
    r = build(tmp_path, "kernel", {"originator": "[sptd-drivers]", "object_type": "msr"})
    assert len(r.exception_set.exceptions) == 4


def test_group_member_invalid_names_group(tmp_path: Path) -> None:
    msg = refused(tmp_path, "user-glob-match", {"originator": "[python]", "victim": "v", "object_type": "process"})
    assert "member 'python.exe' of group '[python]'" in msg


def test_group_cycle(tmp_path: Path) -> None:
    cfg = json.loads(stock_config_path().read_text())
    cfg["Groups"]["[loop]"] = ["a.exe", "[loop]"]
    with pytest.raises(InputError, match="contains itself"):
        build(tmp_path, "user", {"originator": "[loop]", "victim": "b", "object_type": "process"},
              config=config_from_dict(cfg))


# ----------------------------------------------------------------- signatures (§9, §10, §13, Q1, Q17)


def test_signature_ids_and_unused_drop_q1(tmp_path: Path) -> None:
    sigs = tuple({**EXP, "sig_id": n} for n in "ABCDE")
    r = build(tmp_path, "user", {"originator": "a", "victim": "b", "object_type": "process", "signatures": ["D"]},
              sigs=sigs)
    assert [s.name for s in r.exception_set.signatures] == ["B", "D"]
    assert r.dropped_signatures == ("A", "C", "E")
    assert any(d.code == "unused-signature-kept" for d in r.diagnostics)


def test_signature_kinds_encoding(tmp_path: Path) -> None:
    data = compile(sorted(WORKED.glob("*.json")))
    assert data.hex().count("0700800c830000000" + "40e0000000000000504ffffffff0000") == 1


def test_version_os_q17(tmp_path: Path) -> None:
    sig = {"sig_type": "version-os", "sig_id": "v", "flags": "linux", "minimum": "4.*.*", "maximum": "*.*.*"}
    r = build(tmp_path, "user", {"originator": "a", "victim": "b", "object_type": "process", "signatures": ["v"]},
              sigs=(sig,))
    (s,) = r.exception_set.signatures
    assert (s.linux_minimum.version, s.linux_maximum.version, s.linux_maximum.patch) == (4, 0xFF, 0xFF)
    assert s.linux_maximum.sublevel == 0xFFFF and s.linux_maximum.backport == 0xFFFF
    bad = {**sig, "maximum": "5.300.1"}
    assert "does not fit" in refused(tmp_path, "user", {"originator": "a", "victim": "b", "object_type": "process",
                                                        "signatures": ["v"]}, sigs=(bad,))  # fmt: skip
    win = {"sig_type": "version-os", "sig_id": "v", "minimum": "-1", "maximum": "*"}
    r = build(tmp_path, "user", {"originator": "a", "victim": "b", "object_type": "process", "signatures": ["v"]},
              sigs=(win,))
    (s,) = r.exception_set.signatures
    assert (s.minimum, s.maximum) == (0xFFFFFFFF, 0xFFFF)
    assert any(d.code == "version-mask" for d in r.diagnostics)


@pytest.mark.parametrize(
    ("sig", "message"),
    [
        ({"sig_type": "export", "sig_id": "x", "library": "a", "hashes": [{"name": "f", "delta": 70000}]}, "0..65535"),
        ({"sig_type": "export", "sig_id": "x", "library": "", "hashes": [{"name": "f", "delta": 1}]}, "library"),
        ({"sig_type": "codeblocks", "sig_id": "x", "score": 256, "hashes": [["0x1"]]}, "1..255"),
        ({"sig_type": "codeblocks", "sig_id": "x", "hashes": [["0x1"]]}, "score is required"),
        ({"sig_type": "codeblocks", "sig_id": "x", "score": 1, "hashes": [["0xzz"]]}, "not a hexadecimal"),
        ({"sig_type": "value", "sig_id": "x", "score": 1, "hashes": [{"offset": 0, "size": 1, "hash": 5}]}, "hexadecimal string"),
        ({"sig_type": "value-code", "sig_id": "x", "offset": 40000, "pattern": ["0x1"]}, "-32768..32767"),
        ({"sig_type": "value-code", "sig_id": "x", "pattern": ["0x1"]}, "required key 'offset'"),
        ({"sig_type": "idt", "sig_id": "x", "entry": 256}, "0..255"),
        ({"sig_type": "idt", "sig_id": "x", "entry": None}, "entry is required"),
        ({"sig_type": "idt", "sig_id": "", "entry": 1}, "sig_id is required"),
        ({"sig_type": "idtt", "sig_id": "x", "entry": 1}, "did you mean 'idt'"),
        ({"sig_id": "x", "entry": 1}, "sig_type is required"),
        ({"sig_type": "version-intro", "sig_id": "x", "minimum": "1.2", "maximum": "*.*.*"}, "intro version format"),
        ({"sig_type": "version-os", "sig_id": "x", "minimum": "1.2.3", "maximum": "7600"}, "os version format"),
        ({"sig_type": "process-creation", "sig_id": "x", "create_mask": ["debugg"]}, "did you mean 'debug'"),
        ({"sig_type": "idt", "sig_id": "x", "entry": 1, "flags": "cli medium x"}, "invalid flag 'x'"),
    ],
)
def test_signature_errors(tmp_path: Path, sig: dict, message: str) -> None:  # type: ignore[type-arg]
    msg = refused(tmp_path, "user", {"originator": "a", "victim": "b", "object_type": "process"}, sigs=(sig,))
    assert message in msg
    assert "0-sigs.json:" in msg


def test_duplicate_and_missing_signatures(tmp_path: Path) -> None:
    msg = refused(tmp_path, "user", {"originator": "a", "victim": "b", "object_type": "process", "signatures": ["s-exq"]},
                  sigs=(EXP, EXP))
    assert "duplicated signature 's-exp'" in msg and "first defined at" in msg
    assert "'s-exq'" in msg and "did you mean 's-exp'" in msg


def test_codeblocks_sorted_and_flat_quirk_q19(tmp_path: Path) -> None:
    sig = {"sig_type": "codeblocks", "sig_id": "c", "score": 1, "hashes": ["12", ["0x3", "0x1"]]}
    r = build(tmp_path, "user", {"originator": "a", "victim": "b", "object_type": "process", "signatures": ["c"]},
              sigs=(sig,))
    (s,) = r.exception_set.signatures
    assert s.lists == ((1, 2), (1, 3))
    assert any(d.code == "cb-flat-hashes" for d in r.diagnostics)


# ----------------------------------------------------------------- many problems, one run; positions


def test_all_problems_reported_with_positions(tmp_path: Path) -> None:
    text = ('{"Type": "kernel", "Exceptions": [\n'
            '  // first\n'
            '  {"originator": "a", "victim": "b", "object_type": "driver kode"},\n'
            '  {"originator": "a", "victim": "b", "object_type": "driver", "flags": "nope"}\n'
            ']}')  # fmt: skip
    f = write(tmp_path, "k.json", text)
    with pytest.raises(InputError) as info:
        compile([f])
    lines = [d.render() for d in info.value.diagnostics]
    assert lines[0].startswith(f"{f}:3:53") and "exception #0" in lines[0]
    assert lines[1].startswith(f"{f}:4:") and "exception #1" in lines[1] and "'nope'" in lines[1]


def test_json_syntax_error_position(tmp_path: Path) -> None:
    f = write(tmp_path, "s.json", '{"Type": "user",\n "Exceptions": [,]}')
    with pytest.raises(InputError) as info:
        compile([f])
    assert str(info.value.diagnostics[0].location) == f"{f}:2:17"


# ----------------------------------------------------------------- decompiler extension


def test_extension_verbatim_values(tmp_path: Path) -> None:
    sig = {"sig_type": "idt", "sig_id": "i", "entry": 3, "id": 0x4B000077, "flags": {"raw": "0x1"}}
    e = one(tmp_path, "user", {"originator": {"hash": "0x12345678"}, "victim": "b", "process": {"hash": "0x0"},
                               "object_type": 13, "flags": {"raw": "0x80000001"}, "signatures": ["i"]},
            sigs=(sig,))  # fmt: skip
    assert (e.originator.value, e.process.value, e.object_type, e.flags.value) == (0x12345678, 0, 13, 0x80000001)
    assert e.signatures[0].id == 0x4B000077
    km = one(tmp_path, "kernel", {"originator": {"hash": "0x4"}, "victim": "x", "object_type": "acl-edit",
                                  "flags": "integrity"})  # fmt: skip
    assert km.originator.value == 4


# ----------------------------------------------------------------- CLI


def test_cli_build(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hvmiex.cli.main import main

    out = tmp_path / "o.bin"
    files = [str(p) for p in sorted(WORKED.glob("*.json"))]
    runner = CliRunner()
    r = runner.invoke(main, ["build", "-o", str(out), "--build=0", "-v", "1", *files])
    assert r.exit_code == 0, r.output
    assert "Generated 0002 kernel exceptions" in r.output
    assert hashlib.sha256(out.read_bytes()).hexdigest().startswith("2671bcad")
    bad = write(tmp_path, "bad.json", {"Type": "kernel", "Exceptions": [{"victim": "x", "object_type": "driver"}]})
    out.write_bytes(b"keep")
    r = runner.invoke(main, ["build", "-o", str(out), "--build", "2", str(bad)])
    assert r.exit_code == 1 and "bad.json" in r.output and "Traceback" not in r.output
    assert out.read_bytes() == b"keep"
    assert runner.invoke(main, ["build", "-o", str(out)]).exit_code == 2
    assert runner.invoke(main, ["build", "-b", "x", str(bad)]).exit_code == 2
    assert runner.invoke(main, ["build", "-o", str(out), str(tmp_path / "missing")]).exit_code == 2
    assert runner.invoke(main, ["build", "-o", str(out), "-b", "4294967296", *files]).exit_code == 1
    assert out.read_bytes() == b"keep"


def test_loader_pitfall_warnings_q28(tmp_path: Path) -> None:
    r = build(tmp_path, "user-glob-match", {"originator": "a*", "victim": "*", "object_type": "process"})
    assert any(d.code == "glob-loader-room" for d in r.diagnostics)
    s = sig_file(tmp_path, "s.json", EXP)
    assert any(d.code == "no-exceptions" for d in compile_set([s]).diagnostics)


def test_non_ascii_glob_q18(tmp_path: Path) -> None:
    r = build(tmp_path, "user-glob-match", {"originator": "é*", "victim": "*", "object_type": "process"})
    assert any(d.code == "glob-non-ascii" for d in r.diagnostics)
    assert "é*".encode()[:3] in r.data


def test_records_carry_locations(tmp_path: Path) -> None:
    r = compile_set(sorted(WORKED.glob("*.json")))
    locs = {str(x.location) for x in r.exception_set.records}
    assert str(WORKED / "3-um.json") + ":4:5" in locs
    assert all(x.location is not None for x in r.exception_set.records)
