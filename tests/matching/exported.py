"""Everything accord shows or exports about a bank, as texts: what a side signal that is
never exported (keypoints, bank-side views) must not appear in."""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from typing import Any

from accord.exchange.formats import Format, write_items


def exported_texts(accord: Any, client: Any, headers: dict[str, str], ids: list[int]) -> list[str]:
    """The content routes (accord's and HMA's) for two items of bank TVEC, its listing and
    change feed, every export format, the change records and the ledger's event data."""
    texts = [
        client.get(f"/v1/banks/TVEC/content/{ids[0]}", headers=headers).text,
        client.get(f"/c/bank/TVEC/content/{ids[1]}", headers=headers).text,
        client.get("/v1/banks/TVEC/content", headers=headers).text,
        client.get("/v1/exchange/banks/TVEC/changes", headers=headers).text,
    ]
    for fmt in Format:
        buffer = io.StringIO()
        assert write_items(accord.banks.iter_content("TVEC"), buffer, fmt) == len(ids)
        texts.append(buffer.getvalue())
    texts.append(json.dumps([asdict(c) for c in accord.banks.changes_since(0)]))
    events = accord.ledger.entries(0, accord.ledger.size())
    texts.extend(json.dumps(e.data, default=str) for e in events)
    return texts
