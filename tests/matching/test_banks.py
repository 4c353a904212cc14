"""Banks, content, labels, provenance and the matcher that follows them, on both databases."""

from __future__ import annotations

import json

import pytest

from accord.errors import AlreadyExists, InvalidInput, InvalidSignal, NotFound, UnknownBank
from accord.matching.service import ContentInput

A = "f" * 64
B = "0" * 64


def near(value: str, bits: int) -> str:
    """``value`` with its first ``bits`` bits flipped."""
    n = int(value, 16) ^ (((1 << bits) - 1) << (256 - bits))
    return f"{n:064x}"


def test_bank_life_cycle_is_recorded_in_the_ledger(store):
    banks = store.banks
    banks.create_bank("TERROR_ATTACKS", description="attacker-produced media", actor="t")
    with pytest.raises(AlreadyExists):
        banks.create_bank("TERROR_ATTACKS", actor="t")
    with pytest.raises(InvalidInput, match="UPPER_WITH_UNDERSCORES"):
        banks.create_bank("lower", actor="t")
    updated = banks.update_bank("TERROR_ATTACKS", matching_enabled_ratio=0.5, actor="t")
    assert updated.matching_enabled_ratio == 0.5
    assert [b.name for b in banks.list_banks()] == ["TERROR_ATTACKS"]
    banks.delete_bank("TERROR_ATTACKS", actor="t")
    with pytest.raises(UnknownBank):
        banks.get_bank("TERROR_ATTACKS")
    kinds = [e.kind for e in store.ledger.entries(0, 100)]
    assert kinds == ["bank.created", "bank.updated", "bank.deleted"]


def test_content_keeps_labels_and_provenance(store):
    store.banks.create_bank("TVEC", actor="curator:1")
    content = store.banks.add_content(
        "TVEC",
        ContentInput(
            signals={"pdq": A.upper()},
            labels={"entity": "Group X", "ideology": ["violent_jihadist"]},
            note="from a partner",
        ),
        source="gifct-list-2026-03",
        actor="curator:1",
    )
    assert content.signals == {"pdq": A}
    assert content.labels == {"entity": ["Group X"], "ideology": ["violent_jihadist"]}
    assert (content.source, content.added_by) == ("gifct-list-2026-03", "curator:1")
    event = store.ledger.entries(0, 10)[-1].data
    assert event["kind"] == "bank.content_added"
    assert event["data"]["signals"] == {"pdq": A}


def test_bulk_add_writes_nothing_when_one_item_is_bad(store):
    store.banks.create_bank("TVEC", actor="t")
    items = [ContentInput(signals={"md5": f"{i:032x}"}) for i in range(50)]
    items.append(ContentInput(signals={"md5": "not-a-hash"}))
    with pytest.raises(InvalidSignal):
        store.banks.add_many("TVEC", items, source="list", actor="t")
    assert store.banks.count_content("TVEC") == 0
    ids = store.banks.add_many("TVEC", items[:-1], source="list", actor="t")
    assert len(ids) == 50 == store.banks.count_content("TVEC")
    event = store.ledger.entries(0, 10)[-1].data
    assert event["kind"] == "bank.imported"
    assert event["data"]["count"] == 50


def test_bad_labels_and_unknown_types_are_refused(accord):
    accord.banks.create_bank("TVEC", actor="t")
    with pytest.raises(InvalidInput, match="label dimension"):
        accord.banks.add_content(
            "TVEC",
            ContentInput(signals={"pdq": A}, labels={"colour": "red"}),
            source="s",
            actor="t",
        )
    with pytest.raises(InvalidInput, match="No such SignalType"):
        accord.banks.add_content("TVEC", ContentInput(signals={"tmk": "x"}), source="s", actor="t")
    with pytest.raises(UnknownBank):
        accord.banks.add_content("NOPE", ContentInput(signals={"pdq": A}), source="s", actor="t")


def test_matcher_follows_adds_removes_and_enable_flags(store):
    banks, matcher = store.banks, store.matcher
    banks.create_bank("TVEC", actor="t")
    assert matcher.lookup("pdq", A).matches == []
    content = banks.add_content(
        "TVEC",
        ContentInput(signals={"pdq": A}, labels={"behaviour": "attack"}),
        source="s",
        actor="t",
    )
    result = matcher.lookup("pdq", near(A, 10))
    assert [(m.bank, m.content_id, m.distance) for m in result.matches] == [
        ("TVEC", content.id, 10)
    ]
    assert result.matches[0].labels == {"behaviour": ["attack"]}
    assert matcher.lookup("pdq", near(A, 32)).matches == []
    banks.set_content_enabled("TVEC", content.id, False, actor="t")
    assert matcher.lookup("pdq", A).matches == []
    banks.set_content_enabled("TVEC", content.id, True, actor="t")
    assert len(matcher.lookup("pdq", A).matches) == 1
    banks.update_bank("TVEC", enabled=False, actor="t")
    assert matcher.lookup("pdq", A).matches == []
    banks.update_bank("TVEC", enabled=True, actor="t")
    banks.remove_content("TVEC", content.id, actor="t")
    assert matcher.lookup("pdq", A).matches == []
    with pytest.raises(NotFound):
        banks.get_content("TVEC", content.id)


def test_per_bank_thresholds_and_coin_flip(accord):
    accord.banks.create_bank("STRICT", thresholds={"pdq": 8}, actor="t")
    accord.banks.create_bank("ROLLOUT", matching_enabled_ratio=0.0, actor="t")
    accord.banks.add_content("STRICT", ContentInput(signals={"pdq": A}), source="s", actor="t")
    accord.banks.add_content("ROLLOUT", ContentInput(signals={"pdq": A}), source="s", actor="t")
    assert accord.matcher.lookup("pdq", near(A, 8)).matches[0].bank == "STRICT"
    assert accord.matcher.lookup("pdq", near(A, 9)).matches == []
    bypass = accord.matcher.lookup("pdq", A, bypass_coinflip=True)
    assert sorted(m.bank for m in bypass.matches) == ["ROLLOUT", "STRICT"]
    only = accord.matcher.lookup("pdq", A, banks_filter=["STRICT"], bypass_coinflip=True)
    assert [m.bank for m in only.matches] == ["STRICT"]


def test_lookup_many_answers_as_lookup_does_value_by_value(accord):
    """Thresholds per bank, coin flips, bank filters and negative banks apply the same when
    an upload's views are looked up together."""
    accord.banks.create_bank("STRICT", thresholds={"pdq": 8}, actor="t")
    accord.banks.create_bank("WIDE", actor="t")
    accord.banks.create_bank("SAFE", kind="negative", actor="t")
    accord.banks.add_content("STRICT", ContentInput(signals={"pdq": A}), source="s", actor="t")
    accord.banks.add_content("WIDE", ContentInput(signals={"pdq": A}), source="s", actor="t")
    accord.banks.add_content(
        "SAFE", ContentInput(signals={"pdq": near(A, 20)}), source="s", actor="t"
    )
    values = [A, near(A, 8), near(A, 9), near(A, 20), near(A, 40), B]
    for banks in (None, ["WIDE"]):
        many = accord.matcher.lookup_many("pdq", values, banks_filter=banks)
        one = [accord.matcher.lookup("pdq", v, banks_filter=banks) for v in values]
        assert many == one
    assert [len(r.matches) for r in one] == [1, 1, 1, 0, 0, 0]  # WIDE only; 20 bits: SAFE


def test_negative_bank_silences_a_known_false_positive(accord):
    accord.banks.create_bank("TVEC", actor="t")
    accord.banks.create_bank("SAFE", kind="negative", actor="t")
    accord.banks.add_content("TVEC", ContentInput(signals={"pdq": A}), source="s", actor="t")
    benign = near(A, 20)
    assert accord.matcher.lookup("pdq", benign).matches
    accord.banks.add_content("SAFE", ContentInput(signals={"pdq": benign}), source="s", actor="t")
    result = accord.matcher.lookup("pdq", benign)
    assert result.matches == []
    assert [m.bank for m in result.suppressed_by] == ["SAFE"]
    assert accord.matcher.lookup("pdq", A).matches  # the banked item itself still matches


def test_a_fresh_matcher_loads_what_is_banked(settings, clock, accord):
    from accord.runtime import Accord

    accord.banks.create_bank("TVEC", actor="t")
    accord.banks.add_many(
        "TVEC",
        [ContentInput(signals={"pdq": near(A, i)}) for i in range(40)],
        source="s",
        actor="t",
    )
    other = Accord(settings, clock=clock)
    try:
        assert len(other.matcher.lookup("pdq", A).matches) == 32  # distances 0..31
        assert other.matcher.status()["pdq"].size == 40
    finally:
        other.close()


def test_change_feed_is_ordered_and_complete(store):
    store.banks.create_bank("TVEC", actor="t")
    ids = store.banks.add_many(
        "TVEC",
        [ContentInput(signals={"md5": f"{i:032x}"}) for i in range(5)],
        source="s",
        actor="t",
    )
    store.banks.remove_content("TVEC", ids[0], actor="t")
    feed = store.banks.changes_since(0)
    assert [c.op for c in feed] == ["add"] * 5 + ["remove"]
    assert [c.seq for c in feed] == sorted(c.seq for c in feed)
    assert json.dumps([c.content_id for c in feed]) == json.dumps([*ids, ids[0]])


def test_a_matcher_starts_from_a_snapshot_and_replays_the_feed(settings, clock, accord):
    from accord.runtime import Accord

    accord.banks.create_bank("TVEC", actor="t")
    ids = accord.banks.add_many(
        "TVEC",
        [ContentInput(signals={"pdq": near(A, i), "md5": f"{i:032x}"}) for i in range(20)],
        source="s",
        actor="t",
    )
    accord.matcher.save_snapshot()
    assert (settings.home / "index" / "matcher.json").exists()
    # changes after the snapshot: one removal, one addition
    accord.banks.remove_content("TVEC", ids[0], actor="t")
    added = accord.banks.add_content(
        "TVEC", ContentInput(signals={"pdq": B}), source="s", actor="t"
    )
    fresh = Accord(settings, clock=clock)
    try:
        got = {m.content_id for m in fresh.matcher.lookup("pdq", A).matches}
        assert got == set(ids[1:20])
        assert [m.content_id for m in fresh.matcher.lookup("pdq", B).matches] == [added.id]
        assert fresh.matcher.lookup("md5", f"{0:032x}").matches == []
        assert fresh.matcher.lookup("md5", f"{5:032x}").matches[0].content_id == ids[5]
    finally:
        fresh.close()


def test_a_damaged_snapshot_is_ignored_not_trusted(settings, clock, accord):
    from accord.runtime import Accord

    accord.banks.create_bank("TVEC", actor="t")
    content = accord.banks.add_content(
        "TVEC", ContentInput(signals={"pdq": A}), source="s", actor="t"
    )
    accord.matcher.save_snapshot()
    (settings.home / "index" / "bank.npy").write_bytes(b"garbage")
    fresh = Accord(settings, clock=clock)
    try:
        assert [m.content_id for m in fresh.matcher.lookup("pdq", A).matches] == [content.id]
    finally:
        fresh.close()


def test_the_configured_pdq_threshold_is_the_matchers_default(tmp_path, clock):
    from accord.config import Settings
    from accord.runtime import Accord

    strict = Accord(Settings(home=tmp_path / "strict", pdq_threshold=10), clock=clock)
    strict.init()
    try:
        strict.banks.create_bank("TVEC", actor="t")
        strict.banks.add_content("TVEC", ContentInput(signals={"pdq": A}), source="s", actor="t")
        assert strict.matcher.lookup("pdq", near(A, 10)).matches
        assert strict.matcher.lookup("pdq", near(A, 11)).matches == []
    finally:
        strict.close()


def test_video_frames_use_the_multi_index_and_agree_with_the_reference(accord):
    import random

    from accord.matching.pdq_index import PdqIndex
    from accord.signals.vpdq import VpdqIndex

    vpdq = accord.signals.get("vpdq")
    rng = random.Random(5)

    def video(frames: list[str]) -> str:
        return "\n".join(f"{i},100,{h},{i:.3f}" for i, h in enumerate(frames))

    bases = [[f"{rng.getrandbits(256):064x}" for _ in range(12)] for _ in range(30)]
    values = [vpdq.validate(video(frames)) for frames in bases]
    fast = VpdqIndex(vpdq, 31, frames=PdqIndex(31))
    flat = vpdq.new_index()
    ids = list(range(1, 31))
    fast.add(ids, values)
    flat.add(ids, values)
    for k in range(30):
        noisy = [near(h, rng.randrange(0, 25)) for h in bases[k][:10]]
        query = vpdq.validate(video(noisy))
        got = [(h.id, h.distance) for h in fast.query(query)]
        assert got == [(h.id, h.distance) for h in flat.query(query)]
        assert got[0][0] == k + 1
    fast.remove([1])
    flat.remove([1])
    query = vpdq.validate(video(bases[0]))
    assert fast.query(query) == flat.query(query) == []


def test_a_long_video_is_banked_and_matched_on_both_databases(store):
    """A 10-minute video's vPDQ (600 frames, about 50 KB) is one signal value: no index on
    the value may limit its length (PostgreSQL's b-tree refuses entries over ~2.7 KB)."""
    import random

    rng = random.Random(11)
    frames = [f"{rng.getrandbits(256):064x}" for _ in range(600)]
    value = "\n".join(f"{i},100,{h},{i:.3f}" for i, h in enumerate(frames))
    store.banks.create_bank("LONG", actor="t")
    content = store.banks.add_content(
        "LONG", ContentInput(signals={"vpdq": value}), source="s", actor="t"
    )
    assert len(store.banks.get_content("LONG", content.id).signals["vpdq"]) > 40_000
    result = store.matcher.lookup("vpdq", value)
    assert [m.content_id for m in result.matches] == [content.id]
