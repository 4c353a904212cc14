"""Parsing external signals: GPC, TDMRep (header, meta, well-known file), AI preferences, noai."""

from __future__ import annotations

import json

import pytest

from accord.errors import InvalidInput
from accord.rights.model import Action
from accord.rights.signals import (
    Effect,
    parse_content_usage,
    parse_gpc,
    parse_meta_tdm_reservation,
    parse_tdm_reservation,
    parse_tdmrep_json,
    parse_x_robots_tag,
    signals_from_headers,
)

DENY_AI = Effect(Action.SIGNAL_DENY, "train_ai_system")
ALLOW_AI = Effect(Action.SIGNAL_ALLOW, "train_ai_system")


def test_gpc_one_is_an_objection_and_anything_else_is_nothing():
    s = parse_gpc("1")
    assert s is not None
    assert s.kind == "gpc"
    assert s.source == "header:Sec-GPC"
    assert DENY_AI in s.effects
    assert {e.purpose for e in s.effects} >= {"third_party_sharing", "personalised_ads"}
    assert parse_gpc("0") is None
    assert parse_gpc(None) is None
    assert parse_gpc("yes") is None


@pytest.mark.parametrize(("value", "effect"), [("1", DENY_AI), (" 0 ", ALLOW_AI)])
def test_tdm_reservation_header(value, effect):
    s = parse_tdm_reservation(value)
    assert s is not None
    assert s.effects == (effect,)
    assert s.kind == "tdmrep"


def test_tdm_reservation_rejects_other_values():
    with pytest.raises(InvalidInput, match="0 or 1"):
        parse_tdm_reservation("true")


def test_tdm_reservation_meta_tag():
    page = '<html><head><META name="TDM-Reservation" content="1"></head></html>'
    s = parse_meta_tdm_reservation(page)
    assert s is not None
    assert s.effects == (DENY_AI,)
    assert s.source == "meta:tdm-reservation"
    assert parse_meta_tdm_reservation("<p>nothing</p>") is None


def test_tdmrep_json_first_matching_rule_applies():
    doc = json.dumps(
        [
            {"location": "/u/alice/*", "tdm-reservation": 1, "tdm-policy": "https://x/p"},
            {"location": "/u/*", "tdm-reservation": 0},
            {"location": "/exact$", "tdm-reservation": 1},
        ]
    )
    alice = parse_tdmrep_json(doc, path="/u/alice/photo/1")
    assert alice is not None
    assert alice.effects == (DENY_AI,)
    bob = parse_tdmrep_json(doc, path="/u/bob")
    assert bob is not None
    assert bob.effects == (ALLOW_AI,)
    assert parse_tdmrep_json(doc, path="/exact") is not None
    assert parse_tdmrep_json(doc, path="/exact/more") is None


@pytest.mark.parametrize(
    "doc",
    [
        "not json",
        '{"location": "/"}',
        '[{"tdm-reservation": 1}]',
        '[{"location": "/", "tdm-reservation": 2}]',
    ],
)
def test_tdmrep_json_malformed_documents_are_errors(doc):
    with pytest.raises(InvalidInput, match=r"tdmrep\.json"):
        parse_tdmrep_json(doc, path="/")


@pytest.mark.parametrize(
    ("value", "effect"),
    [
        ("train-ai=n", DENY_AI),
        ("search=y, train-ai=n", DENY_AI),
        ("train-ai=y", ALLOW_AI),
        ("train-ai=y;x=1, foo=bar", ALLOW_AI),
        ("train-ai=y, train-ai=n", DENY_AI),  # the last value of a key applies
        ("train-ai;allow=n, train-ai=y", ALLOW_AI),
    ],
)
def test_content_usage_train_ai(value, effect):
    s = parse_content_usage(value)
    assert s is not None
    assert s.effects == (effect,)
    assert s.kind == "aipref"


@pytest.mark.parametrize(
    "value",
    ["", "search=n", 'train-ai="n"', "train-ai", "train-ai=N", "Train-AI=n", "train-ai=n,", "=="],
)
def test_content_usage_unknown_is_no_signal(value):
    assert parse_content_usage(value) is None


def test_x_robots_tag_noai_and_noimageai():
    s = parse_x_robots_tag("noindex, noai")
    assert s is not None
    assert s.effects == (DENY_AI,)
    img = parse_x_robots_tag("somebot: noimageai")
    assert img is not None
    assert {e.category for e in img.effects} == {"photos", "videos"}
    assert parse_x_robots_tag("noindex, nofollow") is None


def test_signals_from_headers_reads_every_known_field_case_insensitively():
    found = signals_from_headers(
        {
            "sec-gpc": "1",
            "TDM-Reservation": "1",
            "content-usage": "train-ai=n",
            "X-Robots-Tag": "noai",
            "Other": "x",
        }
    )
    assert sorted(s.kind for s in found) == ["aipref", "gpc", "robots", "tdmrep"]
