"""Writing a transparency report out: JSON (the record), CSV (one row per figure), HTML.

Pure string building, no IO: the caller writes the returned text. Data flows

    Report + the checkpoint it was computed from --> document() --> JSON text
                                                 --> to_csv()   --> section,name,dimension,value
                                                 --> to_html()  --> one page, charts as inline SVG

The JSON document is what ``accord verify report`` reads back: it names the
checkpoint (origin, tree size, base64 root, the signed note's text) and lists
every figure, so that each can be recomputed from the exported log. The HTML
page has no external assets and no script: bar charts are SVG drawn here.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

from accord.errors import InvalidInput
from accord.reporting.transparency import FORMAT, SECTIONS, Figure, Report, Value

__all__ = ["document", "figures_of", "to_csv", "to_html", "to_json"]


def document(report: Report, checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """The report as a JSON-ready object naming its checkpoint."""
    return {
        "report": "transparency",
        "format": FORMAT,
        "period": {"from": report.start.isoformat(), "to": report.end.isoformat()},
        "checkpoint": dict(checkpoint),
        "figures": [
            {"section": f.section, "name": f.name, "dimension": f.dimension, "value": f.value}
            for f in report.figures
        ],
        "notes": list(report.notes),
    }


def to_json(report: Report, checkpoint: Mapping[str, Any]) -> str:
    return json.dumps(document(report, checkpoint), indent=2, ensure_ascii=False) + "\n"


def figures_of(doc: Mapping[str, Any]) -> dict[tuple[str, str, str], Value]:
    """The figures of a report document, by key (what the verifier compares)."""
    try:
        if doc["report"] != "transparency" or doc["format"] != FORMAT:
            raise InvalidInput("not a transparency report of a known format")
        return {
            (str(f["section"]), str(f["name"]), str(f["dimension"])): f["value"]
            for f in doc["figures"]
        }
    except (KeyError, TypeError) as exc:
        raise InvalidInput(f"not a transparency report: missing {exc}") from exc


def _cell(value: Value) -> str:
    return "" if value is None else str(value)


def to_csv(report: Report) -> str:
    """One row per figure: ``section,name,dimension,value`` (empty value: undefined)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["section", "name", "dimension", "value"])
    for f in report.figures:
        writer.writerow([f.section, f.name, f.dimension, _cell(f.value)])
    return buffer.getvalue()


# --- HTML -------------------------------------------------------------------------------

_BAR = 18
_GAP = 6
_LABEL = 260
_WIDTH = 640


def _svg_bars(title: str, rows: Sequence[tuple[str, float]]) -> str:
    """A horizontal bar chart of ``rows`` (label, value) as inline SVG."""
    top = max((v for _, v in rows), default=0.0) or 1.0
    span = _WIDTH - _LABEL - 70
    height = len(rows) * (_BAR + _GAP) + _GAP
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
        f'role="img" aria-label="{html.escape(title)}">'
    ]
    for i, (label, value) in enumerate(rows):
        y = _GAP + i * (_BAR + _GAP)
        width = max(1.0, span * value / top) if value else 0.0
        shown = f"{value:g}"
        parts.append(
            f'<text x="{_LABEL - 8}" y="{y + _BAR - 5}" text-anchor="end" '
            f'font-size="12">{html.escape(label)}</text>'
            f'<rect x="{_LABEL}" y="{y}" width="{width:.1f}" height="{_BAR}" fill="#3b6ea5">'
            f"<title>{html.escape(label)}: {shown}</title></rect>"
            f'<text x="{_LABEL + width + 6:.1f}" y="{y + _BAR - 5}" font-size="12">{shown}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


_STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.2rem .6rem;text-align:left}
td.v{text-align:right;font-variant-numeric:tabular-nums}tr:nth-child(even){background:#f4f4f4}
pre{background:#f4f4f4;padding:.6rem;overflow-x:auto;font-size:.8rem}figure{margin:1rem 0}
figcaption{font-size:.9rem;color:#555}
"""


def _title(name: str) -> str:
    return name.replace("_", " ").capitalize()


def to_html(report: Report, checkpoint: Mapping[str, Any]) -> str:
    """A self-contained page: per section a table of scalar figures, a chart per breakdown."""
    esc = html.escape
    period = f"{report.start.isoformat()} to {report.end.isoformat()}"
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Transparency report {esc(period)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Transparency report, {esc(period)}</h1>",
        "<p>Every figure below is computed from the events of the tamper-evident ledger "
        f"up to the checkpoint of tree size {esc(str(checkpoint.get('size')))}, and can be "
        "recomputed by anyone holding the exported log (<code>accord verify report</code>).</p>",
    ]
    for section, heading in SECTIONS:
        figures = report.section(section)
        if not figures:
            continue
        out.append(f"<h2>{esc(heading)}</h2>")
        scalars = [f for f in figures if not f.dimension]
        out.append("<table><tr><th>figure</th><th>value</th></tr>")
        out.extend(
            f'<tr><td>{esc(_title(f.name))}</td><td class="v">'
            f"{esc(_cell(f.value) or 'n/a')}</td></tr>"
            for f in scalars
        )
        out.append("</table>")
        breakdowns: dict[str, list[Figure]] = {}
        for f in figures:
            if f.dimension:
                breakdowns.setdefault(f.name, []).append(f)
        for name, rows in breakdowns.items():
            data = [(f.dimension, float(f.value or 0)) for f in rows]
            title = _title(name)
            out.append(
                f"<figure>{_svg_bars(title, data)}<figcaption>{esc(title)}</figcaption></figure>"
            )
    out.append("<h2>Checkpoint</h2>")
    out.append(
        f"<p>Origin {esc(str(checkpoint.get('origin')))}, tree size "
        f"{esc(str(checkpoint.get('size')))}, root {esc(str(checkpoint.get('root')))}.</p>"
    )
    out.append(f"<pre>{esc(str(checkpoint.get('note', '')))}</pre>")
    out.append("<h2>Notes</h2><ul>")
    out.extend(f"<li>{esc(n)}</li>" for n in report.notes)
    out.append("</ul></body></html>\n")
    return "\n".join(out)
