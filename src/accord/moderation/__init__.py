"""Flagging, review, enforcement and appeals, with DSA statements of reasons.

``ModerationService`` (built by ``Accord.moderation``) is the interface; the
pure rules live in :mod:`accord.moderation.model` (strike ladders, urgency,
eligibility), :mod:`accord.moderation.dsa` (statements of reasons) and
:mod:`accord.moderation.redirect` (counter-narrative matching).
"""

from accord.moderation.config import ModerationConfig, load_config
from accord.moderation.model import Action, Ladder, LadderStep, Source, SubjectType
from accord.moderation.service import ModerationService
from accord.moderation.webhooks import WebhookDispatcher, verify_signature

__all__ = [
    "Action",
    "Ladder",
    "LadderStep",
    "ModerationConfig",
    "ModerationService",
    "Source",
    "SubjectType",
    "WebhookDispatcher",
    "load_config",
    "verify_signature",
]
