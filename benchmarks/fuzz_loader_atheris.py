"""Coverage-guided fuzzing of the exceptions.bin loader with atheris (optional, not run in CI).

    .venv/bin/pip install atheris
    .venv/bin/python benchmarks/fuzz_loader_atheris.py -max_total_time=300

Any exception other than hvmiex's BinaryFormatError escaping the loader or the parser is a bug.
"""

from __future__ import annotations

import contextlib
import sys

import atheris

with atheris.instrument_imports():
    from hvmiex.binfile.reader import load, parse_exceptions_bin
    from hvmiex.errors import BinaryFormatError


def test_one_input(data: bytes) -> None:
    result = load(data)
    assert result.accepted == (not result.reasons)
    with contextlib.suppress(BinaryFormatError):
        parse_exceptions_bin(data)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
