"""The ``mentionbot`` command line. User-facing messages are made here and nowhere else."""

from __future__ import annotations

import getpass
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from bot.clock import Clock, SystemClock
from bot.config import Config, load_config
from bot.errors import ConfigError, ConnectorError, StoreError
from bot.escape import terminal as shown

# Piped output (scripts, tests, logs) gets wide lines instead of tables squeezed to 80 columns.
_WIDTH = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", 200))
console = Console(highlight=False, width=_WIDTH)
err = Console(stderr=True, highlight=False, width=_WIDTH)


class Context:
    """What every command needs: the config path, and the loaded config and store on demand."""

    def __init__(self, config_path: str, *, clock: Clock | None = None):
        self.config_path = config_path
        self._config: Config | None = None
        self.clock = clock or SystemClock()

    def config(self, *, check_env: bool = False) -> Config:
        if self._config is None:
            try:
                self._config = load_config(self.config_path, check_env=check_env)
            except ConfigError as exc:
                err.print(f"[red]{self.config_path}: {len(exc.problems)} problem(s):[/red]")
                for problem in exc.problems:
                    err.print(f"  - {problem}", markup=False)
                sys.exit(2)
        return self._config

    def store(self):
        from bot.store import Store

        return Store.open(self.config().resolve(self.config().store.path))


pass_ctx = click.make_pass_decorator(Context)


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("urllib3", "prawcore", "schedule", "discord", "asyncio", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


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


# -- running ------------------------------------------------------------------------------------------------


@cli.command()
@click.option("--once", is_flag=True, help="Run one cycle (poll, post, sweep) and exit.")
@click.option("--verbose", "-v", is_flag=True, help="Log debug detail.")
@pass_ctx
def run(ctx: Context, once: bool, verbose: bool) -> None:
    """Run the daemon on the configuration until SIGINT/SIGTERM (or one cycle with --once)."""
    from bot.daemon import Daemon
    from bot.pipeline import Pipeline

    setup_logging(verbose)
    config = ctx.config(check_env=True)
    store = ctx.store()
    pipeline = Pipeline(config, store, clock=ctx.clock)
    if config.dry_run:
        logging.getLogger("mentionbot").warning("dry_run is on: nothing will be posted (set dry_run = false)")
    if once:
        pipeline.run_cycle()
        pipeline.close()
        counts = store.counts()
        console.print(
            f"one cycle done: {counts['mentions']} mentions stored, {counts['awaiting']} drafts awaiting approval, "
            f"{counts['open_cases']} open cases"
        )
        return
    approval = None
    if config.discord.enabled:
        from responders.discord import ApprovalBot

        approval = ApprovalBot.from_config(config, clock=ctx.clock, post=pipeline.post).start()
        pipeline.on_event = approval.on_event
    daemon = Daemon(pipeline)
    daemon.install_signal_handlers()
    try:
        daemon.run()
    finally:
        if approval:
            approval.stop()


@cli.command()
@click.option("--offline", is_flag=True, help="Only validate the file; do not log in to the platforms.")
@pass_ctx
def check(ctx: Context, offline: bool) -> None:
    """Validate the configuration (all problems at once) and log in to each enabled platform."""
    config = ctx.config(check_env=True)
    enabled = config.enabled_connectors()
    console.print(
        f"{ctx.config_path}: valid; connectors enabled: {', '.join(enabled) or 'none'}; "
        f"dry_run = {str(config.dry_run).lower()}"
    )
    if offline:
        return
    from zoneinfo import ZoneInfo

    from bot import report as weekly
    from bot.pipeline import build_connectors

    failed = False
    for name, connector in build_connectors(config, clock=ctx.clock).items():
        try:
            console.print(f"  {name}: {connector.check()}", markup=False)
        except (ConnectorError, Exception) as exc:  # report every platform, whatever went wrong
            failed = True
            console.print(f"  [red]{name}: {shown(str(exc))}[/red]")
            continue
        expiry = connector.credential_expiry()
        if expiry:
            note = weekly.credentials(
                expiry,
                now=ctx.clock.now(),
                tz=ZoneInfo(config.brand.timezone),
                warn_days=config.report.credentials_warn_days,
            )
            console.print(f"  {name}: {note.text}", style="red" if note.warn else None, markup=False)
    if failed:
        sys.exit(1)


@cli.command()
@pass_ctx
def status(ctx: Context) -> None:
    """Show the connectors and their last poll, the approval queue, open cases and SLA clocks due."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from bot import report as weekly

    config, store = ctx.config(), ctx.store()
    now, tz = ctx.clock.now(), ZoneInfo(config.brand.timezone)

    def when(text: str | None) -> str:
        return weekly.local(text, tz) if text else "never"

    console.print(f"dry_run = {str(config.dry_run).lower()} · times in {tz.key}")
    runs = {r["connector"]: r for r in store.last_runs()}
    paused = store.paused_connectors()
    calls = store.calls_since(now - timedelta(days=7))
    expiries = store.credential_expiries()
    warnings = []
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
    for name in sorted(set(config.connectors) | set(runs) | set(paused) | set(expiries)):
        settings, run = config.connectors.get(name), runs.get(name, {})
        cred = weekly.credentials(
            expiries.get(name), now=now, tz=tz, warn_days=config.report.credentials_warn_days
        )
        if cred.warn:
            warnings.append(f"warning: renew the credentials of {name} before they stop working: {cred.text}")
        result = f"paused: {paused[name]}" if name in paused else (run.get("status") or "-")
        if run.get("error") and name not in paused:
            result += f" ({run['error'][:60]})"
        table.add_row(
            shown(name),
            "yes" if settings and settings.enabled else "no",
            f"{settings.interval_seconds}s" if settings else "-",
            when(run.get("started_at")),
            shown(result),
            when(run.get("last_ok")),
            f"[red]{shown(cred.text)}[/red]" if cred.warn else shown(cred.text),
            str(calls[name]) if name in calls else "-",
        )
    console.print(table)
    for warning in warnings:
        console.print(f"[red]{shown(warning)}[/red]")
    counts = store.counts()
    due = store.due_counts(now=now, soon=now + timedelta(hours=config.sla.remind_before_hours))
    console.print(
        f"queue: {counts.get('awaiting', 0)} drafts awaiting approval, {counts.get('outbox', 0)} posts waiting "
        f"in the outbox" + _dry_run_note(counts)
    )
    console.print(
        f"cases: {counts.get('open_cases', 0)} open, {due['overdue']} overdue, {due['due_soon']} due within "
        f"{config.sla.remind_before_hours:g} h"
    )
    _, week = weekly.scheduled_week(now, config.report, tz)
    last = store.get_setting(weekly.LAST_WRITTEN)
    console.print(
        f"weekly report: last written {last or 'never'}; scheduled {config.report.day} {config.report.time} "
        f"({week.label} {'written' if last == week.label else 'due'})"
    )


# -- approval from the terminal -----------------------------------------------------------------------------


def actor_option(fn):
    return click.option(
        "--as",
        "actor",
        default=lambda: getpass.getuser(),
        show_default="your login",
        help="Who is deciding (recorded in the audit trail).",
    )(fn)


@cli.command()
@click.option("--all", "show_all", is_flag=True, help="Show decided drafts too.")
@pass_ctx
def queue(ctx: Context, show_all: bool) -> None:
    """List the drafted replies awaiting approval."""
    store = ctx.store()
    drafts = store.drafts() if show_all else store.drafts("awaiting")
    if not drafts:
        console.print("Nothing awaits approval." + _dry_run_note(store.counts()))
        return
    table = Table("id", "state", "platform", "intent", "author", "post", "draft", "notes", show_lines=True)
    for d in drafts:
        m = store.mention(d.platform, d.mention_id)
        notes = [*d.problems, *(f"tone: {f}" for f in d.findings), *d.notes]
        if d.route == "manual":
            notes.insert(0, "reply by hand")
        state = "dry run: not posted" if d.state == "dry_run" else d.state
        table.add_row(
            str(d.id),
            state,
            shown(d.platform),
            d.intent,
            shown(m.author.handle),
            shown(m.text[:140]),
            shown(d.text),
            shown("\n".join(notes)),
        )
    console.print(table)
    if not show_all and (note := _dry_run_note(store.counts())):
        console.print(note.removeprefix("; ").capitalize())


def _dry_run_note(counts: dict[str, int]) -> str:
    """What a dry run left behind: replies recorded but never posted (their cases still wait for an answer)."""
    n = counts.get("dry_run", 0)
    return f"; {n} repl{'y' if n == 1 else 'ies'} only recorded in a dry run, not posted" if n else ""


def decide(fn, ctx: Context, draft_id: int, **kwargs) -> None:
    from bot.decisions import DecisionError

    store = ctx.store()
    try:
        draft = fn(store, draft_id, now=ctx.clock.now(), **kwargs)
    except (DecisionError, StoreError) as exc:
        err.print(f"[red]refused:[/red] {shown(str(exc))}", markup=True)
        sys.exit(1)
    where = "queued for posting" if draft.state == "approved" else draft.state
    console.print(f"draft {draft.id}: {where}")


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
@pass_ctx
def cases(ctx: Context, due: bool, closed: bool) -> None:
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
    if not rows:
        console.print("No cases." if not due else "No case is due.")
        return
    table = Table(
        "case", "platform", "customer", "intent", "stage", "owner", "due", "acknowledged", "contacted", "next"
    )
    for c in rows:
        overdue = c.acknowledged_at is None and c.due_at <= ctx.clock.now()
        table.add_row(
            c.ref,
            shown(c.platform),
            shown(c.author_handle),
            c.intent,
            c.stage,
            shown(c.owner or "unassigned"),
            f"{'[red]' if overdue else ''}{c.due_at:%Y-%m-%d %H:%M}Z",
            _t(c.acknowledged_at),
            _t(c.contacted_at),
            f"{shown(c.action)} by {_t(c.action_due)}" if c.action else "-",
        )
    console.print(table)


def _t(value) -> str:
    return f"{value:%m-%d %H:%M}Z" if value else "-"


@cli.command()
@click.argument("ref")
@pass_ctx
def case(ctx: Context, ref: str) -> None:
    """Show one case (by reference like C-00012 or number) and its whole history."""
    store = ctx.store()
    try:
        c = store.case_by_ref(ref)
    except StoreError as exc:
        err.print(f"[red]{shown(str(exc))}[/red]")
        sys.exit(1)
    m = store.mention(c.platform, c.mention_id)
    console.print(
        f"[bold]{c.ref}[/bold] {c.intent} · {c.status} · stage {c.stage} · owner {shown(c.owner or 'unassigned')}"
    )
    console.print(
        f"customer: {shown(c.author_name)} ({shown(c.platform)}:{shown(c.author_handle)})  post: {shown(m.url)}"
    )
    console.print(
        f"opened {c.opened_at:%Y-%m-%d %H:%M}Z · due {c.due_at:%Y-%m-%d %H:%M}Z · "
        f"acknowledged {_t(c.acknowledged_at)} · contacted {_t(c.contacted_at)} · "
        f"customer replied {_t(c.customer_replied_at)} · follow-ups {c.follow_ups}"
    )
    if c.action:
        console.print(
            f"next: {shown(c.action_owner or c.owner)} will {shown(c.action)} by {_t(c.action_due)}"
        )
    console.print(f"post: {shown(m.text)}")
    table = Table("when", "who", "what", "note")
    for e in store.case_events(c.id):
        table.add_row(e["at"], shown(e["actor"]), e["kind"], shown(e["note"] or ""))
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
    from responders.outbox import PAUSED

    ctx.store().set_setting(PAUSED, f"by {actor} at {ctx.clock.now():%Y-%m-%d %H:%M} UTC")
    console.print("posting paused; approved replies wait in the outbox")


@cli.command()
@actor_option
@pass_ctx
def resume(ctx: Context, actor: str) -> None:
    """Resume posting after `mentionbot pause` (or /pause in Discord)."""
    from responders.outbox import PAUSED

    ctx.store().set_setting(PAUSED, None)
    console.print(f"posting resumed by {actor}")


# -- the weekly report --------------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--week", help="The ISO week, like 2026-W47. Default: the last complete week in brand.timezone."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html", "both"]),
    default="both",
    show_default=True,
    help="Markdown, a self-contained HTML page with charts, or both.",
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
    formats = ("md", "html") if fmt == "both" else (fmt,)
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
    """
    from rich.progress import Progress

    from bot.pipeline import Pipeline
    from connectors.file import FileConnector, FileSettings, read_rows

    config, store = ctx.config(), ctx.store()
    pipeline = Pipeline(config, store, clock=ctx.clock, connectors={})
    parser = FileConnector(FileSettings(platform=platform))
    rows, new, skipped = 0, 0, 0

    def batches(path: Path, lines: list[dict], task) -> Iterator[list]:
        nonlocal rows, skipped
        for start in range(0, len(lines), IMPORT_BATCH):
            chunk = []
            for number, row in enumerate(lines[start : start + IMPORT_BATCH], start=start + 1):
                try:
                    chunk.append(parser.to_mention(row))
                except (KeyError, ValueError, TypeError) as exc:
                    err.print(f"{path} row {number} skipped: {exc}", markup=False)
                    skipped += 1
            rows += len(chunk)
            bar.update(task, advance=len(lines[start : start + IMPORT_BATCH]))
            yield chunk

    with Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
        for path in files:
            lines = read_rows(path)
            task = bar.add_task(path.name, total=len(lines))
            for stored in pipeline.ingest_many("import", batches(path, lines, task)):
                for mention, triage in stored:
                    pipeline.respond(mention, triage)
                new += len(stored)
    console.print(f"imported {new} new mention(s) of {rows} read; {skipped} row(s) skipped")


@cli.command("lint-templates")
@pass_ctx
def lint_templates(ctx: Context) -> None:
    """Check the configured reply templates against the tone guard and the platforms' length limits."""
    from connectors import REGISTRY, load
    from responders import compose

    config = ctx.config()
    try:
        templates = compose.load_templates(
            config.resolve(config.templates.path) if config.templates.path else None
        )
    except ConfigError as exc:
        for problem in exc.problems:
            err.print(f"  - {problem}", markup=False)
        sys.exit(2)
    problems = compose.lint(templates, config.brand, {name: load(name).rules for name in REGISTRY})
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
    line = f"{c.ref}: {c.status} · stage {c.stage} · owner {shown(c.owner or 'unassigned')}"
    if c.action and c.status == "open":
        line += f" · next: {shown(c.action_owner or c.owner)} will {shown(c.action)} by {_t(c.action_due)}"
    console.print(line)


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
@actor_option
@pass_ctx
def advance(ctx: Context, ref: str, note: str, actor: str) -> None:
    """Move case REF to its next move: contact → thank you → what happened? → find solution → resolved."""
    from bot import cases as case_moves

    _case_change(
        ctx, ref, lambda store, c: case_moves.advance(store, c, actor=actor, now=ctx.clock.now(), note=note)
    )


@cli.command()
@click.argument("ref")
@click.option("--note", default="", help="How it was solved.")
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
