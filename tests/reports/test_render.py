"""Report renderings (CSV one row per figure, self-contained HTML with SVG charts), the
route, and the purity of the arithmetic module."""

from __future__ import annotations

import ast
import csv
import io
import sys
from datetime import date
from pathlib import Path

import accord.reporting.transparency as transparency
from accord.reporting import render
from accord.reporting.transparency import compute
from tests.reports.conftest import leaves

DAY = date(2026, 3, 15)
CP = {"origin": "accord.local/ledger", "size": 3, "root": "AAAA", "note": "n <script>"}


def test_csv_has_one_row_per_figure(accord, scenario):
    r = compute(leaves(accord), DAY, DAY)
    rows = list(csv.reader(io.StringIO(render.to_csv(r))))
    assert rows[0] == ["section", "name", "dimension", "value"]
    assert len(rows) == len(r.figures) + 1
    assert ["christchurch", "hash_matched_removals_by_bank_label", "tve", "1"] in rows
    assert ["automation", "automated_reversal_rate", "", "1.0"] in rows


def test_html_is_self_contained_with_charts(accord, scenario):
    r = compute(leaves(accord), DAY, DAY)
    page = render.to_html(r, CP)
    assert page.count("<svg") >= 5
    assert "<script" not in page  # the note is escaped, and no script is emitted
    assert "&lt;script&gt;" in page
    assert " src=" not in page
    assert "<link" not in page
    assert "Hash matched removals by bank label" in page


def test_document_round_trips_its_figures(accord, scenario):
    r = compute(leaves(accord), DAY, DAY)
    assert render.figures_of(render.document(r, CP)) == r.by_key()


def test_arithmetic_module_imports_only_the_standard_library_and_errors():
    tree = ast.parse(Path(transparency.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(
                node.module if node.module.startswith("accord") else node.module.split(".")[0]
            )
    outside = {m for m in imported if m not in sys.stdlib_module_names}
    assert outside == {"accord.errors"}


def test_route_serves_auditors_only(client, headers, accord, scenario):
    url = "/v1/reporting/transparency?from=2026-03-15&to=2026-03-15"
    response = client.get(url, headers=headers["auditor"])
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["report"] == "transparency"
    assert doc["checkpoint"]["size"] == accord.ledger.size()
    got = {(f["section"], f["name"], f["dimension"]): f["value"] for f in doc["figures"]}
    assert got["notices", "received", ""] == 3
    assert client.get(url, headers=headers["moderator"]).status_code == 403
    page = client.get(url + "&format=html", headers=headers["auditor"])
    assert page.headers["content-type"].startswith("text/html")
    assert client.get(url + "&format=csv", headers=headers["auditor"]).text.startswith("section,")
