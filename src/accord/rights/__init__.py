"""Data rights for AI training: consent and objection registry, external signals, the gate.

``model`` holds the rules (pure), ``signals`` parses GPC / TDMRep / AI-preferences
/ noai signals, ``tables`` and ``service`` store the append-only history and run
the gate (:mod:`accord.jobs.gate`).
"""

from accord.rights.model import (
    CATEGORIES,
    PURPOSES,
    Action,
    Basis,
    Decision,
    Entry,
    Reason,
    resolve,
)
from accord.rights.signals import Signal, signals_from_headers

__all__ = [
    "CATEGORIES",
    "PURPOSES",
    "Action",
    "Basis",
    "Decision",
    "Entry",
    "Reason",
    "Signal",
    "resolve",
    "signals_from_headers",
]
