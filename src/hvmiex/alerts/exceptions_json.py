"""Exception and signature JSON for proposals, rendered by the toolkit's model -> JSON writer."""

from __future__ import annotations

from collections.abc import Sequence

from hvmiex.alerts.proposals import MergedProposal
from hvmiex.source.writer import JsonDocument, write_json


def proposals_documents(merged: Sequence[MergedProposal]) -> list[JsonDocument]:
    """The JSON documents (signatures first, then one per exception kind) ready for ``hvmiex build``."""
    exceptions = [m.proposal.exception for m in merged]
    signatures = [s for m in merged for s in m.proposal.signatures]
    return write_json(exceptions=exceptions, signatures=signatures)
