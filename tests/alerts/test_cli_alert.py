"""``hvmiex alert decode``: inputs, modes, formats, exit codes."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

from click.testing import CliRunner

from hvmiex.cli.main import main
from tests.alerts.helpers import oracle_cases
from tests.alerts.test_decode import MSR_B64


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["alert", "decode", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_content_summary() -> None:
    code, out, _ = run("--content", MSR_B64)
    assert code == 0
    assert "kernel-mode alert" in out and "event msr (2)" in out
    assert "evil.sys" in out


def test_alert_mode_prints_every_object() -> None:
    code, out, _ = run("-c", MSR_B64, "--alert")
    assert code == 0
    assert "Windows kernel driver (original RIP)" in out
    assert "msr: 0xc0000082" in out
    assert "0x9d00a1b2 <-RIP" in out
    assert "zone_type: msr (2)" in out


def test_alert_json() -> None:
    code, out, _ = run("-c", MSR_B64, "--alert", "--format", "json")
    assert code == 0
    data = json.loads(out)
    alert = data["alerts"][0]["alert"]
    assert alert["header"]["event"] == 2 and alert["length"] == 193
    assert [o["type"] for o in alert["objects"]] == [1, 21, 2, 3, 7, 9, 4, 5, 35, 6]
    assert data["alerts"][0]["violation"]["kind"] == "km"


def test_bad_blob_exit_1_with_offset() -> None:
    blob = struct.pack("<IIIHI", 0, 1, 2, 0, 1) + struct.pack("<IHH", 1, 48, 0)
    code, _, err = run("-c", base64.b64encode(blob).decode())
    assert code == 1
    assert "unknown object type 48" in err and "@0x" in err and "object #0" in err


def test_empty_content_is_usage_error() -> None:
    code, _, _ = run("-c", "  ")
    assert code == 2


def test_stdin_and_files(tmp_path: Path) -> None:
    blobs = tmp_path / "blobs.txt"
    blobs.write_text(f"{MSR_B64}\n\n{MSR_B64}\n")
    code, out, _ = run(str(blobs))
    assert code == 0 and out.count("kernel-mode alert") == 2
    code, out, _ = run(stdin=MSR_B64 + "\n")
    assert code == 0 and "kernel-mode alert" in out


def test_log_input_and_exception_merging(tmp_path: Path) -> None:
    cases = {c["id"]: c for c in oracle_cases()}
    case = cases["win_km_drv_code_write"]
    lines = []
    for _ in range(2):  # the same alert twice: one merged exception
        lines += [f"serializers.c : 10 {line.rstrip()}" for line in case["serialized"]["log_lines"]]
    log = tmp_path / "intro.log"
    log.write_text("unrelated line\n" + "\n".join(lines) + "\n")
    out_dir = tmp_path / "out"
    code, out, err = run(str(log), "--exception", "-o", str(out_dir))
    assert code == 0, err
    assert "2 alerts merged" in out
    assert sorted(p.name for p in out_dir.iterdir()) == ["00-signatures.json", "10-kernel.json"]
    kernel = json.loads((out_dir / "10-kernel.json").read_text())
    assert len(kernel["Exceptions"]) == 1
    from hvmiex.compiler import compile as compile_json

    assert compile_json(sorted(out_dir.iterdir()))


def test_exception_json_and_refusals() -> None:
    cases = {c["id"]: c for c in oracle_cases()}
    vdso = cases["lix_km_vdso_write"]["serialized"]["base64"]
    um = cases["win_um_module_code_write_noexport"]["serialized"]["base64"]
    code, out, err = run("--exception", "--format", "json", "-", stdin=f"{vdso}\n{um}\n")
    assert code == 0
    data = json.loads(out)
    docs = data["exceptions"]["documents"]
    assert docs["20-user.json"]["Exceptions"][0]["victim"] == "ntdll.dll"
    assert len(data["exceptions"]["refused"]) == 1
    assert "Introcore creates no exception" in err


def test_output_needs_exception(tmp_path: Path) -> None:
    code, _, _ = run("-c", MSR_B64, "-o", str(tmp_path))
    assert code == 2


def test_data_fixtures() -> None:
    from tests.conftest import DATA

    code, out, _ = run(str(DATA / "alerts" / "msr_example.b64"))
    assert code == 0 and "event msr (2)" in out
    code, out, err = run(str(DATA / "alerts" / "two_guests.log"), "--format", "json")
    assert code == 0, err
    alerts = json.loads(out)["alerts"]
    assert sorted(a["serializer_id"] for a in alerts) == [1, 7]


def test_encode_command_round_trip(tmp_path: Path) -> None:
    case = next(c for c in oracle_cases() if c["id"] == "win_um_module_code_write_noexport")
    blob_b64 = case["serialized"]["base64"]
    code, out, _ = run("-c", blob_b64, "--format", "json")
    assert code == 0
    violation = json.loads(out)["alerts"][0]["violation"]
    path = tmp_path / "v.json"
    path.write_text(json.dumps(violation))
    result = CliRunner().invoke(main, ["alert", "encode", str(path), "--log"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("[SERIALIZER] Start Serializer ID -> 0x1")
    log = tmp_path / "v.log"
    log.write_text(result.stdout)
    code, out2, _ = run(str(log), "--format", "json")
    assert code == 0
    again = json.loads(out2)["alerts"][0]["violation"]
    assert again == violation
