"""Line grammar (spec 04 §1–§7): envelopes, field groups, every victim kind, verdicts, code blocks."""

from __future__ import annotations

import pytest

from hvmiex.logs.lines import (
    Kind,
    LineError,
    classify,
    parse_codeblocks,
    parse_originator,
    parse_process,
    parse_verdict,
    parse_victim,
    split_envelope,
)


def test_envelope_variants() -> None:
    env = split_envelope("[0c1f-uuid] exceptions_user.c : 943 Originator-> Module: (x)")
    assert env is not None and env.guest == "0c1f-uuid" and env.file == "exceptions_user.c"
    assert env.source_line == 943 and env.message == "Originator-> Module: (x)"
    syslog = "Nov 21 10:00:01 host hvmid[77]: [abc] /build/introcore/src/exceptions_kern.c : 1488 Victim    -> Cr4"
    env = split_envelope(syslog)
    assert env is not None and env.guest == "abc" and env.file.endswith("exceptions_kern.c")
    env = split_envelope("compiler_depend.ts : 1226 [CODEBLOCKS] 0x00000001 (0x000,      CALL)")
    assert env is not None and env.guest is None and classify(env.message) is Kind.CODEBLOCKS
    assert split_envelope("just some text") is None
    assert split_envelope("a : b c") is None


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("Originator-> Module: (<no name>)", Kind.ORIGINATOR),
        ("Return    -> Module: (<no name>), RIP 0", Kind.RETURN),
        ("Originator Process:  (a [0x00000000], 0, 0, 0, F0)", Kind.KUM_INJECTOR),
        ("Process:             (a [0x00000000], 0, 0, 0, F0)", Kind.KUM_PROCESS),
        ("Victim    -> Cr4, WriteInfo: (8, 0 -> 0)", Kind.VICTIM),
        ("^" * 40 + " MALWARE (user-mode) (no exc) " + "^" * 40, Kind.VERDICT),
        ("[STACK TRACE] [at 0x1]", Kind.STACK_TRACE),
        ("[DUMPER] Dumping buffer from GVA 0000000000001000 with size 4", Kind.DUMPER),
        ("0000000000001000: 00 01 02 03 78 78 78 78 78 78 78 78 78 78 78 78 ....xxxxxxxxxxxx", Kind.DUMPER_ROW),
        ("[DPI] Process was debugged", Kind.DPI),
        ("[SERIALIZER] Start Serializer ID -> 0x1", Kind.SERIALIZER),
        ("[THREAD HIJACK] Thread Hijack detected", Kind.CALLER),
        ("[ERROR] Failed mapping VA 0x1 to host: 0xe2400016", Kind.DIAGNOSTIC),
        ("**************************************************", Kind.BANNER),
        ("something else", Kind.OTHER),
    ],
)
def test_classify(message: str, kind: Kind) -> None:
    assert classify(message) is kind


def test_padded_paths_with_spaces_and_cli_with_quotes() -> None:
    line = (
        "Originator-> Module: (\\program files\\vendor av\\hook.dll      [0x12345678], 00007ffc48640000, F18d9, "
        "VerInfo: a52b7c6a:1f0000), RIP 00007ffc48660ab5, Process: (chrome.exe [0x80689a87], ffffdf0f4ff18080, "
        "0000000052ef2002, 7472, F185054, WOW64, SYS, PEB64: 000000cb50b1d000, PEB32: 0000000000401000, "
        "CLI:`\"c:\\a`) b\" --x=(1,2), `q` `) --y`), Instr: MOV       byte ptr [rdx+rcx], al"
    )
    o = parse_originator(line)
    assert o.module is not None and o.module.path == "\\program files\\vendor av\\hook.dll"
    assert o.module.name == "hook.dll" and o.module.hash == 0x12345678 and o.module.timestamp == 0xA52B7C6A
    assert o.process is not None and o.process.wow64 and o.process.system and o.process.peb32 == 0x401000
    assert o.process.cli == '"c:\\a`) b" --x=(1,2), `q` `) --y'
    assert o.instruction == "MOV       byte ptr [rdx+rcx], al"


def test_v_blog_unlabelled_instruction_and_verdict_without_mode() -> None:
    o = parse_originator(
        "Originator-> Module: (\\windows\\system32\\ntdll.dll [0xbe9d4ec5], 00007ffc48640000, F18d9), "
        "RIP 00007ffc48660ab5, Process: (chrome.exe [0x80689a87], ffffdf0f4ff18080, 0000000052ef2002, 7472, "
        "F185054, CLI:`chrome.exe --type=utility`), MOV       byte ptr [rdx+rcx], al"
    )
    assert o.instruction == "MOV       byte ptr [rdx+rcx], al" and o.process is not None
    assert o.process.cli == "chrome.exe --type=utility"
    v = parse_verdict("^" * 40 + " MALWARE (no exc) " + "^" * 40)
    assert v is not None and v.mode is None and v.reason == "no exc"
    v = parse_verdict("^" * 40 + " (B) ROOTKIT (kernel-user mode) (value code) " + "^" * 40)
    assert v is not None and v.beta and v.mode == "kernel-user mode" and v.reason == "value code"
    assert parse_verdict("^" * 40 + " ROOTKIT " + "^" * 40) is None  # other detectors' banners


def test_cli_cut_by_the_integrator_cap() -> None:
    g, end = parse_process("(chrome.exe [0x80689a87], ffffdf0f4ff18080, 0000000052ef2002, 7472, F185054, CLI:`abc", 0)
    assert g.cli == "abc" and g.cli_cut and end == len("(chrome.exe [0x80689a87], ffffdf0f4ff18080, 0000000052ef2002, 7472, F185054, CLI:`abc")


def test_snprintf_overflow_leaves_cli_out() -> None:
    o = parse_originator(
        "Originator-> Process: (evil.exe       [0x4fbac700], ffffa50f3c6e9000, 0000000000013000, 6666, F100000), "
        "VA: 0000000000200000, Parent: (explorer.exe [0x12345678], ffffa50f3c6e1000, 0000000000014000, 100, F0)"
    )
    assert o.va == 0x200000 and o.parent is not None and o.parent.name == "explorer.exe"


def test_linux_task_and_kernel_originator() -> None:
    o = parse_originator(
        "Originator-> Module: (kernel [0x00000002], ffffffff81000000), RIP ffffffff81234567 (text) (memcpy), "
        "Instr: MOV       qword ptr [rdi], rax, Process: (/usr/bin/evil 'evil' [0x1234abcd], ffff888000123400, "
        "0000000000001000, ffff888000a00000, 4242/4242, CLI:`evil -x`)"
    )
    assert o.section == "text" and o.symbol == "memcpy" and o.instruction == "MOV       qword ptr [rdi], rax"
    assert o.process is not None and o.process.linux and o.process.comm == "evil" and o.process.tgid == 4242
    assert o.process.cli == "evil -x"


VICTIMS = [
    ("Victim    -> Module: (\\systemroot\\system32\\drivers\\ndis.sys [0xa8a726cb], fffff8026b4e0000, VerInfo: "
     "7e4b1c0a:14f000), Address: (fffff8026b51c2a0, 000000000a91c2a0), ReadInfo: (8, 4c8bdc4883ec5848), "
     "Flags: CODE (0x20000004)", "module"),
    ("Victim    -> Module: (\\systemroot\\system32\\drivers\\ndis.sys [0xa8a726cb], fffff8026b4e0000), "
     "Address: (fffff8026b51c2a0, 000000000a91c2a0)", "module"),
    ("Victim    -> Module: (kernel [0x00000002], ffffffff81000000), Address: (ffffffff81001008, f81001008), "
     "memcpy, WriteInfo: (8, 1111111111111111 -> 2222222222222222), Flags: DATA (0x10000008)", "module"),
    ("Victim    -> Module: [vdso], Address: (7ffd1000, 1000), Flags: CODE (0x40000004)", "module"),
    ("Victim    -> Msr: : (c0000082, LSTAR), WriteInfo: (fffff80268a00000 -> fffff8026c790000), Module: "
     "(\\systemroot\\system32\\drivers\\acmefilt.sys [0xaed3871d], fffff8026c790000)", "msr"),
    ("Victim    -> Cr4, (SMAP, SMEP), WriteInfo: (8, 0000000000370678 -> 0000000000070678)", "cr"),
    ("Victim    -> Idt:  (IDT Base Address: fffff8026a000000, IDT Entry modified: 3 (0xfffff8026a000030) (EPT), "
     "WriteInfo: (16, 1111111111111111 -> 0x2222222222222222, 3333333333333333 -> 0x4444444444444444)", "idt"),
    ("Victim    -> Dtr: (IDTR), WriteInfo: (fffff80000001000 -> fffff80000002000), DtrLimit: (0fff -> 0fff)", "dtr"),
    ("Victim    -> DrvObj: (\\driver\\disk [0x12345678], ffffa00000005000, 5000), Owner: (\\systemroot\\"
     "system32\\drivers\\disk.sys [0x87654321], fffff80001000000), WriteInfo: (8, 0 -> 1), INTEGRITY", "drvobj"),
    ("Victim    -> FastIo: (\\filesystem\\ntfs [0x12345678], ffffa00000005000, 5000, ffffa00000006000), "
     "WriteInfo: (8, 0000000000000000 -> 0000000000000001)", "fastio"),
    ("Victim    -> Hal interrupt controller: (fffff7a000000000, 00000000fee00000), WriteInfo: (4, "
     "0000000000000000 -> 0000000000000001)", "hal-ic"),
    ("Victim    -> Hal heap execute: (fffff7a000001000, 0000000000001000)", "hal-heap"),
    ("Victim    -> SharedUserData execute: (fffff78000000000, 0000000000001000)", "sud-exec"),
    ("Victim    -> Self map entry: chrome.exe [0x80689a87] (fffff6fb7dbedf68, 0000000001234f68), WriteInfo: "
     "(8, 0000000000000000 -> 0000000000000001), Index: 000001ed", "selfmap"),
    ("Victim    -> Circular Kernel Context Logger (ffffa00000001000, ffffa00000002000), WriteInfo: (8, "
     "0000000000000000 -> 0000000000000001), INTEGRITY", "infinity-hook"),
    ("Victim    -> HalPerformanceCounter (ffffa00000001000, ffffa00000002000), WriteInfo: (8, "
     "0000000000000000 -> 0000000000000001), INTEGRITY", "hal-perf-counter"),
    ("Victim    -> Token privileges (lsass.exe [0x12345678] 640), WriteInfo: (Present: 0x0000000000000001, "
     "Enabled: 0x0000000000000001 -> Present: 0x0000000fffffffff, Enabled: 0x0000000fffffffff), INTEGRITY",
     "token-privs"),
    ("Victim    -> Token privileges (lsass.exe [0x12345678] 640), WriteInfo: (8, 0000000000000001 -> "
     "0000000fffffffff), EPT", "token-privs"),
    ("Victim    -> Security descriptor pointer was modified for process (lsass.exe [0x12345678] 640), WriteInfo: "
     "(NewSdSize:120, 0x0000000000001000 -> 0x0000000000002000) New SD Hash:0x1a2b3c4d Old SACL AclSize:0x1c, "
     "AceCount:0x1, AclRevision:0x2 New SACL AclSize:0x1c, AceCount:0x1, AclRevision:0x2 Old DACL AclSize:0x1c, "
     "AceCount:0x1, AclRevision:0x2 New DACL AclSize:0x1c, AceCount:0x1, AclRevision:0x2", "security-descriptor"),
    ("Victim    -> ACL edited for process (lsass.exe [0x12345678] 640) NewSdSize:120 New SD Hash:0x1a2b3c4d Old "
     "SACL AclSize:0x1c, AceCount:0x1, AclRevision:0x2 New SACL AclSize:0x1c, AceCount:0x1, AclRevision:0x2 Old "
     "DACL AclSize:0x1c, AceCount:0x1, AclRevision:0x2 New DACL AclSize:0x1c, AceCount:0x1, AclRevision:0x2",
     "acl-edit"),
    ("Victim    -> SharedUserData (KdDebuggerEnabled [0x12345678] 0xfffff78000000000 + 0x000002d4), WriteInfo: "
     "(0x0000000000000000 -> 0x0000000000000001 0x00000001)", "sud-modification"),
    ("Victim    -> Interrupt Object (0xffffa00000001000, entry 5) DispatchAddress: (0x0000000000000001 -> "
     "0x0000000000000002), ServiceRoutine: (0x0000000000000003 -> 0x0000000000000004)", "interrupt-obj"),
    ("Victim    -> Process: (chrome.exe     [0x80689a87], ffffdf0f52a4c080, 000000001a7e5002, 8120, F185054), "
     "InjInfo: (8, 00007ffc486dc7e0), Init: (1, 0), Parent: (explorer.exe [0x12345678], ffffdf0f52a40000, "
     "000000001a000002, 100, F0)", "injection"),
    ("Victim    -> VAD: [7ffc48640000 - 7ffc48830000], Prot: 20, VadProt: 7, Type: 2, Name: <stack>", "vad"),
    ("Victim    -> Module: (\\windows\\system32\\ntdll.dll [0xbe9d4ec5], 00007ffc48640000, F18d9),", "module"),
    ("Victim    -> Process: (chrome.exe     [0x80689a87], ffffdf0f4ff18080, 0000000052ef2002, 7472, F185054), "
     "ExecInfo: (0x000000001e0000a0, 0x000000001e0000a0), Stack: (0x000007ffe0010000, 0x000007ffe0000000), "
     "SP = 0x000007ffe0000f00", "nx"),
    ("Victim    -> Process: ((null) 'kid' [0x459dae91], ffff88800000ae90, 0000000000001000, 0000000000000000, "
     "0/0), ExecInfo: (00007f0000001000, 0000000001001000), Stack: (0x00007ffd00000000, 0x    7ffd00021000), "
     "RSP = 0x00007ffd00020f00", "nx"),
    ("Victim    -> Process: ((null) 'kid' [0x459dae91], ffff88800000ae90, 0000000000001000, 0000000000000000, "
     "0/0), Address: (7ffd1000, 1000), Lib: [vdso], WriteInfo: (8, 0000000000000000 -> 0000000000000001)",
     "vdso-write"),
    ("Victim    -> Process: (chrome.exe     [0x80689a87], ffffdf0f4ff18080, 0000000052ef2002, 7472, F185054)",
     "process"),
]


@pytest.mark.parametrize(("line", "kind"), VICTIMS)
def test_every_victim_kind(line: str, kind: str) -> None:
    v = parse_victim(line)
    assert v.kind == kind


def test_victim_details() -> None:
    cr = parse_victim(VICTIMS[5][0])
    assert cr.access is not None and cr.access.old == 0x370678 and cr.name == "SMAP, SMEP"
    idt = parse_victim(VICTIMS[6][0])
    assert idt.index == 3 and idt.access is not None and len(idt.access.chunks) == 2 and idt.ept
    sd = parse_victim(VICTIMS[18][0])
    assert sd.get("new_sd_hash") == 0x1A2B3C4D and sd.get("new_dacl_count") == 1
    lix = parse_victim(VICTIMS[2][0])
    assert lix.symbol == "memcpy" and lix.gpa == 0xF81001008 and lix.zone_flags == 0x10000008
    exe = parse_victim(VICTIMS[0][0])
    assert exe.access is not None and exe.access.kind == "read"
    nx = parse_victim(VICTIMS[26][0])
    assert nx.get("stack_limit") == 0x7FFD00021000 and nx.get("sp") == 0x7FFD00020F00


def test_malformed_lines_raise_line_error() -> None:
    with pytest.raises(LineError):
        parse_victim("Victim    -> Nonsense: 1")
    with pytest.raises(LineError):
        parse_victim("Victim    -> Module: (broken")
    with pytest.raises(LineError):
        parse_codeblocks("[CODEBLOCKS] 0x12345678 (0xf6f,       JMP), 0xf6f,       JMP)")


def test_codeblocks_marker_positions() -> None:
    line = parse_codeblocks(
        "[CODEBLOCKS] (    RIP->0xfffff80268c1d3f0), 0x84d02f9b (0x3f8,      CALL), 0x3b6fe1a7 (0x1022,       JMP)"
    )
    assert line.marker == ("RIP", 0xFFFFF80268C1D3F0, 0) and line.offsets == [0x3F8, 0x1022]
    line = parse_codeblocks("[CODEBLOCKS] 0x0e7d94b2 (0xb9f,  MOV FS/GS), (Ret RIP->0xfffff8026c7a1f3e)")
    assert line.marker is not None and line.marker[0] == "Ret RIP" and line.marker[2] == 1
    assert line.pivots == ["MOV FS/GS"]


def test_fast_codeblock_parsers_agree_with_the_strict_one() -> None:
    import itertools

    from hvmiex.logs.lines import _parse_codeblocks_strict
    from hvmiex.logs.render import synthetic_log

    seen = 0
    for line in itertools.islice(synthetic_log(2), 20000):
        if "[CODEBLOCKS]" in line:
            message = line[line.index("[CODEBLOCKS]") :]
            a, b = parse_codeblocks(message), _parse_codeblocks_strict(message)
            assert (a.hashes, a.offsets, a.pivots, a.marker) == (b.hashes, b.offsets, b.pivots, b.marker)
            seen += 1
    assert seen > 500
