"""Alert decoding throughput (one core): bytes -> objects, base64 -> objects, and -> violation.

Run: .venv/bin/python benchmarks/bench_alerts.py [--seconds S]
Target (issue 5): >= 20k alerts/s decoded on one core.
"""

from __future__ import annotations

import argparse
import base64
import json
import time
from collections.abc import Callable
from pathlib import Path

from hvmiex.alerts.convert import alert_to_violation
from hvmiex.alerts.decode import decode_alert
from hvmiex.alerts.transport import decode_base64

ORACLE = Path(__file__).resolve().parents[2] / "shared" / "oracle" / "alerts-real" / "cases"


def corpus() -> list[bytes]:
    blobs = [bytes.fromhex(json.loads(p.read_text())["serialized"]["hex"]) for p in sorted(ORACLE.glob("*.json"))]
    if blobs:
        return blobs
    from tests.alerts.test_layout_fixtures import sample_blob  # fallback when ../shared is absent

    return [sample_blob()]


def rate(label: str, items: list[object], func: Callable[[object], object], seconds: float, rounds: int = 5) -> float:
    """Best of ``rounds`` runs, each ``seconds / rounds`` of this process's CPU time (the machine is shared:
    CPU time and best-of-N keep other load out of the single-core figure)."""
    best = 0.0
    for _ in range(rounds):
        done = 0
        start = time.process_time()
        while time.process_time() - start < seconds / rounds:
            for item in items:
                func(item)
            done += len(items)
        best = max(best, done / (time.process_time() - start))
    print(f"{label:<42} {best:>10,.0f} alerts/s  ({1e6 / best:6.1f} us/alert)")
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    blobs = corpus()
    texts = [base64.b64encode(b).decode() for b in blobs]
    size = sum(len(b) for b in blobs) / len(blobs)
    print(f"corpus: {len(blobs)} blobs, mean {size:.0f} bytes, mean "
          f"{sum(len(decode_alert(b).objects) for b in blobs) / len(blobs):.1f} objects")
    bytes_rate = rate("decode (bytes -> objects)", list(blobs), lambda b: decode_alert(b), args.seconds)  # type: ignore[arg-type]
    rate("decode (base64 text -> objects)", list(texts), lambda t: decode_alert(decode_base64(t)), args.seconds)  # type: ignore[arg-type]
    rate("decode + violation (bytes -> Violation)", list(blobs),
         lambda b: alert_to_violation(decode_alert(b)), args.seconds)  # type: ignore[arg-type]
    print(f"target >= 20,000 alerts/s decoded: {'met' if bytes_rate >= 20000 else 'NOT met'} "
          f"({bytes_rate / 20000:.2f}x)")


if __name__ == "__main__":
    main()
