"""The one exception tree of accord.

Library code raises these and nothing else of its own; the edges translate them
(``accord.api.errors`` to HTTP statuses, ``accord.cli`` to exit codes). Every
exception carries a human sentence that says what was wrong, and its context
as keyword-only attributes so that callers and logs can use it.

    AccordError
    ├── InvalidInput (ValueError)              400
    │   ├── InvalidSignal                       400  a hash string not of its type's form
    │   ├── UnknownSignalType                   400  a signal type name that is not registered
    │   ├── InvalidMedia                        400  undecodable, empty, truncated, bomb
    │   │   └── MediaTooLarge                   413  over the configured upload limit
    │   ├── FetchRefused                        400  a URL that accord will not fetch (SSRF guard)
    │   ├── InvalidConfiguration                400  a configuration that does not hold together
    │   └── VerificationFailed                  400  a proof or signature that fails
    ├── Unauthenticated                         401  no key, or a key that is not known
    ├── PermissionDenied (PermissionError)      403  a known key whose role may not do this
    ├── NotFound (LookupError)                  404
    │   └── UnknownBank                         404
    ├── Conflict                                409  the state does not allow it
    │   └── AlreadyExists                       409
    ├── Gone                                    410  too late (an appeal window that closed)
    ├── RateLimited                             429
    └── UpstreamError                           502  a peer or fetched URL answered badly
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AccordError",
    "AlreadyExists",
    "Conflict",
    "FetchRefused",
    "Gone",
    "InvalidConfiguration",
    "InvalidInput",
    "InvalidMedia",
    "InvalidSignal",
    "MediaTooLarge",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "Unauthenticated",
    "UnknownBank",
    "UnknownSignalType",
    "UpstreamError",
    "VerificationFailed",
]


class AccordError(Exception):
    """Root of every error accord raises on purpose.

    ``message`` is a sentence for a person; ``context`` holds the values it is
    about (keyword-only, so that call sites read as what they mean).
    """

    def __init__(self, message: str, /, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context

    def __str__(self) -> str:
        return self.message


class InvalidInput(AccordError, ValueError):
    """The caller sent something that is not of the expected form."""


class InvalidSignal(InvalidInput):
    """A signal (hash) string that its signal type does not accept."""


class UnknownSignalType(InvalidInput):
    """A signal type name that no registered signal type has."""


class InvalidMedia(InvalidInput):
    """Media that cannot be decoded safely: empty, corrupt, truncated, a bomb, absurd."""


class MediaTooLarge(InvalidMedia):
    """Media larger than the configured limit."""


class FetchRefused(InvalidInput):
    """A URL that accord refuses to fetch (internal address, bad scheme, too big, too slow)."""


class InvalidConfiguration(InvalidInput):
    """A configuration file or value that does not hold together."""


class VerificationFailed(InvalidInput):
    """A proof, signature, checkpoint or exported log that does not verify."""


class Unauthenticated(AccordError):
    """No API key was sent, or the key is not known (or revoked)."""


class PermissionDenied(AccordError, PermissionError):
    """The key is known but its role may not do this."""


class NotFound(AccordError, LookupError):
    """The thing asked for does not exist."""


class UnknownBank(NotFound):
    """No bank has that name."""


class Conflict(AccordError):
    """The current state does not allow the change."""


class AlreadyExists(Conflict):
    """Something with that identity exists already."""


class Gone(AccordError):
    """The change was possible once and is no longer (a closed window)."""


class RateLimited(AccordError):
    """Too many requests from one source in the current window."""


class UpstreamError(AccordError):
    """Another system accord talked to answered badly."""
