"""The bundled example violations give the verdicts the README shows."""

from __future__ import annotations

from pathlib import Path

from hvmiex.compiler import compile as compile_bin
from hvmiex.engine import Engine
from hvmiex.violation import GuestOS, load_violations

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_example_violations_verdicts() -> None:
    engine = Engine(GuestOS.WINDOWS)
    engine.update_exceptions(compile_bin([str(EXAMPLES / "exceptions")]))
    violations = load_violations(EXAMPLES / "violations" / "storage-driver-iat.json")
    reasons = [engine.decide(v).reason.name.lower() for v in violations]
    assert reasons[0] == "allowed"
    assert reasons[1] == "version_os_not_matched"
    assert reasons[2] == "no_exception"
