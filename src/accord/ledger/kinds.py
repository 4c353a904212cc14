"""The vocabulary of ledger event kinds: append-only.

A kind is persisted in every leaf and read by auditors' tools and by reports,
so a kind is added here and never renamed or removed. Each concern's kinds
share a prefix. ``Ledger.append`` refuses a kind that is not listed.
"""

from __future__ import annotations

__all__ = ["KINDS"]

KINDS: frozenset[str] = frozenset(
    {
        # keys (accord.keys)
        "key.created",
        "key.revoked",
        # banks (accord.matching)
        "bank.created",
        "bank.updated",
        "bank.deleted",
        "bank.content_added",
        "bank.content_updated",
        "bank.content_removed",
        "bank.imported",
        # matching results that led somewhere (accord.matching)
        "match.found",
        # data rights (accord.rights); subjects pseudonymised
        "rights.objected",
        "rights.consented",
        "rights.withdrawn",
        "rights.signal_recorded",
        "rights.gate_run",
        # moderation (accord.moderation): people appear only pseudonymised
        "moderation.report_received",
        "moderation.case_opened",
        "moderation.case_labelled",
        "moderation.case_escalated",
        "moderation.case_reopened",
        "moderation.decision_made",
        "moderation.strike_added",
        "moderation.strike_reversed",
        "moderation.restriction_applied",
        "moderation.restriction_lifted",
        "moderation.appeal_opened",
        "moderation.appeal_decided",
        "moderation.redirects_counted",
        "moderation.statements_submitted",
    }
)
