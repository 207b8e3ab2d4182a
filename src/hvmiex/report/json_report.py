"""JSON form of a replay result (schema ``hvmiex-replay/1``, see docs/replay.md)."""

from __future__ import annotations

import json

from hvmiex.replay import ReplayResult


def render_json(result: ReplayResult, *, indent: int | None = 2, rows: bool = True) -> str:
    """The whole result as JSON text; ``rows=False`` leaves the per-violation rows out."""
    data = result.to_dict()
    if not rows:
        data["violations"] = []
    return json.dumps(data, indent=indent, ensure_ascii=False)
