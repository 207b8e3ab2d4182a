"""The bundled example set (examples/) compiles and uses every kind."""

from __future__ import annotations

from pathlib import Path

from hvmiex.binfile.layout import OBJECT_HEADER, unpack_header
from hvmiex.compiler import compile_set

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "exceptions"


def test_examples_compile() -> None:
    result = compile_set([EXAMPLES])
    kinds = {type(r).__name__ for r in result.exception_set.records}
    assert {"KernelException", "UserException", "UserApcException", "KernelUserException", "GlobException"} <= kinds
    assert len({type(s) for s in result.exception_set.signatures}) == 8
    assert not result.dropped_signatures
    data = result.data
    assert unpack_header(data).magic == 0x414E5845
    # every glob record has the ~200 spare bytes Introcore's loader wants after it (spec 01 §9.3)
    pos = 36
    while pos < len(data):
        t, size = OBJECT_HEADER.struct.unpack_from(data, pos)
        if t == 6:
            assert len(data) - (pos + 3) >= 200 + size
        pos += 3 + size
