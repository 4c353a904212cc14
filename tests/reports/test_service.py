"""The report service on SQLite and PostgreSQL: figures from the ledger up to a checkpoint,
written as three files that name that checkpoint."""

from __future__ import annotations

import base64
import json
from datetime import date

DAY = date(2026, 3, 15)


def test_report_over_the_latest_checkpoint_on_each_database(store, tmp_path):
    svc = store.moderation
    svc.report(
        subject_type="content", subject_id="p-1", reason="spam", reporter="alice", account="a-1"
    )
    first = store.ledger_service.issue_checkpoint()
    # events after the checkpoint are not in the report computed over it
    svc.report(
        subject_type="content", subject_id="p-2", reason="spam", reporter="bob", account="a-2"
    )
    issued = store.reports.write_transparency(DAY, DAY, tmp_path)
    assert issued.checkpoint["size"] == first.size
    assert issued.checkpoint["root"] == base64.b64encode(first.root).decode()
    assert issued.report.value("notices", "received") == 1
    assert issued.report.value("ledger", "events_read") == first.size
    doc = json.loads(issued.files["json"].read_text())
    assert doc["checkpoint"]["note"] == first.note
    assert issued.files["csv"].read_text().startswith("section,name,dimension,value\n")
    assert "<svg" in issued.files["html"].read_text()
    fresh = store.reports.write_transparency(DAY, DAY, tmp_path, issue_checkpoint=True)
    assert fresh.report.value("notices", "received") == 2
