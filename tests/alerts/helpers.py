"""Shared helpers of the alert tests: the oracle blobs and small builders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import shared_path


def oracle_cases() -> list[dict[str, Any]]:
    folder = shared_path("oracle", "alerts-real", "cases")
    return [json.loads(p.read_text()) for p in sorted(Path(folder).glob("*.json"))]


def oracle_blob(case: dict[str, Any]) -> bytes:
    return bytes.fromhex(case["serialized"]["hex"])
