"""`hearth reports …`: the moderator channel, and cases for operators (list, show, export).

Admin-facing, so its words live here. `show` and `export` decrypt with HEARTH_ENCRYPTION_KEY, follow the
buttons' rule (`--as U…`: a current member of the moderator channel, not involved in the case; asked of
Slack), never print an anonymous reporter's identity (only the case's pseudonym), and are audited under
that member.
"""

from __future__ import annotations

import json
from typing import Any

import click

from slack_app.cli_support import CliContext, fail, friendly, pass_cli
from slack_app.reports import rules

PROBLEM_FIXES = {
    "public": "that channel is public; reports only go to a private channel.",
    "archived": "that channel is archived.",
    "not_in_channel": "Hearth is not a member of that channel: type `/invite @hearth` in it.",
    "channel_gone": "Slack cannot find that channel (deleted, or private without Hearth): check the id, "
                    "or `/invite @hearth` in the private channel.",
    "unreachable": "Slack could not be asked about that channel; try again.",
    "not_set": "give a channel id.",
}


@click.group("reports", help="Reports of concerns: the moderator channel, and cases for operators.")
def reports() -> None:
    pass


@reports.command(help="Set the private moderator channel that receives report cards (e.g. G0123ABCD).")
@click.argument("channel")
@friendly
@pass_cli
def channel(ctx: CliContext, channel: str) -> None:
    from slack_app.reports import usecases

    channel = channel.strip()
    if not channel or channel[0] not in "CG" or not channel.isalnum():
        fail(f"{channel or '(empty)'} is not a channel id (C… or G…).")
    problem = usecases.set_channel(ctx.services, ctx.slack, ctx.team_id, channel)
    if problem:
        fail(f"not set: {PROBLEM_FIXES.get(problem, problem)}")
    click.echo(f"Reports now go to {channel}.")


def _reporter(case: Any) -> str:
    return case.pseudonym + " (anonymous)" if case.anonymous else str(case.reporter_id)


@reports.command("list", help="Cases of this workspace: number, status, urgency, category, age (no content).")
@click.option("--status", type=click.Choice(rules.STATUSES), default=None)
@friendly
@pass_cli
def list_(ctx: CliContext, status: str | None) -> None:
    from slack_app.cli_support import age
    from storage import reports as store
    from storage.models import utcnow

    with ctx.db.session() as session:
        found = store.cases(session, ctx.team_id, status=status)
        if not found:
            click.echo("No cases.")
            return
        click.echo(f"{'case':>5}  {'status':<12} {'urgency':<7} {'category':<15} {'assignee':<12} age")
        for c in found:
            click.echo(f"{c.number:>5}  {c.status:<12} {c.urgency:<7} {c.category:<15} {c.assignee_id or '—':<12} "
                       f"{age((utcnow() - c.created_at).total_seconds())}")


def _case_doc(ctx: CliContext, session: Any, case: Any) -> dict[str, Any]:
    from storage import reports as store

    crypto = ctx.services.crypto
    details = store.open_details(crypto, case)
    return {
        "case": case.number, "status": case.status, "category": case.category, "urgency": case.urgency,
        "reporter": _reporter(case), "assignee": case.assignee_id, "created_at": case.created_at.isoformat(),
        "follow_up": case.follow_up, "text": details["text"], "people": details["people"],
        "snapshot": details["snapshot"], "receipt": details["receipt"], "moderator_channel": case.channel_id,
        "trail": [{"at": e.at.isoformat(), "actor": case.pseudonym if e.actor == store.REPORTER else e.actor,
                   "action": e.action, "text": e.body} for e in store.entries(session, crypto, case.id)],
    }


AS_HELP = "your Slack user id: you must be a current member of the moderator channel (audited under it)"


def _check_reader(ctx: CliContext, user_id: str, case_id: int, what: str, *, fresh: bool = True) -> bool:
    """The same rule as the buttons: a current member of the moderator channel, not involved in the case."""
    from slack_app.reports import usecases

    return usecases.may_act(ctx.services, ctx.slack, ctx.team_id, case_id, user_id, what, fresh=fresh)


@reports.command(help="One case in full (decrypted with the key); an anonymous reporter shows as the pseudonym.")
@click.argument("number", type=int)
@click.option("--as", "as_user", required=True, help=AS_HELP)
@friendly
@pass_cli
def show(ctx: CliContext, number: int, as_user: str) -> None:
    from storage import reports as store

    with ctx.db.session() as session:
        case = store.by_number(session, ctx.team_id, number)
        if case is None:
            fail(f"there is no case #{number}.")
        case_id = case.id
    if not _check_reader(ctx, as_user, case_id, "show (cli)"):
        fail(f"{as_user} may not read case #{number}: only current members of the moderator channel who are not "
             "involved in it (the attempt was recorded).")
    with ctx.db.session() as session:
        case = store.get(session, case_id)
        doc = _case_doc(ctx, session, case)
        store.add_entry(session, ctx.services.crypto, case, as_user, "shown (cli)")
    click.echo(f"Case #{doc['case']} · {doc['status']} · {doc['category']} · {doc['urgency']} · "
               f"opened {doc['created_at']}")
    click.echo(f"Reporter: {doc['reporter']}   Assignee: {doc['assignee'] or '—'}   Receipt: {doc['receipt']}")
    click.echo(f"What happened:\n  {doc['text']}")
    if doc["people"]:
        click.echo("People involved: " + ", ".join(doc["people"]))
    if doc["snapshot"]:
        s = doc["snapshot"]
        click.echo(f"Reported message ({s['link']}) by {s['author'] or '?'}:\n  {s['text']}")
    click.echo("Trail:")
    for e in doc["trail"]:
        click.echo(f"  {e['at']}  {e['actor']}: {e['action']}" + (f" — {e['text']}" if e["text"] else ""))


@reports.command(help="Every case the reader may read, as JSON lines (decrypted), for the community's records.")
@click.option("--as", "as_user", required=True, help=AS_HELP)
@click.option("--out", type=click.Path(dir_okay=False, writable=True), default=None, help="file (default: stdout)")
@friendly
@pass_cli
def export(ctx: CliContext, as_user: str, out: str | None) -> None:
    from storage import reports as store

    with ctx.db.session() as session:
        ids = [c.id for c in store.cases(session, ctx.team_id)]
    # one conversations.members for the whole export (the first case asks, the rest reuse its answer)
    readable = [i for n, i in enumerate(ids) if _check_reader(ctx, as_user, i, "export (cli)", fresh=n == 0)]
    if ids and not readable:
        fail(f"{as_user} may not read any case: only current members of the moderator channel (recorded).")
    docs = []
    with ctx.db.session() as session:
        for case_id in readable:
            case = store.get(session, case_id)
            docs.append(_case_doc(ctx, session, case))
            store.add_entry(session, ctx.services.crypto, case, as_user, "exported (cli)")
    skipped = len(ids) - len(readable)
    lines = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs)
    if out:
        import os

        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(lines)
        click.echo(f"{len(docs)} cases written to {out}" + (f" ({skipped} left out: {as_user} is involved in "
                                                              "them)." if skipped else "."))
    else:
        click.echo(lines, nl=False)
