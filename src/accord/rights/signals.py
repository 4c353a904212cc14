"""External consent signals: parse what a browser or a site sent into typed signals.

The registry records a signal with its provenance (which header, document or
tag, its raw value, where it came from) and the effects it has on the
registry's cells; :mod:`accord.rights.model` then resolves signals together
with the person's own choices. Parsing follows each protocol:

* Global Privacy Control: ``Sec-GPC: 1`` (any other value is no signal). Read
  as an objection to selling/sharing and to AI training with the person's data.
* W3C TDMRep: the ``tdm-reservation`` header and ``<meta name="tdm-reservation">``
  (``1`` reserves text-and-data-mining rights, ``0`` does not), and the rules of
  a ``/.well-known/tdmrep.json`` document, matched against a path: the first
  rule whose ``location`` matches applies (``*`` any characters, a final ``$``
  anchors the end, otherwise a prefix match).
* IETF AI-preferences vocabulary: ``Content-Usage: train-ai=n`` is a Structured
  Fields dictionary; ``train-ai`` is ``y`` or ``n`` as a token, anything else
  (and any parse failure) is "unknown", which is no signal; unknown keys and
  parameters are ignored; a repeated key keeps its last value.
* ``X-Robots-Tag: noai`` (every category) / ``noimageai`` (photos and videos),
  optionally prefixed by a user-agent name (``somebot: noai``).

Every parser raises :class:`accord.errors.InvalidInput` only for input that its
protocol calls malformed; a well-formed statement that says nothing becomes no
signal (``None``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from accord.errors import InvalidInput
from accord.rights.model import Action

__all__ = [
    "Effect",
    "Signal",
    "parse_content_usage",
    "parse_gpc",
    "parse_meta_tdm_reservation",
    "parse_sf_dictionary",
    "parse_tdm_reservation",
    "parse_tdmrep_json",
    "parse_x_robots_tag",
    "signals_from_headers",
]

AI = "train_ai_system"
GPC_PURPOSES = ("train_ai_system", "third_party_sharing", "personalised_ads")


@dataclass(frozen=True, slots=True)
class Effect:
    """What a signal says about cells: deny or allow ``purpose`` for ``category`` (None: all)."""

    action: Action
    purpose: str
    category: str | None = None


@dataclass(frozen=True, slots=True)
class Signal:
    """A parsed external signal and its provenance.

    ``kind`` is the protocol (``gpc``, ``tdmrep``, ``aipref``, ``robots``);
    ``source`` where it was read (``header:Sec-GPC``, a document URL, ``meta``);
    ``raw`` the exact value read; ``effects`` what it means for the registry.
    """

    kind: str
    source: str
    raw: str
    effects: tuple[Effect, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "raw": self.raw,
            "effects": [
                {"action": e.action.value, "purpose": e.purpose, "category": e.category}
                for e in self.effects
            ],
        }


def parse_gpc(value: str | None) -> Signal | None:
    """``Sec-GPC: 1`` -> an inferred objection; anything else is no signal (GPC spec)."""
    if value is None or value.strip() != "1":
        return None
    effects = tuple(Effect(Action.SIGNAL_DENY, p) for p in GPC_PURPOSES)
    return Signal("gpc", "header:Sec-GPC", value.strip(), effects)


def _tdm_effect(reserved: int) -> tuple[Effect, ...]:
    action = Action.SIGNAL_DENY if reserved == 1 else Action.SIGNAL_ALLOW
    return (Effect(action, AI),)


def parse_tdm_reservation(
    value: str | None, *, source: str = "header:tdm-reservation"
) -> Signal | None:
    """The TDMRep ``tdm-reservation`` value: ``1`` reserved, ``0`` not reserved."""
    if value is None:
        return None
    text = value.strip()
    if text not in ("0", "1"):
        raise InvalidInput(
            f"tdm-reservation must be 0 or 1, got {value!r}", source=source, value=value
        )
    return Signal("tdmrep", source, text, _tdm_effect(int(text)))


class _MetaFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.values: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "meta":
            return
        found = dict(attrs)
        if (found.get("name") or "").strip().lower() == "tdm-reservation":
            self.values.append(found.get("content") or "")


def parse_meta_tdm_reservation(html: str, *, source: str = "meta:tdm-reservation") -> Signal | None:
    """``<meta name="tdm-reservation" content="1">`` in an HTML page (the first such tag)."""
    finder = _MetaFinder()
    finder.feed(html)
    finder.close()
    if not finder.values:
        return None
    return parse_tdm_reservation(finder.values[0], source=source)


def _location_matches(pattern: str, path: str) -> bool:
    anchored = pattern.endswith("$")
    body = pattern[:-1] if anchored else pattern
    regex = ".*".join(re.escape(part) for part in body.split("*"))
    return re.fullmatch(regex + ("" if anchored else ".*"), path, flags=re.DOTALL) is not None


def parse_tdmrep_json(
    document: str | bytes, *, path: str, source: str = "/.well-known/tdmrep.json"
) -> Signal | None:
    """The rule of a TDMRep well-known document that applies to ``path`` (first match)."""
    try:
        rules = json.loads(document)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"tdmrep.json is not JSON: {exc}", source=source) from exc
    if not isinstance(rules, list):
        raise InvalidInput("tdmrep.json must be a JSON array of rules", source=source)
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict) or not isinstance(rule.get("location"), str):
            raise InvalidInput(
                f"tdmrep.json rule {index} needs a string 'location'", source=source, rule=index
            )
        reservation = rule.get("tdm-reservation")
        if reservation not in (0, 1) or isinstance(reservation, bool):
            raise InvalidInput(
                f"tdmrep.json rule {index}: 'tdm-reservation' must be 0 or 1",
                source=source,
                rule=index,
            )
        if _location_matches(rule["location"], path):
            raw = json.dumps(rule, sort_keys=True, separators=(",", ":"))
            return Signal("tdmrep", source, raw, _tdm_effect(int(reservation)))
    return None


# --- RFC 9651 (Structured Field Values) dictionaries, as much as AIPREF needs ---------------

_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_TOKEN = re.compile(r"[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]*")
_NUMBER = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,3})?")


class _SFError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class _Token:
    value: str


def _bare_item(text: str, pos: int) -> tuple[object, int]:
    if pos >= len(text):
        raise _SFError("item expected")
    ch = text[pos]
    if ch == '"':
        out: list[str] = []
        pos += 1
        while pos < len(text):
            c = text[pos]
            if c == "\\":
                if pos + 1 >= len(text) or text[pos + 1] not in '"\\':
                    raise _SFError("bad escape")
                out.append(text[pos + 1])
                pos += 2
            elif c == '"':
                return "".join(out), pos + 1
            elif not (0x20 <= ord(c) <= 0x7E):
                raise _SFError("bad string character")
            else:
                out.append(c)
                pos += 1
        raise _SFError("unterminated string")
    if ch == "?":
        if text[pos + 1 : pos + 2] in ("0", "1"):
            return text[pos + 1] == "1", pos + 2
        raise _SFError("bad boolean")
    if ch == ":":
        end = text.find(":", pos + 1)
        if end < 0:
            raise _SFError("unterminated byte sequence")
        return text[pos + 1 : end].encode(), end + 1
    m = _NUMBER.match(text, pos)
    if m and (ch == "-" or ch.isdigit()):
        return float(m.group()) if "." in m.group() else int(m.group()), m.end()
    m = _TOKEN.match(text, pos)
    if m:
        return _Token(m.group()), m.end()
    raise _SFError(f"unexpected character {ch!r}")


def _parameters(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] == ";":
        pos += 1
        while pos < len(text) and text[pos] == " ":
            pos += 1
        m = _KEY.match(text, pos)
        if not m:
            raise _SFError("parameter key expected")
        pos = m.end()
        if pos < len(text) and text[pos] == "=":
            _, pos = _bare_item(text, pos + 1)
    return pos


def parse_sf_dictionary(text: str) -> dict[str, object]:
    """A Structured Fields dictionary: key -> bare item (parameters dropped; last key wins).

    Tokens come back as ``_Token``; a key without a value is ``True``; inner lists
    are returned as ``list``. Raises ``ValueError`` on a parse failure.
    """
    result: dict[str, object] = {}
    pos = 0
    text = text.strip(" \t")
    if not text:
        return result
    while True:
        m = _KEY.match(text, pos)
        if not m:
            raise _SFError("key expected")
        key = m.group()
        pos = m.end()
        value: object = True
        if pos < len(text) and text[pos] == "=":
            pos += 1
            if pos < len(text) and text[pos] == "(":
                items: list[object] = []
                pos += 1
                while True:
                    while pos < len(text) and text[pos] == " ":
                        pos += 1
                    if pos < len(text) and text[pos] == ")":
                        pos += 1
                        break
                    item, pos = _bare_item(text, pos)
                    pos = _parameters(text, pos)
                    items.append(item)
                    if pos >= len(text) or text[pos] not in " )":
                        raise _SFError("inner list")
                value = items
            else:
                value, pos = _bare_item(text, pos)
        pos = _parameters(text, pos)
        result.pop(key, None)
        result[key] = value
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos >= len(text):
            return result
        if text[pos] != ",":
            raise _SFError("comma expected")
        pos += 1
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos >= len(text):
            raise _SFError("trailing comma")


def parse_content_usage(
    value: str | None, *, source: str = "header:Content-Usage"
) -> Signal | None:
    """IETF AI-preferences ``train-ai`` from a ``Content-Usage`` field; unknown -> None."""
    if value is None:
        return None
    try:
        prefs = parse_sf_dictionary(value)
    except _SFError:
        return None  # the vocabulary: a parse failure leaves every preference unknown
    token = prefs.get("train-ai")
    if not isinstance(token, _Token) or token.value not in ("y", "n"):
        return None
    action = Action.SIGNAL_DENY if token.value == "n" else Action.SIGNAL_ALLOW
    return Signal("aipref", source, value.strip(), (Effect(action, AI),))


def parse_x_robots_tag(value: str | None, *, source: str = "header:X-Robots-Tag") -> Signal | None:
    """``noai`` (every category) and ``noimageai`` (photos, videos) in an X-Robots-Tag value."""
    if value is None:
        return None
    directives: set[str] = set()
    for part in value.split(","):
        word = part.strip().lower()
        if ":" in word:  # "somebot: noai" - the directive applies to that agent, and to us
            word = word.split(":", 1)[1].strip()
        directives.update(word.split())
    effects: list[Effect] = []
    if "noai" in directives:
        effects.append(Effect(Action.SIGNAL_DENY, AI))
    elif "noimageai" in directives:
        effects.extend(
            [Effect(Action.SIGNAL_DENY, AI, "photos"), Effect(Action.SIGNAL_DENY, AI, "videos")]
        )
    if not effects:
        return None
    return Signal("robots", source, value.strip(), tuple(effects))


def signals_from_headers(headers: Mapping[str, str]) -> list[Signal]:
    """Every signal in a set of HTTP header fields (names are case-insensitive)."""
    lower = {k.lower(): v for k, v in headers.items()}
    found = [
        parse_gpc(lower.get("sec-gpc")),
        parse_tdm_reservation(lower.get("tdm-reservation")),
        parse_content_usage(lower.get("content-usage")),
        parse_x_robots_tag(lower.get("x-robots-tag")),
    ]
    return [s for s in found if s is not None]
