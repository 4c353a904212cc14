"""Configuration validation, the ACCORD_MODERATION_CONFIG override, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accord.cli.app import run
from accord.errors import InvalidConfiguration
from accord.moderation.config import load_config
from tests.moderation.conftest import config_text


def test_the_shipped_configuration_holds_together():
    config = load_config()
    tve = config.policy_by_id["tve.terrorist_content"]
    assert tve.tier == "most_serious"
    assert tve.ground == "law"
    assert config.route("terrorism_violent_extremism", "user", "content").id == "tve"
    assert config.route("spam", "user", "content").id == "general"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'tier = "most_serious"\nground = "law"',
            'tier = "legendary"\nground = "law"',
            "unknown tier 'legendary'",
        ),
        (
            '"STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY"',
            '"STATEMENT_CATEGORY_TERRORISM"',
            "not a DSA statement category",
        ),
        ('escalate_to = "senior"', 'escalate_to = "nowhere"', "unknown queue 'nowhere'"),
        ("terminate_at = 6", "terminate_at = 2", "terminate_at must come after"),
        ("lease_seconds = 300", "lease_seconds = -1", "lease_seconds"),
        ("lease_seconds = 300", "lease_seconds = [", "not valid TOML"),
    ],
)
def test_bad_configurations_are_refused_with_the_field_named(tmp_path, old, new, message):
    text = config_text()
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1), "utf-8")
    with pytest.raises(InvalidConfiguration, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value)
    with pytest.raises(InvalidConfiguration, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_override_by_environment_and_terminate_on_first(monkeypatch, tmp_path, clock):
    from accord.config import Settings
    from accord.runtime import Accord

    path = tmp_path / "strict.toml"
    path.write_text(
        config_text().replace(
            "terminate_first_tiers = []", 'terminate_first_tiers = ["most_serious"]'
        ),
        "utf-8",
    )
    monkeypatch.setenv("ACCORD_MODERATION_CONFIG", str(path))
    accord = Accord(Settings(), clock=clock)
    accord.init()
    try:
        svc = accord.moderation
        case_id = svc.report(
            subject_type="content",
            subject_id="c",
            account="acct",
            reason="terrorism_violent_extremism",
            reporter="r",
        ).case_id
        svc.take_next("tve", holder="m", role="moderator")
        d = svc.decide(
            case_id,
            holder="m",
            actor="key:m",
            action="remove",
            facts="attack",
            policy_id="tve.terrorist_content",
        )
        assert {r.kind for r in d.restrictions} == {"feature", "termination"}
        assert svc.statement(d.id)["decision_account"] == "DECISION_ACCOUNT_TERMINATED"
        assert svc.eligibility("acct", "live").reason == "the account is terminated"
    finally:
        accord.close()


def test_cli_walks_a_case_and_exports_statements(tmp_path, capsys):
    assert run(["moderation", "check-config"]) == 0
    assert (
        run(
            [
                "moderation",
                "report",
                "content",
                "c1",
                "--reason",
                "hate_speech",
                "--reporter",
                "alice",
                "--account",
                "bob",
            ]
        )
        == 0
    )
    assert run(["moderation", "next", "general", "--as", "mia"]) == 0
    assert (
        run(
            [
                "moderation",
                "decide",
                "1",
                "--as",
                "mia",
                "--action",
                "remove",
                "--policy",
                "hate.speech",
                "--facts",
                "a slur",
            ]
        )
        == 0
    )
    assert (
        run(["moderation", "decide", "1", "--as", "mia", "--action", "none", "--facts", "again"])
        == 5
    )  # Conflict: already decided
    assert run(["moderation", "eligibility", "bob"]) == 0
    capsys.readouterr()
    out = tmp_path / "sor"
    assert run(["dsa", "export", "--out", str(out)]) == 0
    files = sorted(Path(out).glob("statements-*.json"))
    body = json.loads(files[0].read_text())
    assert len(body["statements"]) == 1
    assert body["statements"][0]["puid"] == "accord-decision-1"
    assert run(["dsa", "submit"]) == 2  # no token configured
    assert run(["moderation", "flush-redirects", "--all"]) == 0
    assert run(["moderation", "deliveries"]) == 0


def test_every_cli_command_has_help():
    import typer.main

    from accord.cli import commands  # noqa: F401
    from accord.cli.moderation import dsa_app, moderation_app

    for group in (moderation_app, dsa_app):
        for command in typer.main.get_command(group).commands.values():
            assert command.help, command.name


def test_cli_escalates_appeals_and_reviews(capsys):
    def call(*args):
        capsys.readouterr()
        code = run(list(args))
        return code, capsys.readouterr().out

    assert call("moderation", "report", "content", "c1", "--reason", "hate_speech",
                "--reporter", "alice", "--account", "bob")[0] == 0  # fmt: skip
    assert call("moderation", "report", "content", "c2", "--reason", "spam",
                "--reporter", "alice", "--account", "bob")[0] == 0  # fmt: skip
    assert call("moderation", "next", "general", "--as", "mia")[0] == 0
    code, out = call("moderation", "decide", "1", "--as", "mia", "--action", "remove",
                     "--policy", "hate.speech", "--facts", "a slur",
                     "--account-action", "suspend", "--days", "3")  # fmt: skip
    assert code == 0
    assert [r["kind"] for r in json.loads(out)["restrictions"]] == ["suspension"]
    assert call("moderation", "eligibility", "bob")[1].startswith("denied")
    assert call("moderation", "next", "general", "--as", "tri")[0] == 0
    code, out = call("moderation", "escalate", "2", "--as", "tri", "--note", "unsure")
    assert code == 0
    assert json.loads(out)["queue"] == "senior"
    code, out = call("moderation", "case", "2")
    assert json.loads(out)["queue"] == "senior"
    code, out = call("moderation", "appeal", "1", "--as", "bob", "--statement", "context")
    assert code == 0
    appeal_id = str(json.loads(out)["id"])
    # the moderator who decided may not review the appeal
    assert call("moderation", "review-appeal", appeal_id, "--as", "mia", "--outcome",
                "reversed", "--reason", "mine")[0] != 0  # fmt: skip
    code, out = call("moderation", "review-appeal", appeal_id, "--as", "ray", "--outcome",
                     "reversed", "--reason", "quoted as news")  # fmt: skip
    assert code == 0
    assert json.loads(out)["state"] == "reversed"
    assert call("moderation", "eligibility", "bob")[1].startswith("allowed")
    code, out = call("moderation", "redirect", "how to join isis")
    assert code == 0
    assert isinstance(json.loads(out), list)
