"""Counter-narrative redirects (in the manner of the Redirect Method): search terms -> resources.

Curated term lists per locale (in the moderation configuration) map a search
query to resources such as exit programmes and counter-speech. Matching is done
on a normal form that survives what people do to evade filters:

    "J0!n  Î.S.Î.S"  --NFKD, drop accents-->  "J0!n  I.S.I.S"
                     --casefold, 0->o 1->i 3->e 4->a 5->s 7->t @->a $->s !->i-->  "join i.s.i.s"
                     --split on anything not a letter or digit-->  ["join", "i", "s", "i", "s"]
                     --join runs of single letters-->  ["join", "isis"]

and a term matches when its token sequence appears, contiguous, in the query's
(so "isis" matches "join isis now" but not "crisis"). Pure: the service counts
the redirects shown (counts only, never who searched) and logs the counts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["RedirectIndex", "RedirectMatch", "normalize", "tokens"]

_SUBSTITUTIONS = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i",
     "|": "l", "€": "e", "ß": "ss"}
)  # fmt: skip
_SPLIT = re.compile(r"[^a-z0-9]+")


def normalize(text: str) -> str:
    """Case, accents and look-alike characters folded away (digits kept only when
    they are not common letter substitutes)."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.casefold().translate(_SUBSTITUTIONS)


def tokens(text: str) -> tuple[str, ...]:
    """Tokens of the normal form, with runs of one-character tokens joined ("i s i s" -> "isis")."""
    raw = [t for t in _SPLIT.split(normalize(text)) if t]
    out: list[str] = []
    run: list[str] = []
    for token in raw:
        if len(token) == 1:
            run.append(token)
            continue
        if run:
            out.append("".join(run))
            run = []
        out.append(token)
    if run:
        out.append("".join(run))
    return tuple(_squeeze(t) for t in out)


def _squeeze(token: str) -> str:
    """Letters repeated three times or more count once ("joiiiin" -> "join")."""
    return re.sub(r"(.)\1{2,}", r"\1", token)


@dataclass(frozen=True, slots=True)
class RedirectMatch:
    list_id: str
    locale: str
    term: str
    resources: tuple[dict[str, str], ...]


@dataclass(frozen=True, slots=True)
class _Entry:
    list_id: str
    locale: str
    term: str
    tokens: tuple[str, ...]
    resources: tuple[dict[str, str], ...]


class RedirectIndex:
    """Term lists compiled once; :meth:`lookup` answers the lists a query hits."""

    def __init__(
        self,
        lists: Iterable[tuple[str, str, Sequence[str], Sequence[dict[str, str]]]],
    ) -> None:
        self._entries: list[_Entry] = []
        for list_id, locale, terms, resources in lists:
            for term in terms:
                toks = tokens(term)
                if toks:
                    self._entries.append(_Entry(list_id, locale, term, toks, tuple(resources)))
        # Longer terms first, so the most specific term is the one reported.
        self._entries.sort(key=lambda e: -len(e.tokens))

    def lookup(self, query: str, locale: str | None = None) -> list[RedirectMatch]:
        """The lists whose terms occur in ``query`` (one match per list), preferring
        ``locale``'s lists when given but falling back to every locale."""
        q = tokens(query)
        if not q:
            return []
        found: dict[str, RedirectMatch] = {}
        for e in self._entries:
            if e.list_id in found or not _contains(q, e.tokens):
                continue
            found[e.list_id] = RedirectMatch(e.list_id, e.locale, e.term, e.resources)
        matches = list(found.values())
        if locale:
            same = [m for m in matches if m.locale == locale.split("-")[0].lower()]
            if same:
                return same
        return matches


def _contains(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    n = len(needle)
    if n == 0 or n > len(haystack):
        return False
    return any(tuple(haystack[i : i + n]) == tuple(needle) for i in range(len(haystack) - n + 1))
