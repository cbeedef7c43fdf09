"""The ``mentionbot`` command line. User-facing messages are made here and nowhere else."""

from __future__ import annotations

import csv
import dataclasses
import getpass
import json
import logging
import os
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from rich.markup import escape
from rich.table import Table

from bot.cases import mirror_of, stage_name
from bot.clock import Clock, SystemClock
from bot.config import Config, load_config
from bot.errors import ConfigError, StoreError
from bot.escape import terminal as shown
from bot.models import Case
from bot.store.records import Counts
from bot.terminal import command_name, console, due, err, local, span, zone


class Context:
    """What every command needs: the config path, and the loaded config and store on demand."""

    def __init__(self, config_path: str, *, clock: Clock | None = None):
        self.config_path = config_path
        self._config: Config | None = None
        self._store = None
        self.clock = clock or SystemClock()

    def config(self, *, check_env: bool = False) -> Config:
        if self._config is None:
            try:
                self._config = load_config(self.config_path, check_env=check_env)
                # Running (and checking before running) needs a contact route, which a missing [brand] lacks.
                if check_env and (missing := self._config.brand.problems("brand")):
                    self._config = None
                    raise ConfigError(missing)
            except ConfigError as exc:
                self.refuse(exc)
        return self._config

    def refuse(self, exc: ConfigError) -> None:
        """Print every problem of the configuration and exit 2 (nothing starts)."""
        err.print(f"[red]{self.config_path}: {len(exc.problems)} problem(s):[/red]")
        for problem in exc.problems:
            err.print(f"  - {problem}", markup=False)
        sys.exit(2)

    def templates(self):
        """The configured reply templates; a problem in their file is a config problem naming ``templates.path``."""
        from responders.compose import load_templates

        config = self.config()
        try:
            return load_templates(config.resolve(config.templates.path) if config.templates.path else None)
        except ConfigError as exc:
            self.refuse(ConfigError([f"templates.path: {p}" for p in exc.problems]))

    def tz(self) -> ZoneInfo:
        """The brand's time zone: every time a person reads is in it."""
        return ZoneInfo(self.config().brand.timezone)

    def store(self, *, create: bool = False):
        """The store; only commands that run the bot (``create``) make the database, the others refuse."""
        from bot.store import Store

        if self._store is not None:
            return self._store
        location = self.config().store_location()
        if not create and isinstance(location, Path) and not location.exists():
            err.print(
                f"[red]no database at {location}[/red]: nothing has run with this configuration yet "
                f"(`{command_name()} -c {self.config_path} run --once` creates it)",
                markup=True,
            )
            sys.exit(1)
        try:
            self._store = Store.open(location)
        except StoreError as exc:  # PostgreSQL unreachable or refusing us: one line, no traceback
            err.print(f"[red]store:[/red] {escape(str(exc))}")
            sys.exit(1)
        return self._store


pass_ctx = click.make_pass_decorator(Context)


def setup_logging(verbose: bool, fmt: str = "text") -> None:
    from bot import logs

    logs.setup(verbose=verbose, fmt=fmt)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "-c",
    "config_path",
    default=lambda: os.environ.get("MENTIONBOT_CONFIG", "config.toml"),
    show_default="config.toml or $MENTIONBOT_CONFIG",
    help="The configuration file.",
)
@click.version_option(package_name="mentionbot")
@click.pass_context
def cli(ctx: click.Context, config_path: str) -> None:
    """Watch platforms and review sites for brand mentions, draft doctrine-following replies, get them
    approved, post them exactly once, and keep each customer's follow-up on time."""
    # A test may invoke the command line with a clock as ``obj`` (click's CliRunner), to pin "now".
    ctx.obj = Context(config_path, clock=ctx.obj if hasattr(ctx.obj, "now") else None)


def main() -> None:
    """Console-script entry point."""
    cli()


# -- output for scripts: JSON and CSV, times in ISO 8601 UTC ----------------------------------------------------


def json_option(fn):
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (times in ISO 8601 UTC).")(fn)


def csv_option(fn):
    return click.option("--csv", "as_csv", is_flag=True, help="Print CSV (times in ISO 8601 UTC).")(fn)


def _plain(value: Any) -> Any:
    from bot.store import iso

    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def emit_json(value: Any) -> None:
    """Print ``value`` as JSON: the times as ISO 8601 UTC text."""
    click.echo(json.dumps(_plain(value), ensure_ascii=False, indent=2))


def emit_csv(rows: list[dict[str, Any]], fields: list[str]) -> None:
    """Print ``rows`` as CSV with a header; a list in a cell is joined by "; "."""
    writer = csv.DictWriter(sys.stdout, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {k: "; ".join(map(str, v)) if isinstance(v, list) else v for k, v in _plain(row).items()}
        )


def case_record(c) -> dict[str, Any]:
    """A case as plain data (the stored stage, and its name for people)."""
    return {**dataclasses.asdict(c), "stage_name": stage_name(c.stage)}


# -- running ------------------------------------------------------------------------------------------------


@cli.command()
@click.option("--once", is_flag=True, help="Run one cycle (poll, post, sweep) and exit.")
@click.option("--verbose", "-v", is_flag=True, help="Log debug detail.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    envvar="MENTIONBOT_LOG_FORMAT",
    help="Log lines as text or one JSON object each (also $MENTIONBOT_LOG_FORMAT).",
)
@pass_ctx
def run(ctx: Context, once: bool, verbose: bool, log_format: str) -> None:
    """Run the daemon on the configuration until SIGINT/SIGTERM (or one cycle with --once)."""
    from bot.daemon import Daemon
    from bot.pipeline import Pipeline

    setup_logging(verbose, log_format)
    config = ctx.config(check_env=True)
    ctx.templates()
    store = ctx.store(create=True)
    pipeline = Pipeline(config, store, clock=ctx.clock)
    if config.dry_run:
        logging.getLogger("mentionbot").warning("dry_run is on: nothing will be posted (set dry_run = false)")
    if once:
        pipeline.run_cycle()
        pipeline.close()
        counts = store.counts()
        console.print(
            f"one cycle done: {counts.mentions} mentions stored, {counts.awaiting} drafts awaiting approval, "
            f"{counts.open_cases} open cases"
        )
        return
    approval = None
    quiet = pipeline.on_event

    def leadership(leading: bool) -> None:
        """The Discord bot runs in the leading daemon only (one bot, one card per draft), and moves with it."""
        nonlocal approval
        if leading and approval is None and config.discord.enabled:
            from responders.discord import ApprovalBot

            approval = ApprovalBot.from_config(config, clock=ctx.clock, post=pipeline.post).start()
            pipeline.on_event = approval.on_event
        elif not leading and approval is not None:
            pipeline.on_event = quiet
            approval.stop()
            approval = None

    from bot.webhooks import start_if_configured

    webhooks = start_if_configured(pipeline, config.webhooks)
    daemon = Daemon(pipeline, on_leadership=leadership)
    daemon.install_signal_handlers()
    try:
        daemon.run()
    finally:
        if webhooks:
            webhooks.stop()
        if approval:
            approval.stop()
    if daemon.left_behind:
        # Python's exit would wait for the job left running (the report's or the retraining's child process is
        # joined at exit); what it had not committed is rolled back all the same.
        sys.stderr.flush()
        os._exit(0)


@cli.command()
@click.argument("connectors", nargs=-1)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the secrets' template. Default: mentionbot.env beside the config.",
)
@pass_ctx
def init(ctx: Context, connectors: tuple[str, ...], env_file: Path | None) -> None:
    """Write a commented config.toml with CONNECTORS enabled, and a template of the secrets' env variables."""
    from bot.config import SHIPPED, starter_config

    config = Path(ctx.config_path)
    env_file = env_file or config.parent / "mentionbot.env"
    if not SHIPPED.exists():
        err.print(
            f"[red]the shipped config is not at {SHIPPED}: run init from a git checkout's install[/red]"
        )
        sys.exit(1)
    try:
        starter = starter_config(SHIPPED.read_text(), list(dict.fromkeys(connectors)))
    except ConfigError as exc:
        ctx.refuse(exc)
    existing = [p for p in (config, env_file) if p.exists()]
    if existing:
        err.print(
            f"[red]refused:[/red] {', '.join(map(str, existing))} already exist(s); nothing was written"
        )
        sys.exit(1)
    lines = [
        "# The secrets mentionbot reads (NAME=value lines). Keep this file private (mode 600): systemd's",
        "# EnvironmentFile=, docker run --env-file, or `set -a; . ./mentionbot.env; set +a` in a shell.",
        *(f"# {where}\n{name}=" for name, where in starter.secrets),
        *(f"# {where}\n# {name}=" for name, where in starter.optional),
    ]
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(starter.text)
    env_file.parent.mkdir(parents=True, exist_ok=True)
    env_file.touch(mode=0o600)
    env_file.write_text("\n".join(lines) + "\n")
    console.print(f"wrote {config} (connectors enabled: {', '.join(connectors) or 'none'}; dry_run = true)")
    console.print(f"wrote {env_file}: fill in {len(starter.secrets)} secret(s), then", markup=False)
    console.print(f"  {command_name()} -c {config} check --offline", markup=False)


@cli.command()
@click.option("--offline", is_flag=True, help="Only validate the file; do not log in to the platforms.")
@pass_ctx
def check(ctx: Context, offline: bool) -> None:
    """Validate the configuration (all problems at once) and log in to each enabled platform."""
    config = ctx.config(check_env=True)
    ctx.templates()
    enabled = config.enabled_connectors()
    console.print(
        f"{ctx.config_path}: valid; connectors enabled: {', '.join(enabled) or 'none'}; "
        f"dry_run = {str(config.dry_run).lower()}"
    )
    if offline:
        return
    from bot import report as weekly
    from bot.failures import cause
    from bot.pipeline import build_connectors
    from bot.store import Store

    location = config.store_location()
    # The quota a login spends is booked where the daemon counts it; before the first run there is no database
    # yet, and check does not make one.
    store = Store.memory() if isinstance(location, Path) and not location.exists() else ctx.store()
    logins: list[tuple[str, Any, Any]] = [
        (name, connector.check, connector)
        for name, connector in build_connectors(config, store, clock=ctx.clock).items()
    ]
    if config.discord.enabled:
        logins.append(("discord", lambda: _discord_login(config), None))
    ok = 0
    for name, login, connector in logins:
        try:
            said = login()
        except Exception as exc:  # report every platform, whatever went wrong, in plain words
            console.print(
                f"  {name}: not logged in: {cause(exc).text}", style="red", markup=False, soft_wrap=True
            )
            continue
        ok += 1
        console.print(f"  {name}: {said}", markup=False, soft_wrap=True)
        expiry = connector.credential_expiry() if connector is not None else None
        if expiry:
            note = weekly.credentials(
                expiry, now=ctx.clock.now(), tz=ctx.tz(), warn_days=config.report.credentials_warn_days
            )
            console.print(f"  {name}: {note.text}", style="red" if note.warn else None, markup=False)
    console.print(f"{ok} of {len(logins)} logged in", style=None if ok == len(logins) else "red")
    if ok < len(logins):
        sys.exit(1)


def _discord_login(config: Config) -> str:
    """Log the approval bot in to Discord (the REST login only, no gateway) and say as whom."""
    import asyncio

    import discord

    from responders.discord import point_at

    d = config.discord
    point_at(api_base=d.api_base or None, gateway_url=d.gateway_url or None)

    async def login() -> str:
        client = discord.Client(intents=discord.Intents.default())
        try:
            await asyncio.wait_for(client.login(d.token.value() if d.token else ""), timeout=20)
            return f"logged in as {client.user} (id {client.user.id})"
        finally:
            await client.close()

    return asyncio.run(login())


@cli.command()
@json_option
@click.option(
    "--csv", "as_csv", is_flag=True, help="Print the connectors' table as CSV (times in ISO 8601 UTC)."
)
@click.option(
    "--check",
    is_flag=True,
    help="Only check health: exit 1 with the reasons when Discord is configured but not connected, a connector "
    "is paused or failing, or the outbox is stuck; exit 0 otherwise (for HEALTHCHECK and monitoring).",
)
@pass_ctx
def status(ctx: Context, as_json: bool, as_csv: bool, check: bool) -> None:
    """Show the connectors and their last poll, the approval queue, open cases, SLA clocks due, and the weekly
    report and who its mail reached."""
    from datetime import timedelta

    from bot import health
    from bot import report as weekly

    config, store = ctx.config(), ctx.store()
    now, tz = ctx.clock.now(), ctx.tz()
    if check:
        found = health.problems(config, store, now=now, posting_paused=bool(store.posting_paused()))
        for problem in found:
            err.print(f"unhealthy: {problem}", markup=False, highlight=False, soft_wrap=True)
        if found:
            sys.exit(1)
        console.print("healthy", markup=False)
        return

    def when(at: datetime | None) -> str:
        return local(at, tz, named=False) if at else "never"

    runs = {r.connector: r for r in store.last_runs()}
    paused = store.paused_connectors()
    calls = store.calls_since(now - timedelta(days=7))
    expiries = store.credential_expiries()
    quarantined = store.quarantine_counts()
    connectors = []
    for name in sorted(set(config.connectors) | set(runs) | set(paused) | set(expiries) | set(quarantined)):
        settings, run = config.connectors.get(name), runs.get(name)
        cred = weekly.credentials(
            expiries.get(name), now=now, tz=tz, warn_days=config.report.credentials_warn_days
        )
        connectors.append(
            {
                "connector": name,
                "enabled": bool(settings and settings.enabled),
                "interval_seconds": settings.interval_seconds if settings else None,
                "last_poll": run and run.started_at,
                "status": run and run.status,
                "error": run and run.error,
                "paused": paused.get(name),
                "last_ok": run and run.last_ok,
                "credentials": cred.text,
                "credentials_warn": cred.warn,
                "calls_7_days": calls.get(name),
                "set_aside": quarantined.get(name, 0),
                "budget": store.connector_budget(name),
            }
        )
    counts = store.counts()
    due = store.due_counts(now=now, soon=now + timedelta(hours=config.sla.remind_before_hours))
    _, week = weekly.scheduled_week(now, config.report, tz)
    last = store.report_last_week()
    mailing = store.report_mail()
    summary = {
        "dry_run": config.dry_run,
        "timezone": tz.key,
        "connectors": connectors,
        "queue": {"awaiting": counts.awaiting, "outbox": counts.outbox},
        "cases": {
            "open": counts.open_cases,
            "overdue": due.overdue,
            "due_soon": due.due_soon,
        },
        "report": {
            "last_written": last,
            "week": week.label,
            "written": last == week.label,
            # The latest report mail: who got it, who waits for a retry, who was given up.
            "mail": [
                {
                    "week": m.week,
                    "recipient": m.recipient,
                    "state": m.state,
                    "tries": m.attempts,
                    "next_try": m.next_attempt_at,
                    "sent_at": m.sent_at,
                    "error": m.error,
                }
                for m in mailing
            ],
        },
        # Several daemons on one database: who leads and who polls which connector, until when.
        "daemons": [
            {"lease": lease.name, "holder": lease.holder, "until": lease.expires_at}
            for lease in store.leases(now=now)
        ],
    }
    approvals = store.discord_state() if config.discord.enabled else None
    if config.discord.enabled:
        summary["discord"] = dataclasses.asdict(approvals) if approvals else {"state": "never connected"}
    if as_csv:
        fields = list(connectors[0]) if connectors else ["connector"]
        emit_csv(connectors, fields)
        return
    if as_json:
        summary["set_aside"] = [
            {"at": q.at, "connector": q.connector, "item_id": q.item.item_id, "reason": q.item.reason}
            for q in store.quarantined(limit=5)
        ]
        emit_json(summary)
        return
    console.print(f"dry_run = {str(config.dry_run).lower()} · {zone(tz, now)}")
    table = Table(
        "connector",
        "enabled",
        "every",
        "last poll",
        "result",
        "last successful poll",
        "credentials",
        "API calls (7 days)",
    )
    for c in connectors:
        name = c["connector"]
        result = f"paused: {c['paused']}" if c["paused"] else (c["status"] or "-")
        if c["error"] and not c["paused"]:
            result += f" ({c['error'][:60]})"
        if c["set_aside"]:
            result += f"; {c['set_aside']} set aside"
        if c["budget"]:
            result += f"; {c['budget']}"
        table.add_row(
            name,
            "yes" if c["enabled"] else "no",
            f"{c['interval_seconds']}s" if c["interval_seconds"] else "-",
            when(c["last_poll"]),
            escape(result),
            when(c["last_ok"]),
            f"[red]{c['credentials']}[/red]" if c["credentials_warn"] else c["credentials"],
            str(c["calls_7_days"]) if c["calls_7_days"] is not None else "-",
        )
    console.print(table)
    for c in connectors:
        if c["credentials_warn"]:
            console.print(
                f"warning: renew the credentials of {c['connector']} before they stop working: {c['credentials']}",
                style="red",
                markup=False,
            )
    if quarantined:
        console.print("items set aside because they could not be read (newest first):", markup=False)
        for q in store.quarantined(limit=5):
            console.print(
                f"  {local(q.at, tz)} {q.connector} {q.item.item_id or '(no id)'}: {q.item.reason}",
                markup=False,
                highlight=False,
            )
    if config.discord.enabled:
        trouble = health.discord_problem(approvals, now=now)
        if trouble:
            console.print(trouble, style="red", markup=False, soft_wrap=True)
        elif approvals:
            console.print(f"discord: connected since {local(approvals.since, tz)}", markup=False)
    console.print(
        f"queue: {summary['queue']['awaiting']} drafts awaiting approval, {summary['queue']['outbox']} posts "
        f"waiting in the outbox" + _dry_run_note(store.counts())
    )
    console.print(
        f"cases: {summary['cases']['open']} open, {due.overdue} overdue, {due.due_soon} due within "
        f"{config.sla.remind_before_hours:g} h"
    )
    console.print(
        f"weekly report: last written {last or 'never'}; scheduled {config.report.day} {config.report.time} "
        f"({week.label} {'written' if last == week.label else 'due'})"
    )
    if mailing:
        got = sum(m.state == "sent" for m in mailing)
        console.print(
            f"report mail {mailing[0].week}: sent to {got} of {len(mailing)} recipients", markup=False
        )
    for m in mailing:
        why = f": {shown(m.error)}" if m.error else ""
        tries = f"{m.attempts} {'try' if m.attempts == 1 else 'tries'}"
        if m.state == "pending":
            console.print(
                f"  {shown(m.recipient)}: waiting, {tries} so far, next {local(m.next_attempt_at, tz)}{why}",
                style="yellow",
                highlight=False,
            )
        elif m.state == "failed":
            console.print(
                f"  {shown(m.recipient)}: not sent, given up after {tries}{why}",
                style="red",
                highlight=False,
            )
    held: dict[str, list[str]] = {}
    for d in summary["daemons"]:
        held.setdefault(d["holder"], []).append(d["lease"].removeprefix("poll:"))
    for holder, names in sorted(held.items()):
        console.print(f"daemon {holder}: {', '.join(names)}", markup=False, highlight=False)
    if not held:
        console.print("daemons: none running (no lease held)")


# -- approval from the terminal -----------------------------------------------------------------------------


def actor_option(fn):
    return click.option(
        "--as",
        "actor",
        default=lambda: getpass.getuser(),
        show_default="your login",
        help="Who is deciding (recorded in the audit trail).",
    )(fn)


QUEUE_FIELDS = ["id", "state", "platform", "intent", "author", "posted_at", "url", "post", "draft", "notes"]


@cli.command()
@click.option("--all", "show_all", is_flag=True, help="Show decided drafts too.")
@click.option("--platform", help="Only drafts for this platform (e.g. reddit).")
@click.option(
    "--intent", type=click.Choice(["complaint", "inquiry", "praise", "other"]), help="Only this intent."
)
@click.option("--limit", type=click.IntRange(min=1), help="At most this many (the oldest first).")
@json_option
@csv_option
@pass_ctx
def queue(
    ctx: Context,
    show_all: bool,
    platform: str | None,
    intent: str | None,
    limit: int | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """List the drafted replies awaiting approval."""
    store = ctx.store()
    drafts = store.drafts() if show_all else store.drafts("awaiting")
    drafts = [
        d for d in drafts if (not platform or d.platform == platform) and (not intent or d.intent == intent)
    ]
    total = len(drafts)
    drafts = drafts[:limit] if limit else drafts
    rows = []
    for d in drafts:
        m = store.mention(d.platform, d.mention_id)
        notes = [*d.problems, *(f"tone: {f}" for f in d.findings), *d.notes]
        if d.route == "manual":
            notes.insert(0, "reply by hand")
        rows.append((d, m, notes))
    if as_json or as_csv:
        records = [
            dict(
                zip(
                    QUEUE_FIELDS,
                    (
                        d.id,
                        d.state,
                        d.platform,
                        d.intent,
                        m.author.handle,
                        m.created_at,
                        m.url,
                        m.text,
                        d.text,
                        notes,
                    ),
                    strict=True,
                )
            )
            for d, m, notes in rows
        ]
        emit_json(records) if as_json else emit_csv(records, QUEUE_FIELDS)
        return
    if not drafts:
        nothing = "Nothing awaits approval." if not (platform or intent) else "No draft matches."
        console.print(nothing + _dry_run_note(store.counts()), markup=False)
        return
    now, tz = ctx.clock.now(), ctx.tz()
    console.print(zone(tz, now))
    table = Table(
        "id", "state", "platform", "intent", "author", "posted", "post", "draft", "notes", show_lines=True
    )
    for d, m, notes in rows:
        table.add_row(
            str(d.id),
            "dry run: not posted" if d.state == "dry_run" else d.state,
            shown(d.platform),
            d.intent,
            shown(m.author.handle),
            f"{local(m.created_at, tz, named=False)}\n{span((now - m.created_at).total_seconds())} ago",
            shown(m.text[:140]),
            shown(d.text),
            shown("\n".join(notes)),
        )
    console.print(table)
    if total > len(drafts):
        console.print(f"showing {len(drafts)} of {total} (--limit)")
    if note := _dry_run_note(store.counts()):
        console.print(note.removeprefix("; ").capitalize(), markup=False)


def _dry_run_note(counts: Counts) -> str:
    """What a dry run left behind: replies recorded but never posted (their cases still wait for an answer)."""
    n = counts.dry_run
    return f"; {n} repl{'y' if n == 1 else 'ies'} only recorded in a dry run, not posted" if n else ""


def decide(fn, ctx: Context, draft_id: int, **kwargs) -> None:
    from bot.decisions import DecisionError

    store = ctx.store()
    try:
        draft = fn(store, draft_id, now=ctx.clock.now(), **kwargs)
    except (DecisionError, StoreError) as exc:
        err.print(f"[red]refused:[/red] {shown(str(exc))}", markup=True)
        sys.exit(1)
    console.print(f"draft {draft.id}: {stored(fn.__name__, draft, kwargs)}", markup=False)


def stored(decision: str, draft, kwargs: dict) -> str:
    """What a decision stored, in words."""
    who = kwargs.get("actor")
    if decision == "relabel":
        said = f"label {kwargs['intent']!r} stored for the complaint model (by {who})"
        if draft.state == "rejected":
            return f"{said}; the draft is withdrawn, nothing will be posted"
        return f"{said}; the draft stays {draft.state} as a {draft.intent}"
    if draft.state == "approved":
        what = "text replaced and approved" if decision == "edit" else "approved"
        override = (
            f", overriding the tone guard ({kwargs['override_reason']})"
            if kwargs.get("override_reason")
            else ""
        )
        return f"{what} by {who}{override}; queued for posting (the daemon posts it once)"
    if draft.state == "rejected":
        return f"rejected by {who}, reason stored: {kwargs.get('reason')}; nothing will be posted"
    return f"{draft.state} (by {who})"


@cli.command()
@click.argument("draft_id", type=int)
@click.option("--override", "override_reason", help="Approve despite tone-guard findings, for this reason.")
@actor_option
@pass_ctx
def approve(ctx: Context, draft_id: int, actor: str, override_reason: str | None) -> None:
    """Approve draft DRAFT_ID as it is; the daemon posts it exactly once."""
    from bot import decisions

    brand = ctx.config().brand
    decide(decisions.approve, ctx, draft_id, actor=actor, override_reason=override_reason, brand=brand)


@cli.command()
@click.argument("draft_id", type=int)
@click.option("--text", required=True, help="The reply as it should be posted.")
@click.option("--override", "override_reason", help="Approve despite tone-guard findings, for this reason.")
@actor_option
@pass_ctx
def edit(ctx: Context, draft_id: int, text: str, actor: str, override_reason: str | None) -> None:
    """Replace draft DRAFT_ID's text (checked by the tone guard) and approve it."""
    from bot import decisions

    brand = ctx.config().brand
    decide(
        decisions.edit, ctx, draft_id, actor=actor, text=text, override_reason=override_reason, brand=brand
    )


@cli.command()
@click.argument("draft_id", type=int)
@click.option("--reason", required=True, help="Why it should not be posted.")
@actor_option
@pass_ctx
def reject(ctx: Context, draft_id: int, reason: str, actor: str) -> None:
    """Reject draft DRAFT_ID; nothing is posted."""
    from bot import decisions

    decide(decisions.reject, ctx, draft_id, actor=actor, reason=reason)


@cli.command()
@click.argument("draft_id", type=int)
@click.argument("intent", type=click.Choice(["complaint", "inquiry", "praise", "other"]))
@actor_option
@pass_ctx
def relabel(ctx: Context, draft_id: int, intent: str, actor: str) -> None:
    """Correct the intent of draft DRAFT_ID's post ("other" = not a complaint; withdraws the draft)."""
    from bot import decisions

    decide(decisions.relabel, ctx, draft_id, actor=actor, intent=intent)


# -- cases --------------------------------------------------------------------------------------------------


@cli.command()
@click.option("--due", is_flag=True, help="Only cases due within the reminder window or overdue.")
@click.option("--closed", is_flag=True, help="Show closed cases instead of open ones.")
@json_option
@csv_option
@pass_ctx
def cases(ctx: Context, due: bool, closed: bool, as_json: bool, as_csv: bool) -> None:
    """List the open cases, soonest due first."""
    from datetime import timedelta

    store, config = ctx.store(), ctx.config()
    before = ctx.clock.now() + timedelta(hours=config.sla.remind_before_hours) if due else None
    rows = [
        c
        for c in store.cases(status="closed" if closed else "open")
        if not due
        or (c.acknowledged_at is None and c.due_at <= before)
        or (c.action_due is not None and c.action_due <= before)
    ]
    if as_json:
        emit_json([case_record(c) for c in rows])
        return
    if as_csv:
        emit_csv([case_record(c) for c in rows], [f.name for f in dataclasses.fields(Case)] + ["stage_name"])
        return
    if not rows:
        console.print("No cases." if not due else "No case is due.")
        return
    now, tz = ctx.clock.now(), ctx.tz()
    console.print(zone(tz, now))
    table = Table(
        "case", "platform", "customer", "intent", "stage", "owner", "due", "acknowledged", "contacted", "next"
    )
    for c in rows:
        table.add_row(
            c.ref,
            c.platform,
            escape(c.author_handle),
            c.intent,
            stage_name(c.stage),
            c.owner or "unassigned",
            _due(c, now, tz),
            local(c.acknowledged_at, tz, named=False),
            local(c.contacted_at, tz, named=False),
            _next(c, now) or "-",
        )
    console.print(table)


def _due(c, now, tz) -> str:
    """The first answer's clock: relative while it runs (red once overdue), else when it was due."""
    if c.status != "open" or c.acknowledged_at is not None:
        return local(c.due_at, tz, named=False)
    text = due(c.due_at, now)
    return f"[red]{text}[/red]" if c.due_at <= now else text


def _next(c, now) -> str:
    if not c.action:
        return ""
    return (
        f"{c.action_owner or c.owner} will {c.action}, {due(c.action_due, now)}" if c.action_due else c.action
    )


@cli.command()
@click.argument("ref")
@json_option
@pass_ctx
def case(ctx: Context, ref: str, as_json: bool) -> None:
    """Show one case (by reference like C-00012 or number) and its whole history."""
    store = ctx.store()
    try:
        c = store.case_by_ref(ref)
    except StoreError as exc:
        err.print(f"[red]{shown(str(exc))}[/red]")
        sys.exit(1)
    m = store.mention(c.platform, c.mention_id)
    mirror = mirror_of(c, store, ctx.config())
    if as_json:
        post = {"url": m.url, "text": m.text, "created_at": m.created_at, "author": m.author.handle}
        history = [dataclasses.asdict(e) for e in store.case_events(c.id)]
        emit_json(case_record(c) | {"post": post, "lives": dataclasses.asdict(mirror), "history": history})
        return
    now, tz = ctx.clock.now(), ctx.tz()
    console.print(
        f"[bold]{c.ref}[/bold] {c.intent} · {c.status} · stage {stage_name(c.stage)} · "
        f"owner {escape(c.owner or 'unassigned')}"
    )
    console.print(f"customer: {c.author_name} ({c.platform}:{c.author_handle})  post: {m.url}", markup=False)
    console.print(
        f"opened {local(c.opened_at, tz)} · due {local(c.due_at, tz)}"
        f"{f' ({due(c.due_at, now)})' if c.status == 'open' and c.acknowledged_at is None else ''} · "
        f"acknowledged {local(c.acknowledged_at, tz)} · contacted {local(c.contacted_at, tz)} · "
        f"customer replied {local(c.customer_replied_at, tz)} · follow-ups {c.follow_ups}"
    )
    if c.action:
        console.print(f"next: {_next(c, now)} ({local(c.action_due, tz)})", markup=False)
    lives = f"lives in: mentionbot's store; mirrored to {mirror.where}" if mirror.backend != "none" else ""
    if lives:
        customer = f", the customer writing from {mirror.customer}" if mirror.customer else ""
        mails = f" ({mirror.mails} mails)" if mirror.backend == "email" else ""
        console.print(f"{lives}{customer}{mails} · {mirror.link or 'no link yet'}", markup=False)
    else:
        console.print(f"lives in: {mirror.where}", markup=False)
    console.print(f"post: {m.text}", markup=False)
    console.print(zone(tz, now))
    table = Table("when", "who", "what", "note")
    for e in store.case_events(c.id):
        table.add_row(local(e.at, tz, named=False), escape(e.actor), e.kind, escape(e.note or ""))
    console.print(table)


@cli.command()
@click.argument("ref")
@actor_option
@pass_ctx
def take(ctx: Context, ref: str, actor: str) -> None:
    """Take case REF: you become its one owner."""
    from bot import decisions

    store = ctx.store()
    try:
        c = decisions.take_case(store, store.case_by_ref(ref).id, actor=actor, now=ctx.clock.now())
    except (decisions.DecisionError, StoreError) as exc:
        err.print(f"[red]refused:[/red] {exc}")
        sys.exit(1)
    console.print(f"{c.ref} is now owned by {c.owner}")


@cli.command()
@actor_option
@pass_ctx
def pause(ctx: Context, actor: str) -> None:
    """Pause all posting at once (the outbox keeps what is approved until `mentionbot resume`)."""
    ctx.store(create=True).set_posting_paused(f"by {actor} at {ctx.clock.now():%Y-%m-%d %H:%M} UTC")
    console.print("posting paused; approved replies wait in the outbox")


@cli.command()
@actor_option
@pass_ctx
def resume(ctx: Context, actor: str) -> None:
    """Resume posting after `mentionbot pause` (or /pause in Discord)."""
    ctx.store(create=True).set_posting_paused(None)
    console.print(f"posting resumed by {actor}")


# -- the weekly report --------------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--week", help="The ISO week, like 2026-W47. Default: the last complete week in brand.timezone."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html", "both", "pdf", "all"]),
    default="both",
    show_default=True,
    help="Markdown, a self-contained HTML page with charts, both, a PDF of the page (headless Chromium), or all.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write to. Default: report.folder from the config.",
)
@pass_ctx
def report(ctx: Context, week: str | None, fmt: str, out: Path | None) -> None:
    """Write the weekly report: volume, trends, response times, cases, complaint themes, FAQ candidates."""
    from rich.progress import Progress

    from bot import report as weekly

    config, store = ctx.config(), ctx.store()
    formats = {"both": ("md", "html"), "all": ("md", "html", "pdf")}.get(fmt, (fmt,))
    if "pdf" in formats and weekly.browser() is None:
        err.print("[yellow]no PDF: no headless Chromium on PATH (Debian: apt-get install chromium)[/yellow]")
    with Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("report", total=weekly.STEPS)

        def step(what: str) -> None:
            bar.update(task, advance=1, description=what)

        try:
            built, paths = weekly.make_report(
                store, config, now=ctx.clock.now(), week=week, formats=formats, folder=out, progress=step
            )
        except ValueError as exc:
            err.print(f"[red]--week: {exc}[/red]")
            sys.exit(2)
    console.print(f"report for {built.week.title()}: {built.total} mentions")
    for path in paths:
        console.print(f"  {path}")


IMPORT_BATCH = 1000  # rows per transaction, and per batch sent to the triage worker
IMPORT_SHOWN = 50  # skipped rows named one by one; the rest are counted (all are in `mentionbot status`)


@cli.command("import")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--platform",
    default="import",
    show_default=True,
    help="Platform of rows without a platform column (e.g. trustpilot for a Trustpilot export).",
)
@pass_ctx
def import_(ctx: Context, files: tuple[Path, ...], platform: str) -> None:
    """Backfill JSONL or CSV exports: store and triage each row once (re-importing adds nothing twice).

    Posts older than replies.max_age_hours are only stored and triaged; recent ones get a draft to reply by hand.
    A row that cannot be read is skipped with its file, line and reason, and set aside in the store (shown by
    `mentionbot status`); the other rows are imported. Exit code: 0 when every row was imported (or was already),
    1 when any row or file was skipped, 2 for a usage or configuration error.
    """
    from rich.progress import Progress

    from bot.models import FetchResult
    from bot.pipeline import Pipeline
    from connectors.file import FileConnector, FileSettings

    config, store = ctx.config(), ctx.store(create=True)
    pipeline = Pipeline(config, store, clock=ctx.clock, connectors={})
    parser = FileConnector(FileSettings(platform=platform))
    read = good = new = skipped = unreadable = 0

    def batches(rows: list, task) -> Iterator[FetchResult]:
        nonlocal read, good, skipped, unreadable
        for start in range(0, len(rows), IMPORT_BATCH):
            chunk = rows[start : start + IMPORT_BATCH]
            bad = [(row, row.quarantined(platform)) for row in chunk if row.mention is None]
            for row, item in bad:
                if skipped + unreadable < IMPORT_SHOWN:
                    err.print(f"{item.item_id}: skipped: {item.reason}", markup=False, highlight=False)
                if row.line:
                    skipped += 1
                else:
                    unreadable += 1
            read += sum(1 for row in chunk if row.line)
            good += len(chunk) - len(bad)
            bar.update(task, advance=len(chunk))
            yield FetchResult(
                [row.mention for row in chunk if row.mention is not None], None, [q for _, q in bad]
            )

    with Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
        for path in files:
            rows = parser.rows(path)
            task = bar.add_task(path.name, total=len(rows))
            for stored in pipeline.ingest_many("import", batches(rows, task)):
                for mention, triage in stored:
                    pipeline.respond(mention, triage)
                new += len(stored)
    if skipped + unreadable > IMPORT_SHOWN:
        err.print(f"… and {skipped + unreadable - IMPORT_SHOWN} more skipped (see `mentionbot status`)")
    summary = (
        f"imported {new} new mention(s) of {read} row(s) read; {good - new} already stored; {skipped} skipped"
    )
    if unreadable:
        summary += f"; {unreadable} file(s) could not be read"
    console.print(summary, markup=False, highlight=False)
    if skipped or unreadable:
        sys.exit(1)


@cli.group("store")
def store_group() -> None:
    """The database itself: move it between SQLite and PostgreSQL."""


@store_group.command("copy")
@click.argument("source")
@click.argument("target")
@pass_ctx
def store_copy(ctx: Context, source: str, target: str) -> None:
    """Copy every row of SOURCE into TARGET, each a SQLite file or a postgresql:// URL (TARGET new or empty),
    and check that both count the same rows in every table. A PostgreSQL password comes from the variable that
    the configuration's store.password names (or libpq's own PGPASSWORD / ~/.pgpass)."""
    from bot.errors import StoreError
    from bot.store import Store
    from bot.store.postgres import Postgres, is_postgres

    password = None
    if Path(ctx.config_path).exists():
        password = ctx.config().store.password

    def where(text: str, *, must_exist: bool) -> Path | Postgres:
        if is_postgres(text):
            return Postgres(text, password)
        if must_exist and not Path(text).exists():
            raise click.BadParameter(f"no SQLite database at {text}", param_hint="SOURCE")
        return Path(text)

    try:
        src = Store.open(where(source, must_exist=True))
        dst = Store.open(where(target, must_exist=False))
        counts = src.copy_into(dst)
    except StoreError as exc:
        err.print(f"[red]not copied:[/red] {escape(str(exc))}")
        sys.exit(1)
    table = Table("table", "rows")
    for name, n in counts.items():
        table.add_row(name, str(n))
    console.print(table)
    console.print(
        f"copied {sum(counts.values())} rows; both stores count the same in every table", markup=False
    )


@cli.command("lint-templates")
@pass_ctx
def lint_templates(ctx: Context) -> None:
    """Check the configured reply templates against the tone guard and the platforms' length limits."""
    from connectors import REGISTRY, rules_for
    from responders import compose

    config = ctx.config()
    templates = ctx.templates()
    problems = compose.lint(templates, config.brand, {name: rules_for(name) for name in REGISTRY})
    for problem in problems:
        console.print(f"  - {problem}", markup=False)
    count = len(templates.texts())
    if problems:
        console.print(f"{templates.source}: {len(problems)} finding(s) in {count} texts")
        sys.exit(1)
    console.print(f"{templates.source}: {count} texts pass the tone guard and fit every platform")


def _when(text: str, *, now, tz: str):
    """``--by``: an ISO date or time in the brand's time zone (a date means its end), or ``+36h`` / ``+2d``."""
    import re
    from datetime import datetime, time, timedelta
    from zoneinfo import ZoneInfo

    relative = re.fullmatch(r"\+(\d+(?:\.\d+)?)([hd])", text.strip())
    if relative:
        amount = float(relative.group(1))
        return now + timedelta(hours=amount if relative.group(2) == "h" else 24 * amount)
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"expected a date or time like 2026-11-20 or '2026-11-20 17:00', or +36h / +2d; got {text!r}"
        ) from None
    if len(text.strip()) == 10:
        when = datetime.combine(when.date(), time(23, 59))
    return when if when.tzinfo else when.replace(tzinfo=ZoneInfo(tz))


def _case_change(ctx: Context, ref: str, change) -> None:
    from bot import cases as case_moves

    store = ctx.store()
    try:
        c = change(store, store.case_by_ref(ref))
    except (case_moves.CaseError, StoreError) as exc:
        err.print(f"[red]refused:[/red] {exc}")
        sys.exit(1)
    line = f"{c.ref}: {c.status} · stage {stage_name(c.stage)} · owner {c.owner or 'unassigned'}"
    if c.action and c.status == "open":
        line += f" · next: {_next(c, ctx.clock.now())}"
    last = store.case_events(c.id)[-1]
    console.print(f"{line}\n  stored in its history: {last.kind}: {last.note}", markup=False)


@cli.command()
@click.argument("ref")
@click.option("--do", "action", required=True, help="What will be done, e.g. 'send a replacement'.")
@click.option("--by", "by", help="By when: 2026-11-20, '2026-11-20 17:00' (brand time zone), +36h or +2d.")
@click.option(
    "--type", "kind", help="Or a contact type whose target (sla.targets) sets the due time, e.g. refund."
)
@actor_option
@pass_ctx
def plan(ctx: Context, ref: str, action: str, by: str | None, kind: str | None, actor: str) -> None:
    """Record who will do what by when for case REF (you, its owner)."""
    from bot import cases as case_moves

    config, now = ctx.config(), ctx.clock.now()
    due = _when(by, now=now, tz=config.brand.timezone) if by else None
    _case_change(
        ctx,
        ref,
        lambda store, c: case_moves.plan(
            store, c, actor=actor, now=now, action=action, due=due, kind=kind, sla=config.sla
        ),
    )


@cli.command()
@click.argument("ref")
@click.option("--note", default="", help="What was done.")
@click.option("--yes", "-y", is_flag=True, help="Close without asking when the next move is 'resolved'.")
@actor_option
@pass_ctx
def advance(ctx: Context, ref: str, note: str, yes: bool, actor: str) -> None:
    """Move case REF to its next move: contact → thank you → what happened? → find solution → resolved."""
    from bot import cases as case_moves

    store = ctx.store()
    try:
        current = store.case_by_ref(ref)
    except StoreError as exc:
        err.print(f"[red]refused:[/red] {exc}")
        sys.exit(1)
    if current.status == "open" and current.stage == "find_solution" and not yes:
        click.confirm(
            f"{current.ref} is at its last move: advancing closes it as resolved. Close it?",
            abort=True,
            err=True,
        )
    _case_change(
        ctx, ref, lambda store, c: case_moves.advance(store, c, actor=actor, now=ctx.clock.now(), note=note)
    )


@cli.command()
@click.argument("ref")
@click.option("--to", "to", required=True, help="Who takes the case over (their name, as in --as).")
@click.option("--note", default="", help="Why, or what they need to know.")
@actor_option
@pass_ctx
def handover(ctx: Context, ref: str, to: str, note: str, actor: str) -> None:
    """Hand case REF over to a colleague (--to NAME), who becomes its one owner; recorded in its history."""
    from bot import cases as case_moves

    _case_change(
        ctx,
        ref,
        lambda store, c: case_moves.handover(store, c, actor=actor, to=to, now=ctx.clock.now(), note=note),
    )


@cli.command()
@click.argument("ref")
@click.option("--note", default="", help="How it was solved (also after the last `advance` closed it).")
@actor_option
@pass_ctx
def resolve(ctx: Context, ref: str, note: str, actor: str) -> None:
    """Close case REF as resolved."""
    from bot import cases as case_moves

    _case_change(
        ctx, ref, lambda store, c: case_moves.resolve(store, c, actor=actor, now=ctx.clock.now(), note=note)
    )


# -- the demo -----------------------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("demo-output"),
    show_default=True,
    help="Folder for the demo's database and configuration.",
)
@click.option("--cycles", type=int, default=4, show_default=True, help="Daemon cycles to run.")
@click.option("--verbose", "-v", is_flag=True, help="Also print the daemon's log.")
def demo(out: Path, cycles: int, verbose: bool) -> None:
    """Run the daemon against the built-in simulated platforms, with a simulated manager approving."""
    from bot.demo import run_demo

    logging.basicConfig(
        level=logging.INFO if verbose else logging.ERROR, format="%(levelname)s %(name)s: %(message)s"
    )
    run_demo(out=out, cycles=cycles, console=console)


# -- triage and the complaint model (bot/triage_cli.py) ------------------------------------------------------

from bot.triage_cli import model, triage_command  # noqa: E402

cli.add_command(triage_command)
cli.add_command(model)
