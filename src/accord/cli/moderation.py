"""``accord moderation`` and ``accord dsa``: the moderation loop and statements of reasons.

Each command is a few lines over :class:`accord.moderation.service.ModerationService`.
``accord dsa export --out DIR`` writes the statements of reasons in batches of at
most 100 in the Transparency Database's submission shape; ``accord dsa submit``
sends the ones not yet submitted to the configured endpoint with a token.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import typer
from rich.table import Table

from accord.cli.app import app, get_accord, out
from accord.errors import InvalidConfiguration, NotFound
from accord.moderation.config import load_config

moderation_app = typer.Typer(
    help="Moderation: reports, queues, decisions, appeals, eligibility, webhooks, redirects.",
    no_args_is_help=True,
)
dsa_app = typer.Typer(help="DSA statements of reasons: export and submit.", no_args_is_help=True)
app.add_typer(moderation_app, name="moderation")
app.add_typer(dsa_app, name="dsa")


def _plain(value: object) -> object:
    """JSON-ready form of service results (slotted dataclasses have no ``__dict__``)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return getattr(value, "__dict__", str(value))


def _json(value: object) -> None:
    typer.echo(json.dumps(value, indent=2, default=_plain))


@moderation_app.command("check-config")
def check_config(
    path: Path = typer.Argument(
        None, help="A TOML file (default: ACCORD_MODERATION_CONFIG or the packaged one)."
    ),
) -> None:
    """Validate a moderation configuration file and summarise it."""
    config = load_config(path or get_accord().settings.moderation_config)
    out.print(
        f"ok: {len(config.policies)} policies, {len(config.reasons)} reasons, "
        f"{len(config.queues)} queues, {len(config.ladders)} ladders, "
        f"{len(config.redirect)} redirect lists, {len(config.webhooks)} webhooks"
    )


@moderation_app.command("report")
def report(
    subject_type: str = typer.Argument(..., help="content, account, livestream or url."),
    subject_id: str = typer.Argument(..., help="The platform's id of the subject, or the URL."),
    reason: str = typer.Option(..., help="A reason id from the configuration."),
    reporter: str = typer.Option(..., help="The reporting account's id."),
    account: str = typer.Option(None, help="The account that posted the content."),
    text: str = typer.Option(None, help="What the reporter says."),
) -> None:
    """Flag a subject (as the given reporter)."""
    receipt = get_accord().moderation.report(
        subject_type=subject_type,
        subject_id=subject_id,
        reason=reason,
        reporter=reporter,
        account=account,
        text=text,
        actor="cli",
    )
    _json(receipt)


@moderation_app.command("next")
def take_next(
    queue: str = typer.Argument(..., help="The queue id."),
    moderator: str = typer.Option(..., "--as", help="Your name, which holds the lease."),
) -> None:
    """Take the most urgent case of a queue under a lease."""
    view = get_accord().moderation.take_next(queue, holder=moderator, role="admin")
    if view is None:
        raise NotFound(f"queue {queue!r} has no case to take", queue=queue)
    _json(view)


@moderation_app.command("decide")
def decide(
    case_id: int = typer.Argument(..., help="The case you hold."),
    moderator: str = typer.Option(..., "--as", help="Your name (the lease holder)."),
    action: str = typer.Option(
        ..., help="none, remove, disable, demote, age_restrict, label, restrict_interaction."
    ),
    policy: str = typer.Option(None, help="The policy id relied on."),
    facts: str = typer.Option(..., help="Facts and circumstances relied on."),
    account_action: str = typer.Option(
        None, help="Also act on the account: restrict_feature, suspend or terminate."
    ),
    days: int = typer.Option(None, help="How long a restriction or suspension lasts."),
    feature: str = typer.Option(None, help="The feature restricted, e.g. live."),
) -> None:
    """Decide a case you hold (and optionally restrict, suspend or terminate the account)."""
    decision = get_accord().moderation.decide(
        case_id, holder=moderator, actor=f"cli:{moderator}", action=action, facts=facts,
        policy_id=policy, account_action=account_action, account_days=days, feature=feature,
    )  # fmt: skip
    _json(decision)


@moderation_app.command("case")
def show_case(case_id: int = typer.Argument(..., help="The case id.")) -> None:
    """A case with its reports and decisions."""
    _json(get_accord().moderation.case(case_id))


@moderation_app.command("escalate")
def escalate(
    case_id: int = typer.Argument(..., help="The case you hold."),
    moderator: str = typer.Option(..., "--as", help="Your name (the lease holder)."),
    note: str = typer.Option(None, help="Why it needs senior review."),
) -> None:
    """Send a held case to its queue's senior queue."""
    _json(
        get_accord().moderation.escalate(
            case_id, holder=moderator, actor=f"cli:{moderator}", note=note
        )
    )


@moderation_app.command("appeal")
def appeal(
    decision_id: int = typer.Argument(..., help="The decision appealed."),
    appellant: str = typer.Option(
        ..., "--as", help="The account appealing (the affected account, or a reporter)."
    ),
    statement: str = typer.Option(..., help="Why the decision is wrong."),
) -> None:
    """Appeal a decision on behalf of an account (as the platform's support staff would)."""
    _json(
        get_accord().moderation.appeal(
            decision_id, appellant=appellant, statement=statement, actor="cli"
        )
    )


@moderation_app.command("review-appeal")
def review_appeal(
    appeal_id: int = typer.Argument(..., help="The pending appeal."),
    moderator: str = typer.Option(
        ..., "--as", help="Your name (not the one who decided: 'cli:NAME' for CLI decisions)."
    ),
    outcome: str = typer.Option(..., help="upheld or reversed."),
    reason: str = typer.Option(..., help="Why, for the appellant."),
) -> None:
    """Decide an appeal; a reversal restores the content and lifts what the decision caused."""
    _json(
        get_accord().moderation.decide_appeal(
            appeal_id, reviewer=f"cli:{moderator}", outcome=outcome, reason=reason
        )
    )


@moderation_app.command("redirect")
def redirect(
    query: str = typer.Argument(..., help="A search query."),
    locale: str = typer.Option(None, help="Only this locale's lists, e.g. de."),
) -> None:
    """Counter-narrative resources for a search query (counted, never who asked)."""
    _json(get_accord().moderation.redirect(query, locale=locale))


@moderation_app.command("eligibility")
def eligibility(
    account: str = typer.Argument(..., help="The account id."),
    feature: str = typer.Option("live", help="The feature, e.g. live."),
) -> None:
    """May an account use a feature now?"""
    answer = get_accord().moderation.eligibility(account, feature)
    until = answer.until.isoformat() if answer.until else "-"
    out.print(f"{'allowed' if answer.allowed else 'denied'}: {answer.reason} (until {until})")


@moderation_app.command("deliver")
def deliver() -> None:
    """Send the webhook deliveries that are due (for a cron job instead of the API's worker)."""
    sent = get_accord().webhooks.deliver_due()
    out.print(f"{sent} deliveries acknowledged")


@moderation_app.command("deliveries")
def deliveries(limit: int = typer.Option(50, help="How many, newest first.")) -> None:
    """The webhook delivery log."""
    table = Table("id", "event", "url", "state", "attempts", "next attempt", "delivered")
    for d in get_accord().webhooks.log(limit):
        table.add_row(
            str(d.id), d.event, d.url, d.state, str(d.attempts), d.next_attempt_at,
            d.delivered_at or "",
        )  # fmt: skip
    out.print(table)


@moderation_app.command("flush-redirects")
def flush_redirects(
    all_hours: bool = typer.Option(False, "--all", help="Include the current hour."),
) -> None:
    """Log the redirect counts of finished hours to the ledger (counts only)."""
    n = get_accord().moderation.flush_redirect_counts(include_current_hour=all_hours)
    out.print(f"{n} hourly counts logged")


@dsa_app.command("export")
def export(
    out_dir: Path = typer.Option(..., "--out", help="Folder for statements-NNNN.json files."),
    unsubmitted: bool = typer.Option(False, help="Only statements not yet submitted."),
) -> None:
    """Write statements of reasons, at most 100 per file, in the API's submission shape."""
    paths = get_accord().moderation.export_statements(out_dir, unsubmitted_only=unsubmitted)
    for p in paths:
        typer.echo(str(p))


@dsa_app.command("submit")
def submit(
    endpoint: str = typer.Option(
        None, help="The multiple-statements endpoint (default from the configuration)."
    ),
    token_env: str = typer.Option(
        None,
        help="Variable holding the API token (default from the configuration: ACCORD_DSA_TOKEN).",
    ),
) -> None:
    """Submit the statements not yet submitted to the Transparency Database, 100 per call."""
    svc = get_accord().moderation
    settings = svc.config.dsa
    token = os.environ.get(token_env or settings.token_env, "")
    if not token:
        name = token_env or settings.token_env
        raise InvalidConfiguration(f"set {name} to your Transparency Database API token")
    sent = svc.submit_statements(endpoint=endpoint or settings.endpoint, token=token)
    out.print(f"{sent} statements submitted")
