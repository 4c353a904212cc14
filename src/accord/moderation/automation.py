"""Hash matches become automated reports: the bridge from matching to moderation.

When the platform names the subject of a lookup (its content id, the uploading
account), every bank that matched files one automated report on that subject,
carrying the bank's labels as ``dimension:value`` strings; repeated matches of
one subject from one bank join the same case (see ``ModerationService.report_match``).
"""

from __future__ import annotations

from dataclasses import dataclass

from accord.matching.lookup import ContentMatch
from accord.moderation.service import ModerationService, ReportReceipt, match_flag

__all__ = ["Subject", "report_content_match"]


@dataclass(frozen=True, slots=True)
class Subject:
    """What the platform calls the content that was looked up."""

    subject_id: str
    subject_type: str = "content"
    account: str | None = None
    reach: int = 0


def report_content_match(
    moderation: ModerationService, outcome: ContentMatch, subject: Subject
) -> list[ReportReceipt]:
    """One automated report per matching bank (positive banks only; suppressed matches
    are not matches), all in one transaction."""
    flags: list[dict[str, object]] = []
    seen: set[str] = set()
    for result in outcome.results.values():
        for match in result.matches:
            if match.bank in seen:
                continue
            seen.add(match.bank)
            labels = sorted(
                f"{dimension}:{value}"
                for dimension, values in match.labels.items()
                for value in values
            )
            flags.append(
                match_flag(
                    subject_type=subject.subject_type,
                    subject_id=subject.subject_id,
                    bank_labels=labels,
                    account=subject.account,
                    content_type=outcome.content_type.value,
                    reach=subject.reach,
                    signal_type=match.signal_type,
                    bank=match.bank,
                )
            )
    return moderation.report_many(flags)
