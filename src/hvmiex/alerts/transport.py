"""From text to blob bytes: base64 (spec 05 §1) and ``[SERIALIZER]`` log framing (spec 04 §7.6).

Inputs accepted: one base64 text; text with one base64 blob per line; introspection logs in which a
blob is logged as ``[SERIALIZER] Start Serializer ID -> 0x<id>``, slices of at most 1000 characters,
and ``[SERIALIZER] End Serializer ID -> 0x<id>``, possibly with any line envelope before the tag and
with other log lines (or other guests' lines) in between.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from hvmiex.alerts.model import AlertFormatError, alert_error

TAG = "[SERIALIZER]"
_START = re.compile(r"Start Serializer ID\s*->\s*0x([0-9a-fA-F]+)")
_END = re.compile(r"End Serializer ID\s*->\s*0x([0-9a-fA-F]+)")
_GUEST = re.compile(r"^\s*\[([0-9A-Fa-f-]{8,})\]")
_B64_CHARS = re.compile(r"[^A-Za-z0-9+/=]")


@dataclass(frozen=True, slots=True)
class BlobText:
    """One base64 blob found in the input, with where it came from."""

    text: str
    source: str
    line: int | None = None  # 1-based line of the first slice (or of the blob line)
    serializer_id: int | None = None
    error: str | None = None  # framing problem (e.g. a Start without End); text may be partial

    @property
    def where(self) -> str:
        where = self.source
        if self.line is not None:
            where += f":{self.line}"
        if self.serializer_id is not None:
            where += f" (serializer id 0x{self.serializer_id:x})"
        return where


def decode_base64(text: str, source: str = "<alert>", line: int | None = None) -> bytes:
    """Decode base64 like the producer's consumers do: characters outside the alphabet are skipped,
    non-zero unused bits in the last group are accepted (spec 05 §1.1 encoder quirk)."""
    where = f"{source}:{line}" if line is not None else source
    try:
        ascii_text = text.encode("ascii")
    except UnicodeEncodeError as exc:
        raise alert_error(
            f"non-ASCII character {text[exc.start]!r} at column {exc.start + 1} of the base64 text",
            source=where, code="ALERT001", hint="base64 uses A-Z a-z 0-9 + / =",
        ) from None
    stripped = ascii_text.strip()
    if stripped:
        try:  # fast path: canonical text (strict mode still accepts stale unused bits)
            return binascii.a2b_base64(stripped, strict_mode=True)
        except binascii.Error:
            pass
    # slow path, non-validating: skip foreign characters; an "=" that completes a partial group ends
    # the data, an "=" after a complete group is ignored; missing padding is tolerated
    data: list[str] = []
    count = 0
    for char in _B64_CHARS.sub("", ascii_text.decode("ascii")):
        if char == "=":
            if count % 4:
                break
            continue
        data.append(char)
        count += 1
    if not count:
        raise alert_error("no base64 data in the text", source=where, code="ALERT002")
    if count % 4 == 1:
        raise alert_error(
            f"{count} base64 characters: one more than a multiple of 4 (truncated text?)",
            source=where, code="ALERT003",
        )
    text_data = "".join(data) + "=" * ((4 - count % 4) % 4)
    return binascii.a2b_base64(text_data.encode("ascii"))


def is_log_text(text: str) -> bool:
    return TAG in text


def blobs_from_lines(lines: Iterable[str], source: str = "<stdin>") -> Iterator[BlobText]:
    """Blobs of a text: ``[SERIALIZER]`` framing when any line has the tag, else one blob per line
    (empty lines and ``#`` comments skipped)."""
    all_lines = list(lines)
    if any(TAG in line for line in all_lines):
        yield from serializer_blobs(all_lines, source)
        return
    for number, raw in enumerate(all_lines, 1):
        text = raw.strip()
        if text and not text.startswith("#"):
            yield BlobText(text, source, number)


def serializer_blobs(lines: Iterable[str], source: str = "<log>") -> Iterator[BlobText]:
    """Reassemble ``[SERIALIZER]`` slices into blobs; one stream per guest (``[<uuid>]`` line prefix)."""
    open_blobs: dict[str, tuple[int, int, list[str]]] = {}  # guest -> (id, first line, slices)
    for number, raw in enumerate(lines, 1):
        at = raw.find(TAG)
        if at < 0:
            continue
        guest_match = _GUEST.match(raw)
        guest = guest_match.group(1) if guest_match else ""
        message = raw[at + len(TAG) :].strip()
        start = _START.match(message)
        if start:
            previous = open_blobs.pop(guest, None)
            if previous is not None:
                yield BlobText(
                    "".join(previous[2]), source, previous[1], previous[0],
                    error=f"no 'End Serializer' line before the next 'Start' at line {number}",
                )
            open_blobs[guest] = (int(start.group(1), 16), number, [])
            continue
        end = _END.match(message)
        if end:
            current = open_blobs.pop(guest, None)
            if current is None:
                yield BlobText("", source, number, int(end.group(1), 16),
                               error="'End Serializer' line without its 'Start' line")
                continue
            ident, first, slices = current
            error = None
            if int(end.group(1), 16) != ident:
                error = f"'End Serializer' id 0x{end.group(1)} does not match 'Start' id 0x{ident:x}"
            yield BlobText("".join(slices), source, first, ident, error)
            continue
        current = open_blobs.get(guest)
        if current is not None and message:
            current[2].append(message)
    for ident, first, slices in open_blobs.values():
        yield BlobText("".join(slices), source, first, ident,
                       error="log ends before the 'End Serializer' line (blob may be incomplete)")


def serializer_lines(text: str, ident: int, slice_size: int = 1000) -> list[str]:
    """The ``[SERIALIZER]`` messages the producer logs for one base64 text (spec 05 §1.1), including the
    empty extra slice when the length is an exact multiple of the slice size."""
    lines = [f"{TAG} Start Serializer ID -> 0x{ident:x}"]
    lines += [f"{TAG} {text[i : i + slice_size]}" for i in range(0, len(text), slice_size)]
    if len(text) % slice_size == 0:
        lines.append(TAG)
    lines.append(f"{TAG} End Serializer ID -> 0x{ident:x}")
    return lines


def blob_bytes(blob: BlobText) -> bytes:
    """The decoded bytes of a found blob (raises :class:`AlertFormatError` on framing or base64 errors)."""
    if blob.error is not None and not blob.text:
        raise AlertFormatError(f"{blob.where}: {blob.error}")
    return decode_base64(blob.text, blob.source, blob.line)
