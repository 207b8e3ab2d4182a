"""The compiler's configuration (upstream ``exceptions/config.json``): versions, predefined names, signature
kind codes, process-creation bits, groups, flag tables and object-type tables.

Everything is read from the file (a custom config may change any value); the stock config is package
data equal to spec 02 §5.1. A :class:`Config` is immutable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hvmiex.errors import Diagnostic, InputError, SourceLocation

FLAG_SECTIONS = ("common", "kernel-mode", "user-mode", "kernel-user-mode", "signatures")
TYPE_SECTIONS = ("kernel-mode", "user-mode", "kernel-user-mode")
PREDEFINED_SECTIONS = ("kernel-mode", "user-mode", "signature")
SIGNATURE_KINDS = (
    "version-os", "version-intro", "process-creation", "export", "value", "idt", "value-code", "codeblocks",
)  # fmt: skip


def _frozen(d: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True, slots=True)
class Config:
    major: int
    minor: int
    predefined: Mapping[str, Mapping[str, int]]  # "kernel-mode" | "user-mode" | "signature" -> name -> value
    signature_types: Mapping[str, int]  # sig_type -> kind code
    process_creation_flags: Mapping[str, str]  # name -> hex text (parsed base 16 at use, as upstream)
    groups: Mapping[str, tuple[str, ...]]
    flags: Mapping[str, Mapping[str, int]]  # section -> name -> bit
    types: Mapping[str, Mapping[str, int]]  # section -> name -> object type value
    source: str = "<stock>"

    def type_name(self, section: str, value: int) -> str | None:
        for name, v in self.types[section].items():
            if v == value:
                return name
        return None

    def flag_table(self, section: str) -> Mapping[str, int]:
        """Flags a kind accepts: its own table first, then ``common`` (spec 02 §7.1).

        ``kernel-user-mode`` is the union user-mode, kernel-mode, kernel-user-mode (later ones win)."""
        if section == "signatures":
            return self.flags["signatures"]
        if section == "kernel-user-mode":
            own = {**self.flags["user-mode"], **self.flags["kernel-mode"], **self.flags["kernel-user-mode"]}
        else:
            own = dict(self.flags[section])
        return MappingProxyType({**self.flags["common"], **own})


def stock_config_path() -> Path:
    return Path(str(resources.files("hvmiex") / "data" / "config.json"))


def load_config(path: str | Path | None = None) -> Config:
    """Load and check a config file (the bundled stock config when ``path`` is None)."""
    p = stock_config_path() if path is None else Path(path)
    shown = str(path) if path is not None else "<stock config.json>"
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read config {shown}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        loc = SourceLocation(shown, exc.lineno, exc.colno)
        raise InputError(
            "invalid configuration", (Diagnostic("config-json", f"not valid JSON: {exc.msg}", location=loc),)
        ) from None
    return config_from_dict(data, shown)


def config_from_dict(data: Any, source: str = "<config>") -> Config:
    problems: list[Diagnostic] = []
    loc = SourceLocation(source)

    def bad(msg: str, fld: str | None = None, hint: str | None = None) -> None:
        problems.append(Diagnostic("config", msg, location=loc, field=fld, hint=hint))

    if not isinstance(data, dict):
        raise InputError("invalid configuration", (Diagnostic("config", "must be a JSON object", location=loc),))

    def section(name: str) -> dict[str, Any]:
        value = data.get(name)
        if not isinstance(value, dict):
            bad(f"section {name!r} is missing or not an object", name)
            return {}
        return value

    def ints(sec: Any, where: str) -> dict[str, int]:
        out: dict[str, int] = {}
        if not isinstance(sec, dict):
            bad("missing or not an object", where)
            return out
        for k, v in sec.items():
            if isinstance(v, bool) or not isinstance(v, int):
                bad(f"value of {k!r} must be an integer", where)
            else:
                out[k] = v
        return out

    version = section("Version")
    major = version.get("Major", 0)
    minor = version.get("Minor", 0)
    for nm, v in (("Major", major), ("Minor", minor)):
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 0xFFFF:
            bad("must be an integer 0..65535", f"Version.{nm}")
    pre = section("Predefined")
    predefined = {s: _frozen(ints(pre.get(s), f"Predefined.{s}")) for s in PREDEFINED_SECTIONS}
    sig_types = ints(section("SignatureType"), "SignatureType")
    for k in SIGNATURE_KINDS:
        if k not in sig_types and "SignatureType" in data:
            bad(f"signature kind {k!r} has no code", "SignatureType")
    pcf: dict[str, str] = {}
    for k, v in section("ProcessCreationFlags").items():
        if not isinstance(v, str):
            bad(f"value of {k!r} must be a hex string", "ProcessCreationFlags")
        else:
            pcf[k] = v
    groups: dict[str, tuple[str, ...]] = {}
    for k, v in section("Groups").items():
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            bad(f"group {k!r} must be a list of strings", "Groups")
        else:
            groups[k] = tuple(v)
    fl = section("Flags")
    flags: dict[str, Mapping[str, int]] = {}
    for s in FLAG_SECTIONS:
        table: dict[str, int] = {}
        sec = fl.get(s)
        if not isinstance(sec, dict):
            if "Flags" in data:
                bad("missing or not an object", f"Flags.{s}")
        else:
            for k, v in sec.items():
                try:
                    if not isinstance(v, str):
                        raise TypeError
                    table[k] = int(v, 0) & 0xFFFFFFFF
                except (TypeError, ValueError):
                    bad(f"flag {k!r}: {v!r} is not a number string (0x.., 0o.., 0b.. or decimal)", f"Flags.{s}")
        flags[s] = _frozen(table)
    ty = section("Types")
    types = {s: _frozen(ints(ty.get(s), f"Types.{s}")) for s in TYPE_SECTIONS}
    if problems:
        raise InputError("invalid configuration", tuple(problems))
    return Config(
        major=int(major),
        minor=int(minor),
        predefined=_frozen(predefined),
        signature_types=_frozen(sig_types),
        process_creation_flags=_frozen(pcf),
        groups=_frozen(groups),
        flags=_frozen(flags),
        types=_frozen(types),
        source=source,
    )
