"""The upstream sample corpus lints without crashing."""

from __future__ import annotations

from hvmiex.lint import lint_paths
from hvmiex.lint.render import render_sarif
from tests.conftest import shared_path


def test_sample_corpus_lints() -> None:
    corpus = shared_path("corpus", "hvmi-jsons")
    result = lint_paths([str(corpus)])
    assert not result.errors, [d.render() for d in result.errors]
    assert all(d.location is not None and d.location.line for d in result.diagnostics)
    render_sarif(result)
