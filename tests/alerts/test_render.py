"""Text and JSON views: producer meanings, no upstream mislabels."""

from __future__ import annotations

import json

from hvmiex.alerts.decode import decode_alert
from hvmiex.alerts.render import alert_json, alert_text
from tests.alerts.test_layout_fixtures import FIXTURES, HEADER, obj, sample_blob


def test_exec_info_and_arch_regs_have_producer_meaning() -> None:
    text = alert_text(decode_alert(HEADER + obj(33, FIXTURES[33][0]) + obj(34, FIXTURES[34][0])))
    # upstream misreads exec info as four u64 and shows R8 as R9 (spec 05 §13 reader 3, 4)
    assert "stack_base: 0x000007ffe0010000" in text and "length: 5" in text
    assert "r8=0x6c  r9=0x6d" in text


def test_victim_types_from_35_up_keep_their_value() -> None:
    payload = bytes.fromhex("27000000040000000000000010000000")  # type 39 (ACL), zone 4
    text = alert_text(decode_alert(HEADER + obj(7, payload)))
    assert "object_type: acl (39)" in text and "zone_type: integrity (4)" in text


def test_dpi_views() -> None:
    text = alert_text(decode_alert(HEADER + obj(41, FIXTURES[41][0]) + obj(45, FIXTURES[45][0])))
    assert "trap frame: rax=0x3736353433323130" in text
    assert "heap_page_1: 0x01010101 (mapped, 64 heap values)" in text


def test_json_view_is_serializable() -> None:
    data = alert_json(decode_alert(sample_blob()))
    text = json.dumps(data)
    assert data["objects"][1]["fields"]["name"]["value"] == "chrome.exe"
    assert "notes" in data and text
