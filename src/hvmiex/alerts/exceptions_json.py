"""Exception and signature JSON for proposals, rendered by the toolkit's model -> JSON writer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hvmiex.alerts.proposals import MergedProposal
from hvmiex.errors import HvmiexError


def proposals_documents(merged: Sequence[MergedProposal]) -> tuple[Any, Any]:
    """(exceptions document, signatures document) ready for ``hvmiex build``."""
    try:
        from hvmiex.source import writer
    except ImportError:
        raise HvmiexError(
            "exception JSON needs hvmiex.source.writer (model -> JSON), which is not available in this build"
        ) from None
    exceptions = [m.proposal.exception for m in merged]
    signatures = [s for m in merged for s in m.proposal.signatures]
    return writer.exceptions_document(exceptions), writer.signatures_document(signatures)  # type: ignore[attr-defined]
