"""Text and JSON views of decoded alerts (``hvmiex alert decode --alert``).

The object-by-object layout follows upstream's ``--alert`` output (spec 05 §10) in spirit, with the
producer's meaning of every field (no mislabelled or misread values) and with decoder notes attached.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hvmiex.alerts.decode import field_notes
from hvmiex.alerts.layout import (
    CS_TYPES,
    DPI_FLAG_NAMES,
    EPT_ACCESS_NAMES,
    INJECTION_KINDS,
    LAYOUTS,
    VICTIM_OBJECT_TYPES,
    ZONE_FLAG_NAMES,
    ZONE_TYPES,
    Event,
    Tail,
)
from hvmiex.alerts.model import Alert, AlertNote, AlertObject, BlobString

CLASS_NAMES = {0: "kernel-mode", 1: "user-mode", 2: "kernel-user"}
GUEST_NAMES = {0: "unknown", 1: "windows", 2: "linux"}

# integer fields shown in decimal (everything else is an address, a mask or a size shown in hex)
_DECIMAL = frozenset(
    {
        "pid", "tgid", "count", "length", "access_size", "entry", "timestamp", "exec_count", "vad_type",
        "delta", "rip_index", "msr_count", "cr",
    }
)
_BYTES_SHOWN = 64


def _flags_text(value: int, names: Mapping[int, str]) -> str:
    words = [name for bit, name in names.items() if value & bit]
    rest = value & ~sum(names)
    if rest:
        words.append(f"0x{rest:x}")
    return f"0x{value:x}" + (f" ({', '.join(words)})" if words else "")


def _enum_text(value: int, names: Mapping[int, str]) -> str:
    return f"{names.get(value, 'unknown')} ({value})"


def _event_name(event: int) -> str:
    try:
        return Event(event).name.lower().replace("_", "-")
    except ValueError:
        return "unknown"


def _escape(text: str) -> str:
    out = []
    for ch in text:
        code = ord(ch)
        if code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        else:
            out.append(ch)
    return "".join(out)


def string_text(value: BlobString) -> str:
    """``'text'`` plus what follows the first NUL, when anything does."""
    text = value.text
    shown = value.value
    extra = []
    if value.encoding == 1:
        extra.append("utf-16")
    elif value.encoding > 1:
        extra.append(f"encoding {value.encoding}")
    tail = text[len(shown) :]
    if tail:
        if tail.strip("\0"):
            extra.append(f"after NUL: '{_escape(tail)}'")
        else:
            extra.append(f"+{len(tail)} NUL")
    if value.stale:
        extra.append(f"+{len(value.stale)} stale bytes")
    return f"'{_escape(shown)}'" + (f" [{'; '.join(extra)}]" if extra else "")


def _bytes_text(data: bytes) -> str:
    if len(data) <= _BYTES_SHOWN:
        return data.hex(" ") if data else "(empty)"
    return data[:_BYTES_SHOWN].hex(" ") + f" ... ({len(data)} bytes)"


def field_text(obj: AlertObject, name: str, value: Any, arch64: bool = True) -> str:
    """One field value as people read it."""
    type_id = obj.type_id
    if value is None:
        return "(absent)"
    if isinstance(value, BlobString):
        return string_text(value)
    if isinstance(value, bytes):
        if type_id == 31 and name in ("old", "new"):
            size = min(max(obj.values.get("access_size", 0), 0), 64)
            shown = value[:size] if size else value[:8]
            return _bytes_text(shown) + (f" (+{64 - len(shown)} unused bytes)" if len(shown) < 64 else "")
        if type_id == 32 and name == "value":
            size = min(max(obj.values.get("access_size", 0), 0), 64)
            return _bytes_text(value[:size] if size else value[:8])
        return _bytes_text(value)
    if isinstance(value, tuple):
        if type_id == 35:
            index = obj.values.get("rip_index", -1)
            return ", ".join(
                f"0x{h:08x}" + (" <-RIP" if i == index else "") for i, h in enumerate(value)
            ) or "(none)"
        return ", ".join(string_text(v) if isinstance(v, BlobString) else str(v) for v in value) or "(none)"
    if not isinstance(value, int):
        return str(value)
    if type_id == 7:
        if name == "object_type":
            return _enum_text(value, VICTIM_OBJECT_TYPES)
        if name == "zone_type":
            return _enum_text(value, ZONE_TYPES)
        if name == "zone_flags":
            return _flags_text(value, ZONE_FLAG_NAMES)
    if type_id == 8 and name == "access":
        return _enum_text(value, EPT_ACCESS_NAMES)
    if type_id == 14 and name == "kind":
        return _enum_text(value, INJECTION_KINDS)
    if type_id == 11 and name == "dtr_type":
        return _enum_text(value, VICTIM_OBJECT_TYPES)
    if type_id == 36 and name == "cs_type":
        return _enum_text(value, CS_TYPES)
    if type_id == 39 and name == "flags":
        return _flags_text(value, DPI_FLAG_NAMES)
    if type_id == 45 and name.startswith("heap_page_"):
        return heap_page_text(value)
    if type_id == 9 and name == "msr":
        return f"0x{value:x}"
    if name in _DECIMAL:
        return str(value)
    width = 16 if (arch64 and value > 0xFFFFFFFF) else 0
    return f"0x{value:0{width}x}" if width else f"0x{value:x}"


def object_lines(obj: AlertObject, arch64: bool = True, indent: str = "    ") -> list[str]:
    layout = LAYOUTS[obj.type_id]
    lines: list[str] = []
    if obj.truncated:
        lines.append(f"{indent}(payload missing: serializer buffer exhausted)")
        return lines
    if obj.type_id == 46 and "process" in obj.values:
        inner: AlertObject = obj.values["process"]
        lines.append(f"{indent}(producer defect: holds a process object instead of the descriptor fields)")
        lines.extend(object_lines(inner, arch64, indent + "  "))
        return lines
    names = list(layout.fields) + list(layout.strings)
    if layout.tail is not Tail.NONE:
        names.append(layout.tail_name or "tail")
    if obj.type_id == 34:
        regs = [f"{n}=0x{obj.values[n]:x}" for n in layout.fields]
        for i in range(0, len(regs), 4):
            lines.append(indent + "  ".join(regs[i : i + 4]))
        return lines
    for name in names:
        if layout.count_field == name and layout.tail in (Tail.BYTES, Tail.U32_ARRAY, Tail.COUNTED_STRINGS):
            lines.append(f"{indent}{name}: {obj.values.get(name)}")
            continue
        lines.append(f"{indent}{name}: {field_text(obj, name, obj.values.get(name), arch64)}")
    if obj.type_id == 41:
        lines.extend(indent + line for line in trap_frame_lines(obj.values["trap_frame"], arch64))
    if obj.extra:
        lines.append(f"{indent}(extra payload bytes: {_bytes_text(obj.extra)})")
    return lines


# Trap-frame fields of the DPI pivoted-stack object (spec 05 §7.26): name, offset, size.
_FRAME64 = (
    ("rax", 0x30, 8), ("rcx", 0x38, 8), ("rdx", 0x40, 8), ("r8", 0x48, 8), ("r9", 0x50, 8), ("r10", 0x58, 8),
    ("r11", 0x60, 8), ("gs_base", 0x68, 8), ("ds", 0x130, 2), ("es", 0x132, 2), ("fs", 0x134, 2), ("gs", 0x136, 2),
    ("trap_frame", 0x138, 8), ("rbx", 0x140, 8), ("rdi", 0x148, 8), ("rsi", 0x150, 8), ("rbp", 0x158, 8),
    ("rip", 0x168, 8), ("cs", 0x170, 2), ("eflags", 0x178, 4), ("rsp", 0x180, 8), ("ss", 0x188, 2),
)
_FRAME32 = (
    ("gs", 0x2C, 4), ("es", 0x30, 4), ("ds", 0x34, 4), ("edx", 0x38, 4), ("ecx", 0x3C, 4), ("eax", 0x40, 4),
    ("fs", 0x50, 4), ("edi", 0x54, 4), ("esi", 0x58, 4), ("ebx", 0x5C, 4), ("ebp", 0x60, 4), ("eip", 0x68, 4),
    ("cs", 0x6C, 4), ("eflags", 0x70, 4), ("esp", 0x74, 4), ("ss", 0x78, 4),
)


def trap_frame_lines(frame: bytes, arch64: bool) -> list[str]:
    """The registers of a raw KTRAP_FRAME, as laid out on 64-bit or 32-bit Windows guests."""
    fields = _FRAME64 if arch64 else _FRAME32
    regs = [f"{name}=0x{int.from_bytes(frame[off : off + size], 'little'):x}" for name, off, size in fields]
    return ["trap frame: " + "  ".join(regs[i : i + 6]) if i == 0 else "            " + "  ".join(regs[i : i + 6])
            for i in range(0, len(regs), 6)]


def heap_page_text(value: int) -> str:
    """One heap-spray page word (spec 05 §7.29)."""
    words = []
    if value & 1:
        words.append("mapped")
    if value & 2:
        words.append("detected")
    words.append(f"{(value >> 2) & 0x7FF} heap values")
    if value & 2:
        words.append(f"detection offset 0x{(value >> 13) & 0xFFF:x}")
    if value & (1 << 25):
        words.append("executable")
    return f"0x{value:08x} ({', '.join(words)})"


def header_line(alert: Alert) -> str:
    h = alert.header
    return (
        f"{CLASS_NAMES.get(h.alert_class, '?')} alert (class {h.alert_class}), guest {GUEST_NAMES.get(h.guest, '?')}"
        f" ({h.guest}), {'64' if h.arch == 1 else '32'}-bit, event {_event_name(h.event)} ({h.event}), "
        f"{alert.length} bytes, {len(alert.objects)} objects"
        + (f", header size field {h.size}" if h.size else "")
    )


def all_notes(alert: Alert) -> list[AlertNote]:
    return sorted((*alert.notes, *field_notes(alert)), key=lambda n: (n.offset, n.index or 0))


def alert_text(alert: Alert, *, notes: bool = True) -> str:
    """Every object with its fields, grouped by section, then the decoder's notes."""
    lines = [header_line(alert)]
    arch64 = alert.header.arch == 1
    for obj in alert.objects:
        layout = LAYOUTS[obj.type_id]
        if layout.marker:
            label = (layout.opens or layout.closes)
            assert label is not None
            lines.append(f"{'[' if layout.opens else '[end '}{label.value}]")
            continue
        size = len(obj.extra)
        lines.append(
            f"  #{obj.number} @0x{obj.offset:x} {layout.title} (type {obj.type_id}, {layout.key})"
            + (" [outside any section]" if obj.section is None else "")
            + (f" [+{size} extra bytes]" if size else "")
        )
        lines.extend(object_lines(obj, arch64))
    if notes:
        found = all_notes(alert)
        if found:
            lines.append("notes:")
            lines.extend(f"  {n.render()}" for n in found)
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- JSON


def _json_value(value: Any) -> Any:
    if isinstance(value, BlobString):
        out: dict[str, Any] = {
            "value": value.value,
            "text": value.text,
            "encoding": {0: "utf-8", 1: "utf-16"}.get(value.encoding, value.encoding),
            "length": len(value.raw),
        }
        if not value.valid:
            out["raw"] = value.raw.hex()
        if value.stale:
            out["stale"] = value.stale.hex()
        return out
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, AlertObject):
        return object_json(value)
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    return value


def object_json(obj: AlertObject) -> dict[str, Any]:
    layout = LAYOUTS[obj.type_id]
    out: dict[str, Any] = {
        "index": obj.number,
        "offset": obj.offset,
        "type": obj.type_id,
        "key": layout.key,
        "section": obj.section.value if obj.section else None,
    }
    if not layout.marker:
        out["fields"] = {k: _json_value(v) for k, v in obj.values.items()}
    if obj.extra:
        out["extra"] = obj.extra.hex()
    if obj.truncated:
        out["truncated"] = True
    return out


def note_json(note: AlertNote) -> dict[str, Any]:
    return {
        "offset": note.offset,
        "index": note.index,
        "type": note.type_id,
        "field": note.field,
        "message": note.message,
    }


def alert_json(alert: Alert) -> dict[str, Any]:
    h = alert.header
    return {
        "header": {
            "class": h.alert_class,
            "class_name": CLASS_NAMES.get(h.alert_class),
            "guest": h.guest,
            "guest_name": GUEST_NAMES.get(h.guest),
            "event": h.event,
            "event_name": _event_name(h.event),
            "size": h.size,
            "arch": h.arch,
        },
        "length": alert.length,
        "objects": [object_json(o) for o in alert.objects],
        "notes": [note_json(n) for n in all_notes(alert)],
    }
