"""Transparency-report arithmetic over ledger events alone: a pure function, no IO.

The published figures must be recomputable by anyone who holds the exported
log, so they are a function of ledger leaves (``{"seq", "time", "kind",
"actor", "data"}``) and of the reporting period, never of the database's
tables. Data flows

    leaves (dicts, or canonical JSON lines) --> :class:`Tally` (one pass, in seq order)
        --> :meth:`Tally.report` --> :class:`Report` (a sorted tuple of :class:`Figure`)

An event counts when the date of its ``time`` lies in ``start..end``
(inclusive, UTC). Events before the period are still read, because some figures
join two events (a notice received on the 31st and first reviewed on the 1st).
Every duration is a median in seconds, never an average.

The quantities follow the DSA harmonised transparency-report templates
(Implementing Regulation (EU) 2024/2835; DSA Arts. 15, 20, 23, 24): notices by
category and source (trusted flaggers apart), median time to acknowledge and to
act, own-initiative actions by category and detection method, automated means
and an accuracy indicator (share of automated decisions reversed on appeal),
complaints with outcomes, median handling time and reversals, and restrictions
by type; then Christchurch Call figures: hash-matched removals by bank label,
livestreams cut and the time to cut them, redirects shown, and objections to AI
training received and honoured. See docs/reports.md for each definition.

This module imports nothing from accord but the error class, so an auditor's
verifier (:mod:`accord.reporting.verify`) can run it without a database.
"""

from __future__ import annotations

import json
import json.scanner
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from accord.errors import InvalidInput

__all__ = [
    "FORMAT",
    "SECTIONS",
    "Figure",
    "Report",
    "Tally",
    "compute",
    "compute_lines",
    "feed_lines",
    "figure_key",
]

FORMAT = 1
"""Version of the report's figure vocabulary (bumped if a definition changes)."""

SECTIONS: tuple[tuple[str, str], ...] = (
    ("notices", "Notices (DSA Art. 16, reported under Art. 15(1)(b))"),
    ("own_initiative", "Own-initiative moderation (Art. 15(1)(c))"),
    ("automation", "Automated means and their accuracy (Art. 15(1)(e))"),
    ("complaints", "Complaints: internal appeals (Arts. 15(1)(d), 20)"),
    ("restrictions", "Account restrictions and suspensions (Arts. 23, 24(1)(b))"),
    ("christchurch", "Christchurch Call commitments"),
    ("ledger", "The log this report was computed from"),
)
_SECTION_ORDER = {name: i for i, (name, _) in enumerate(SECTIONS)}

_NOTICE_SOURCES = ("user", "trusted_flagger")
_REMOVALS = frozenset({"remove", "disable"})
_NOT_AUTOMATED = "AUTOMATED_DECISION_NOT_AUTOMATED"
_AI_PURPOSE = "train_ai_system"

# Figures present in every report, zero when nothing happened (dimension "").
_ALWAYS: tuple[tuple[str, str], ...] = (
    ("notices", "received"),
    ("notices", "from_trusted_flaggers"),
    ("notices", "actioned"),
    ("notices", "closed_without_action"),
    ("notices", "median_seconds_to_acknowledge"),
    ("notices", "median_seconds_to_act"),
    ("own_initiative", "actions"),
    ("own_initiative", "automated_reports"),
    ("automation", "decisions"),
    ("automation", "decisions_with_automated_detection"),
    ("automation", "automated_decisions"),
    ("automation", "automated_decisions_reversed"),
    ("automation", "automated_reversal_rate"),
    ("complaints", "received"),
    ("complaints", "decided"),
    ("complaints", "reversals"),
    ("complaints", "reversal_rate"),
    ("complaints", "median_seconds_to_decide"),
    ("restrictions", "applied"),
    ("restrictions", "lifted"),
    ("restrictions", "strikes_added"),
    ("restrictions", "strikes_reversed"),
    ("christchurch", "hash_matched_removals"),
    ("christchurch", "livestreams_cut"),
    ("christchurch", "median_seconds_to_cut_livestream"),
    ("christchurch", "redirects_shown"),
    ("christchurch", "ai_training_objections_received"),
    ("christchurch", "ai_training_objections_honoured"),
    ("ledger", "events_read"),
    ("ledger", "events_in_period"),
)

Value = int | float | None


@dataclass(frozen=True, slots=True)
class Figure:
    """One published number: ``section``/``name``, broken down by ``dimension`` ("" if not).

    ``value`` is ``None`` where a figure is undefined (a median of nothing, a
    rate over zero decisions).
    """

    section: str
    name: str
    dimension: str
    value: Value

    def key(self) -> tuple[str, str, str]:
        return (self.section, self.name, self.dimension)


def figure_key(section: str, name: str, dimension: str = "") -> str:
    """The text form of a figure's key, for messages: ``section.name[dimension]``."""
    return f"{section}.{name}" + (f"[{dimension}]" if dimension else "")


@dataclass(frozen=True, slots=True)
class Report:
    """The figures of one period, in a fixed order (section, name, dimension)."""

    start: date
    end: date
    figures: tuple[Figure, ...]
    notes: tuple[str, ...] = ()

    def value(self, section: str, name: str, dimension: str = "") -> Value:
        """One figure's value (``KeyError`` if the report has no such figure)."""
        for f in self.figures:
            if f.section == section and f.name == name and f.dimension == dimension:
                return f.value
        raise KeyError(figure_key(section, name, dimension))

    def by_key(self) -> dict[tuple[str, str, str], Value]:
        return {f.key(): f.value for f in self.figures}

    def section(self, section: str) -> list[Figure]:
        return [f for f in self.figures if f.section == section]


def _seconds(later: str, earlier: str) -> float:
    """Seconds between two RFC 3339 UTC times as accord writes them (``...Z``)."""
    return (_parse(later) - _parse(earlier)).total_seconds()


_parse = datetime.fromisoformat  # reads the "Z" of accord's times (Python >= 3.11)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


@dataclass
class Tally:
    """The running state of one pass over the log (feed events in seq order)."""

    start: date
    end: date
    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    durations: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    # joins across events: notices waiting for their case's first review, by case
    _pending: dict[Any, list[str]] = field(default_factory=dict)
    # a partial tally (one chunk of the log, merged later) remembers each case's first review
    partial: bool = False
    read: int = 0
    in_period: int = 0
    _first_reviews: dict[Any, tuple[str, bool]] = field(default_factory=dict)
    _objections: list[int] = field(default_factory=list)
    _gate_seq: int = -1
    _live_seen: bool = False
    _first: str = ""
    _last: str = ""

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InvalidInput(
                f"the period ends ({self.end}) before it starts ({self.start})",
                start=str(self.start),
                end=str(self.end),
            )
        self._first = self.start.isoformat()
        self._last = self.end.isoformat()

    # --- feeding -----------------------------------------------------------------------

    def add(self, event: Mapping[str, Any]) -> None:
        """Count one leaf (a dict with ``seq``, ``time``, ``kind``, ``data``)."""
        try:
            kind = event["kind"]
            time = event["time"]
        except KeyError as exc:
            raise InvalidInput(f"a ledger event without {exc.args[0]!r}") from exc
        self.feed(kind, time, event.get("seq", -1), event.get("data") or {})

    def feed(self, kind: str, time: str, seq: int, data: Mapping[str, Any]) -> None:
        """Count one leaf given as its parts."""
        day = time[:10]
        self.read += 1
        within = self._first <= day <= self._last
        if within:
            self.in_period += 1
        if day > self._last:
            return
        handler = _HANDLERS.get(kind)
        if handler is None and kind.startswith("live."):
            handler = Tally._live
        if handler is not None:
            handler(self, kind, seq, data, time, within)

    def skip(self, day: str) -> None:
        """Count a leaf that no figure reads but the event counts (``YYYY-MM-DD`` given)."""
        self.read += 1
        if self._first <= day <= self._last:
            self.in_period += 1

    def _n(self, section: str, name: str, dimension: str = "", by: int = 1) -> None:
        self.counts[section, name, dimension] += by

    # --- handlers (each gets the event, its data, its time, whether it is in the period) ---

    def _report(self, kind: str, seq: int, d: Mapping[str, Any], t: str, within: bool) -> None:
        source = d.get("source") or "unknown"
        if source == "automated":
            if within:
                self.counts["own_initiative", "automated_reports", ""] += 1
            return
        self._pending.setdefault(d.get("case"), []).append(t)
        if not within:
            return
        self.counts["notices", "received", ""] += 1
        self._n("notices", "received_by_category", str(d.get("reason") or "unknown"))
        self.counts["notices", "received_by_source", source] += 1
        if source == "trusted_flagger":
            self.counts["notices", "from_trusted_flaggers", ""] += 1

    def _first_review(self, case: Any, t: str, within: bool) -> None:
        if self.partial and case not in self._first_reviews:
            self._first_reviews[case] = (t, within)
        waiting = self._pending.pop(case, None)
        if waiting and within:
            self.durations["notices.acknowledge"].extend(_seconds(t, w) for w in waiting)

    def _reviewed(self, kind: str, seq: int, d: Mapping[str, Any], t: str, within: bool) -> None:
        self._first_review(d.get("case"), t, within)

    def _decision(self, kind: str, seq: int, d: Mapping[str, Any], t: str, within: bool) -> None:
        self._first_review(d.get("case"), t, within)
        if not within:
            return
        action = str(d.get("action") or "none")
        acted = action != "none"
        category = str(d.get("category") or "unspecified")
        sources = d.get("sources") or []
        labels = d.get("match_labels") or []
        opened = d.get("opened_at")
        automated = str(d.get("automated_decision") or _NOT_AUTOMATED)
        detection = bool(d.get("automated_detection"))
        self.counts["automation", "decisions", ""] += 1
        self.counts["automation", "decisions_by_automation", automated] += 1
        if automated != _NOT_AUTOMATED:
            self.counts["automation", "automated_decisions", ""] += 1
        if detection:
            self.counts["automation", "decisions_with_automated_detection", ""] += 1
        if any(s in _NOTICE_SOURCES for s in sources):
            if acted:
                self.counts["notices", "actioned", ""] += 1
                self.counts["notices", "actioned_by_category", category] += 1
                self._n("notices", "actioned_by_ground", str(d.get("ground") or "unspecified"))
                self.counts["notices", "actioned_by_action", action] += 1
            else:
                self.counts["notices", "closed_without_action", ""] += 1
            if opened:
                self.durations["notices.act"].append(_seconds(t, opened))
        elif acted:
            method = (
                ("automated_hash_match" if labels else "automated_other")
                if detection
                else ("human")
            )
            self.counts["own_initiative", "actions", ""] += 1
            self.counts["own_initiative", "actions_by_category", category] += 1
            self.counts["own_initiative", "actions_by_detection_method", method] += 1
            self.counts["own_initiative", "actions_by_action", action] += 1
        if action in _REMOVALS:
            if labels:
                self.counts["christchurch", "hash_matched_removals", ""] += 1
                for label in labels:
                    self.counts[
                        "christchurch", "hash_matched_removals_by_bank_label", str(label)
                    ] += 1
            if d.get("subject_type") == "livestream":
                self.counts["christchurch", "livestreams_cut", ""] += 1
                self.counts["christchurch", "livestreams_cut_by_means", "moderation_decision"] += 1
                if opened:
                    self.durations["christchurch.cut"].append(_seconds(t, opened))

    def _appeal_opened(
        self, kind: str, seq: int, d: Mapping[str, Any], t: str, within: bool
    ) -> None:
        if within:
            self.counts["complaints", "received", ""] += 1
            self._n(
                "complaints", "received_by_appellant", str(d.get("appellant_kind") or "unknown")
            )

    def _appeal_decided(
        self, kind: str, seq: int, d: Mapping[str, Any], t: str, within: bool
    ) -> None:
        if not within:
            return
        outcome = str(d.get("outcome") or "unknown")
        self.counts["complaints", "decided", ""] += 1
        self.counts["complaints", "decided_by_outcome", outcome] += 1
        if d.get("opened_at"):
            self.durations["complaints.decide"].append(_seconds(t, str(d["opened_at"])))
        if outcome == "reversed":
            self.counts["complaints", "reversals", ""] += 1
            automated = d.get("automated_decision")
            if automated is not None and automated != _NOT_AUTOMATED:
                self.counts["automation", "automated_decisions_reversed", ""] += 1

    def _restriction(self, kind: str, seq: int, d: Mapping[str, Any], t: str, within: bool) -> None:
        if within:
            kind = str(d.get("kind") or "unknown")
            if kind == "feature":
                kind = f"feature:{d.get('feature') or '?'}"
            self.counts["restrictions", "applied", ""] += 1
            self.counts["restrictions", "applied_by_type", kind] += 1

    def _redirects(self, kind: str, seq: int, d: Mapping[str, Any], t: str, within: bool) -> None:
        if not within:
            return
        for list_id, shown in sorted((d.get("shown") or {}).items()):
            self._n("christchurch", "redirects_shown", by=int(shown))
            self._n("christchurch", "redirects_shown_by_list", str(list_id), by=int(shown))

    def _objected(self, kind: str, seq: int, d: Mapping[str, Any], t: str, within: bool) -> None:
        if within and d.get("purpose") == _AI_PURPOSE:
            self._objection(seq, "choice")

    def _signal(self, kind: str, seq: int, d: Mapping[str, Any], t: str, within: bool) -> None:
        if not within:
            return
        for effect in d.get("effects") or []:
            if effect.get("purpose") == _AI_PURPOSE and effect.get("action") == "signal_deny":
                self._objection(seq, "signal")
                return

    def _objection(self, seq: int, channel: str) -> None:
        self.counts["christchurch", "ai_training_objections_received", ""] += 1
        self.counts["christchurch", "ai_training_objections_by_kind", channel] += 1
        self._objections.append(seq)

    def _gate(self, kind: str, seq: int, d: Mapping[str, Any], t: str, within: bool) -> None:
        registry = d.get("registry_seq")
        if within and d.get("purpose") == _AI_PURPOSE and isinstance(registry, int):
            self._gate_seq = max(self._gate_seq, registry)
            self.counts["christchurch", "ai_training_gate_runs", ""] += 1

    def _live(self, kind: str, seq: int, d: Mapping[str, Any], t: str, within: bool) -> None:
        """``live.*`` kinds (accord.live) are counted when present; a cut carries
        ``flagged_at`` or ``started_at`` for the time to cut."""
        self._live_seen = True
        if not within:
            return
        self.counts["christchurch", "live_events", kind] += 1
        if kind.endswith("cut"):
            self.counts["christchurch", "livestreams_cut", ""] += 1
            self.counts["christchurch", "livestreams_cut_by_means", "live_lane"] += 1
            since = d.get("flagged_at") or d.get("started_at")
            if since:
                self.durations["christchurch.cut"].append(_seconds(t, str(since)))

    def merge(self, later: Tally) -> None:
        """Absorb the tally of the chunk of the log that follows this one's."""
        ack = self.durations["notices.acknowledge"]
        pending: dict[Any, list[str]] = {}
        for case, times in self._pending.items():
            first = later._first_reviews.get(case)
            if first is None:
                pending[case] = times
            elif first[1]:
                ack.extend(_seconds(first[0], w) for w in times)
        for case, times in later._pending.items():
            pending[case] = pending.get(case, []) + times
        self._pending = pending
        for case, first in later._first_reviews.items():
            self._first_reviews.setdefault(case, first)
        self.counts.update(later.counts)
        self.read += later.read
        self.in_period += later.in_period
        for name, values in later.durations.items():
            self.durations[name].extend(values)
        self._objections.extend(later._objections)
        self._gate_seq = max(self._gate_seq, later._gate_seq)
        self._live_seen = self._live_seen or later._live_seen

    # --- the result --------------------------------------------------------------------

    def report(self) -> Report:
        """The figures counted so far, sorted, with every always-present figure."""
        values: dict[tuple[str, str, str], Value] = {(s, n, ""): 0 for s, n in _ALWAYS}
        values.update(self.counts)
        values["ledger", "events_read", ""] = self.read
        values["ledger", "events_in_period", ""] = self.in_period
        honoured = sum(1 for s in self._objections if 0 <= s <= self._gate_seq)
        values["christchurch", "ai_training_objections_honoured", ""] = honoured
        values["notices", "median_seconds_to_acknowledge", ""] = _median(
            self.durations["notices.acknowledge"]
        )
        values["notices", "median_seconds_to_act", ""] = _median(self.durations["notices.act"])
        values["complaints", "median_seconds_to_decide", ""] = _median(
            self.durations["complaints.decide"]
        )
        values["christchurch", "median_seconds_to_cut_livestream", ""] = _median(
            self.durations["christchurch.cut"]
        )
        automated = int(self.counts["automation", "automated_decisions", ""])
        values["automation", "automated_reversal_rate", ""] = _rate(
            self.counts["automation", "automated_decisions_reversed", ""], automated
        )
        values["complaints", "reversal_rate", ""] = _rate(
            self.counts["complaints", "reversals", ""], self.counts["complaints", "decided", ""]
        )
        figures = tuple(
            Figure(s, n, d, v)
            for (s, n, d), v in sorted(
                values.items(), key=lambda kv: (_SECTION_ORDER.get(kv[0][0], 99), *kv[0])
            )
        )
        notes = [
            "Durations are medians in seconds; rates are shares between 0 and 1.",
            "Notices are acknowledged when their case is first reviewed "
            "(labelled, escalated or decided).",
        ]
        if not self._live_seen:
            notes.append(
                "No live.* events are in the log yet: livestreams cut counts moderation "
                "decisions on livestreams; live.* kinds are counted when present."
            )
        return Report(self.start, self.end, figures, tuple(notes))


_HANDLERS = {
    "moderation.report_received": Tally._report,
    "moderation.case_labelled": Tally._reviewed,
    "moderation.case_escalated": Tally._reviewed,
    "moderation.decision_made": Tally._decision,
    "moderation.appeal_opened": Tally._appeal_opened,
    "moderation.appeal_decided": Tally._appeal_decided,
    "moderation.restriction_applied": Tally._restriction,
    "moderation.redirects_counted": Tally._redirects,
    "rights.objected": Tally._objected,
    "rights.signal_recorded": Tally._signal,
    "rights.gate_run": Tally._gate,
}


def _count(section: str, name: str) -> Any:
    def handler(self: Tally, kind: str, seq: int, d: Mapping[str, Any], t: str, w: bool) -> None:
        if w:
            self.counts[section, name, ""] += 1

    return handler


_HANDLERS.update(
    {
        "moderation.restriction_lifted": _count("restrictions", "lifted"),
        "moderation.strike_added": _count("restrictions", "strikes_added"),
        "moderation.strike_reversed": _count("restrictions", "strikes_reversed"),
    }
)


def compute(events: Iterable[Mapping[str, Any]], start: date, end: date) -> Report:
    """The transparency report of ``start..end`` (inclusive) from ledger leaves in seq order."""
    tally = Tally(start, end)
    for event in events:
        tally.add(event)
    return tally.report()


def compute_lines(lines: Iterable[bytes], start: date, end: date) -> Report:
    """:func:`compute` over canonical JSON leaves (an export: one leaf per line)."""
    tally = Tally(start, end)
    feed_lines(tally, lines)
    return tally.report()


_DATA = ',"data":'
_SEQ = '"seq":'
_KIND_S = '"kind":"'
_TIME_S = '"time":"'
# the C scanner: one value from an offset (typeshed types make_scanner as a class)
_SCAN = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def feed_lines(tally: Tally, lines: Iterable[bytes]) -> None:
    """Feed canonical JSON leaves to ``tally``, parsing only what a figure reads.

    A leaf's keys are sorted (``actor``, ``data``, ``kind``, ``seq``, ``time``)
    and a quote inside a string value is escaped, so the top-level ``data`` is
    the first ``,"data":`` and ``kind``, ``seq`` and ``time`` are the *last*
    occurrences of their keys. Leaves of kinds no figure reads are counted from
    their text alone; of the others only ``data`` is parsed (the C scanner,
    from its offset). The result is the same as feeding the parsed leaves (a
    property test checks).
    """
    wanted = set(_HANDLERS)
    last = tally._last
    scan = _SCAN
    feed = tally.feed
    for raw in lines:
        try:
            line = raw.decode()
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"a line of the export is not UTF-8: {exc}") from exc
        k = line.rfind(_KIND_S)
        t = line.rfind(_TIME_S)
        if k < 0 or t < k:
            if not line.strip():
                continue
            raise InvalidInput("a line of the export is not a ledger leaf")
        kind = line[k + 8 : line.find('"', k + 8)]
        time = line[t + 8 : line.find('"', t + 8)]
        if (kind in wanted or kind[:5] == "live.") and time[:10] <= last:
            d = line.find(_DATA)
            try:
                data, _ = scan(line, d + 8)
                seq = int(line[line.rfind(_SEQ) + 6 : t - 1]) if kind[:7] == "rights." else -1
            except (StopIteration, ValueError) as exc:  # JSONDecodeError is a ValueError
                raise InvalidInput(f"a line of the export is not a ledger leaf: {exc}") from exc
            if d < 0 or type(data) is not dict:
                raise InvalidInput("a line of the export is not a ledger leaf")
            feed(kind, time, seq, data)
        else:
            tally.skip(time[:10])
