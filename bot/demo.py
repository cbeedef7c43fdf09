"""``make demo``: the daemon's cycles against the built-in simulated platforms, narrated as it goes.

Each fake in ``connectors.fakes.FAKES`` that has a sample file starts on loopback; its samples appear in waves,
one wave before each cycle. A simulated manager decides on the drafts with the same decision functions the CLI and
Discord use, knowing what each sample meant (its ``expect``): it approves what fits, relabels mistaken intents and
edits their replies. At the end the demo retrains from those decisions and shows what the new model would change.
Nothing leaves this machine.
"""

from __future__ import annotations

import json
import os
import time
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from bot import decisions
from bot.clock import SystemClock
from bot.config import BrandSettings, parse_config
from bot.models import HELD, Triage
from bot.pipeline import Pipeline, PollResult
from bot.private import private_folder
from bot.store import Store
from connectors.fakes import FAKES, load_fake
from connectors.fakes.discord import FakeDiscord
from connectors.fakes.server import FakePlatform
from responders.discord import ApprovalBot

MANAGER = "demo-manager"
STYLE = {"complaint": "red", "inquiry": "yellow", "praise": "green", "other": "dim"}


def samples(platform: str) -> list[dict[str, Any]]:
    """The demo's sample posts for ``platform`` (empty when it has none)."""
    path = resources.files("connectors.fakes") / "samples" / f"{platform}.jsonl"
    if not path.is_file():
        return []
    posts = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return sorted(posts, key=lambda post: -float(post.get("minutes_ago", 0)))


# Other things called ACME that the samples talk about (the shipped config.toml excludes them too).
EXCLUDE = ["ACME protocol", "Let's Encrypt", "Looney Tunes", "Wile E. Coyote", "Road Runner"]


def demo_settings(fakes: dict[str, FakePlatform], db_path: Path) -> dict[str, Any]:
    """The configuration of the demo: the shipped defaults, posting on, every connector pointed at its fake."""
    return {
        "dry_run": False,
        "brand": {
            "name": "Acme",
            "contact_email": "care@acme.example",
            "contact_url": "https://acme.example/help",
            "timezone": "Europe/Amsterdam",
            "languages": ["en"],
            "exclude": EXCLUDE,
        },
        "store": {"path": str(db_path)},
        "connectors": {name: fake.connector_settings() for name, fake in fakes.items()},
    }


class Narrator:
    """Prints what the pipeline does, as it does it."""

    def __init__(self, console: Console):
        self.console = console

    def __call__(self, kind: str, **data: Any) -> None:
        getattr(self, kind, lambda **_: None)(**data)

    def polled(self, result: PollResult) -> None:
        tone = "red" if result.status != "ok" else "cyan"
        self.console.print(
            f"[{tone}]fetched {result.connector}: {result.fetched} mention(s), {result.new} new, "
            + ("" if result.calls is None else f"{result.calls} API call(s), ")
            + f"{result.duration_ms} ms[/{tone}]"
            + (f" — {escape(result.error or '')}" if result.error else "")
        )

    def triaged(self, mention, triage) -> None:
        colour = STYLE.get(triage.intent, "white")
        text = escape(mention.text.replace("\n", " ")[:110])
        self.console.print(f"  [bold]{mention.platform}[/bold] @{escape(mention.author.handle)}: “{text}”")
        why = "; ".join(triage.reasons[:4])
        flag = " [magenta]needs a human[/magenta]" if triage.needs_human else ""
        self.console.print(
            f"    triage: [{colour}]{triage.intent}[/{colour}] (complaint score {triage.complaint_score:.2f}, "
            f"urgency {triage.urgency}){flag} — {escape(why)}"
        )

    def skipped(self, mention, reason: str) -> None:
        text = escape(mention.text.replace("\n", " ")[:80])
        self.console.print(
            f"  [dim]skipped {mention.platform} @{escape(mention.author.handle)} “{text}”: {reason}[/dim]"
        )

    def case_opened(self, case, mention) -> None:
        self.console.print(
            f"    case [bold]{case.ref}[/bold] opened, due {case.due_at:%a %H:%M} UTC, owner unassigned"
        )

    def drafted(self, draft, mention) -> None:
        route = " [magenta](reply by hand)[/magenta]" if draft.route == "manual" else ""
        self.console.print(f"    draft #{draft.id}{route}: [italic]{escape(draft.text)}[/italic]")
        for problem in draft.problems:
            self.console.print(f"    [magenta]! {escape(problem)}[/magenta]")

    def posted(self, sent) -> None:
        where = {"sent": "posted", "dry_run": "recorded (dry run)", "manual": "handed to a human"}.get(
            sent.state, sent.state
        )
        what = "private message" if sent.kind == "message" else "public reply"
        self.console.print(
            f"  [green]{what} {where}[/green] on {sent.platform} to {sent.mention_id}"
            + (f" → {sent.posted_id}" if sent.posted_id else "")
            + (f" [red]{escape(sent.error)}[/red]" if sent.error else "")
        )

    def customer_replied(self, case, mention) -> None:
        self.console.print(
            f"  [green]{case.ref}[/green] ({escape(case.platform)}): @{escape(case.author_handle)} answered in private: "
            f"{escape(mention.text[:100])}"
        )

    def customer_mail(self, case, how: str, sender: str) -> None:
        self.console.print(
            f"  [green]{case.ref}[/green]: a mail from {escape(sender)} joined the case ({escape(how)})"
        )

    def case_mail_sent(self, case, to: str) -> None:
        self.console.print(f"  [green]{case.ref}[/green]: acknowledged by mail to {escape(to)}")

    def nudge(self, nudge) -> None:
        self.console.print(f"  [yellow]SLA {nudge.kind}: {escape(nudge.text)}[/yellow]")

    def connector_paused(self, connector: str, error: str) -> None:
        self.console.print(f"[red]{connector} paused: {escape(error)}[/red]")


def expectations(corpus: dict[str, list[dict[str, Any]]]) -> list[tuple[str, str]]:
    """(text, intent) of every sample that says what a person would decide (its ``expect``)."""
    return [
        (post["text"], post["expect"]) for posts in corpus.values() for post in posts if post.get("expect")
    ]


def simulated_manager(
    store: Store,
    console: Console,
    *,
    now,
    discord: Any = None,
    brand: BrandSettings | None = None,
    expected: list[tuple[str, str]] = (),
) -> None:
    """Decide on every draft awaiting approval as a careful manager would, knowing what each sample meant
    (``expected``): approve a draft that fits, relabel a mistaken intent and edit the reply to fit the right one,
    reject what needs rewording. Approvals, edits and rejections click the card's buttons in the fake Discord when
    ``discord`` (a ``FakeDiscord``) is given; everything goes through the decision functions Discord uses."""
    for draft in store.drafts("awaiting"):
        triage = store.triage_for(draft.platform, draft.mention_id)
        mention = store.mention(draft.platform, draft.mention_id)
        meant = next((intent for text, intent in expected if text in mention.text), None)
        edit = reason = said = ""
        if triage and triage.needs_human:
            reason = "not in a language we answer in; a colleague who speaks it will reply"
            said = f"handed to a colleague who speaks {triage.lang}"
        elif meant and meant != draft.intent:
            decisions.relabel(store, draft.id, actor=MANAGER, now=now, intent=meant)
            console.print(f"  manager relabels #{draft.id}: {draft.intent} → {meant}")
            if meant == "other":  # the relabel withdrew the draft: nothing to say in public
                continue
            edit = fitting_reply(store, draft.id, meant, brand)
        elif any(not p.startswith(HELD) for p in draft.problems) or draft.findings:
            reason, said = "needs rewording", "needs rewording"
        if discord is not None:
            click(store, discord, draft.id, reason, console, edit=edit)
        elif reason:
            decisions.reject(store, draft.id, actor=MANAGER, now=now, reason=reason)
        elif edit:
            decisions.edit(store, draft.id, actor=MANAGER, now=now, text=edit, brand=brand)
        else:
            decisions.approve(store, draft.id, actor=MANAGER, now=now, brand=brand)
        decided = store.draft(draft.id)
        if decided.state == "rejected":
            console.print(f"  manager rejects #{draft.id}: {said}")
        else:
            verb = "approves" if decided.state != "manual" else "takes over (reply by hand)"
            how = (
                " with an edited reply"
                if edit
                else " (the neutral draft fits)"
                if triage and triage.held
                else ""
            )
            console.print(f"  manager {verb} #{draft.id} ({decided.intent}){how}")


def fitting_reply(store: Store, draft_id: int, intent: str, brand: BrandSettings | None) -> str:
    """The reply the manager writes instead: the shipped template for the intent the post really has."""
    from connectors import rules_for
    from responders import compose

    draft = store.draft(draft_id)
    mention = store.mention(draft.platform, draft.mention_id)
    composed = compose.compose(
        mention,
        Triage(intent=intent),  # type: ignore[arg-type]  (an intent from the sample file)
        brand=brand or BrandSettings(),
        rules=rules_for(draft.platform),
        can_reply=draft.route == "reply",
        case=store.case_for(draft.platform, draft.mention_id),
    )
    return composed.text if composed else draft.text


def click(
    store: Store, discord: Any, draft_id: int, reason: str, console: Console, *, edit: str = ""
) -> None:
    """Approve, edit (with ``edit``) or reject (with ``reason``) one draft by clicking its card in the fake
    Discord."""
    from connectors.fakes.discord import MANAGER_ID

    card = _until(lambda: store.discord_card(draft_id), f"the card of draft #{draft_id}")
    console.print(f"  [blue]discord: card for draft #{draft_id} in #managers (message {card})[/blue]")
    for action, words in (("reject", reason), ("edit", edit)):
        if words:
            discord.click(card, f"mb:{action}:{draft_id}", MANAGER_ID)
            _until(lambda: any(r["type"] == 9 for r in discord.responses()[-3:]), f"the {action} form")
            discord.submit_modal(f"mb-{action}:{draft_id}", {"text": words}, MANAGER_ID, card)
            break
    else:
        discord.click(card, f"mb:approve:{draft_id}", MANAGER_ID)
    _until(lambda: store.draft(draft_id).state != "awaiting", f"the decision on draft #{draft_id}")


def _until(condition, what: str, timeout: float = 15.0):
    # Waits for the Discord thread to act on a click; not a wait for time to pass.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise RuntimeError(f"demo: timed out waiting for {what}")


def run_demo(*, out: Path, cycles: int, console: Console) -> None:
    """Start the fakes, run ``cycles`` daemon cycles with a simulated manager, and summarise."""
    private_folder(out)
    db_path = (out / "mentionbot.db").resolve()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    for stale in out.glob("bluesky-session-*"):  # a login to the last run's simulated server
        stale.unlink()
    corpus = {name: samples(name) for name in FAKES}
    fakes: dict[str, FakePlatform] = {}
    for name, posts in corpus.items():
        if posts:
            fakes[name] = load_fake(name)()
            fakes[name].start()
            os.environ.update(fakes[name].environment())
    settings = demo_settings(fakes, db_path)
    mail = start_mail(out, console)
    if mail:
        settings["cases"] = mail_settings(*mail, ca=out / "mail-ca.pem")
    (out / "config.toml").write_text(
        f"# Written by `mentionbot demo`: use it to look at the demo database, e.g.\n"
        f"#   mentionbot -c {out / 'config.toml'} cases\n"
        f'dry_run = true\n[brand]\nname = "Acme"\ncontact_email = "care@acme.example"\n'
        f'timezone = "Europe/Amsterdam"\n'
        f"exclude = {json.dumps(EXCLUDE)}\n"
        f'[store]\npath = "{db_path}"\n'
    )
    config = parse_config(settings)
    store = Store.open(db_path)
    clock = SystemClock()
    narrator = Narrator(console)
    discord = FakeDiscord().start()
    approval = ApprovalBot(
        store_path=db_path,
        token="demo-token",
        guild_id=int(discord.guild_id),
        channel_id=int(discord.channel_id),
        manager_roles=["Community Manager"],
        clock=clock,
        api_base=discord.api_base,
        gateway_url=discord.gateway_url,
        config=config,  # the final check needs the brand's contact routes
    ).start()
    if not approval.ready.wait(20):
        raise RuntimeError("demo: the Discord bot did not connect to the fake Discord")

    def on_event(kind: str, **data: Any) -> None:
        narrator(kind, **data)
        approval.on_event(kind, **data)

    pipeline = Pipeline(config, store, clock=clock, on_event=on_event)
    expected = expectations(corpus)
    total = sum(len(p) for p in corpus.values())
    console.rule(
        f"[bold]mentionbot demo[/bold]: {len(fakes)} simulated platform(s) on 127.0.0.1, {total} posts"
    )
    for name, fake in fakes.items():
        console.print(f"  {name}: {fake.base_url} ({len(corpus[name])} sample posts)")
    console.print(f"  discord (the managers' channel): {discord.api_base}")
    try:
        for cycle in range(cycles):
            for name, fake in fakes.items():
                posts = corpus[name]
                wave = posts[cycle * len(posts) // cycles : (cycle + 1) * len(posts) // cycles]
                for post in wave:
                    fake.publish(post)
            console.rule(f"cycle {cycle + 1} of {cycles}: poll, triage, draft")
            for name in pipeline.connectors:
                pipeline.poll(name)
            console.rule(f"cycle {cycle + 1}: the manager decides, the outbox posts")
            simulated_manager(
                store, console, now=clock.now(), discord=discord, brand=config.brand, expected=expected
            )
            while pipeline.post():
                pass
            pipeline.sweep()
            pipeline.mirror_cycle()
        customers_answer(store, pipeline, fakes, mail, console)
        summarise(store, fakes, console, db_path, out)
        relearn(store, console, now=clock.now(), brand=config.brand)
        console.print(f"discord: {len(discord.messages())} message(s), {len(discord.edits())} card update(s)")
        from zoneinfo import ZoneInfo

        from bot import report
        from bot.terminal import command_name

        tz = ZoneInfo(config.brand.timezone)
        week = report.week_of(clock.now().astimezone(tz).date(), tz).label
        _, paths = report.make_report(store, config, now=clock.now(), week=week, folder=out / "reports")
        console.print(
            f"the demo week's report ({week}): " + ", ".join(map(str, paths)), markup=False, soft_wrap=True
        )
        console.print(
            f"look around: {command_name()} -c {out / 'config.toml'} cases   (or: queue --all, case C-00001)",
            markup=False,
            soft_wrap=True,
        )
    finally:
        pipeline.close()
        approval.stop()
        discord.stop()
        for fake in fakes.values():
            fake.stop()
        for server in mail or ():
            server.stop()


def start_mail(out: Path, console: Console) -> tuple[Any, Any] | None:
    """A shared mailbox on loopback for the email backend (dovecot and aiosmtpd), or None with the reason shown."""
    from connectors.fakes.mail import DOVECOT, MISSING, Dovecot, SmtpServer

    if not DOVECOT:
        console.print(f"[dim]email backend: {MISSING}; the demo's customer mail is left out[/dim]")
        return None
    try:
        smtp = SmtpServer().start()
    except ImportError:  # aiosmtpd is a dev dependency
        console.print(
            "[dim]email backend: aiosmtpd is not installed (pip install -e '.[dev]'); no customer mail[/dim]"
        )
        return None
    dovecot = Dovecot().start()
    (out / "mail-ca.pem").write_bytes(dovecot.cert.read_bytes() + smtp.cert.read_bytes())
    os.environ.update({"DEMO_IMAP_PASSWORD": dovecot.password, "DEMO_SMTP_PASSWORD": smtp.password})
    return dovecot, smtp


def mail_settings(dovecot: Any, smtp: Any, *, ca: Path) -> dict[str, Any]:
    """``[cases]`` of the demo: the email backend on the loopback mailbox."""
    return {
        "backend": "email",
        "email": {
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "smtp_user": smtp.user,
            "smtp_password": {"env": "DEMO_SMTP_PASSWORD"},
            "imap_host": "127.0.0.1",
            "imap_port": dovecot.port,
            "imap_user": dovecot.user,
            "imap_password": {"env": "DEMO_IMAP_PASSWORD"},
            "ca_file": str(ca),
        },
    }


def customers_answer(
    store: Store, pipeline: Pipeline, fakes: dict[str, FakePlatform], mail, console: Console
):
    """Two simulated customers answer in private: one by a Reddit message, one by mail to the case's address."""
    console.rule("the customers answer in private")
    open_cases = store.cases(status="open")
    contacted = next(
        (c for c in open_cases if c.platform == "reddit" and c.contacted_at and "reddit" in fakes), None
    )
    # A private message joins its author's newest contacted case.
    by_message = store.open_case_of("reddit", contacted.author_handle) if contacted else None
    if by_message:
        fakes["reddit"].customer_message(
            author=by_message.author_handle,
            body="Thanks for writing back. Order 4411, the box arrived crushed.",
        )
        pipeline.poll("reddit")
    by_mail = next((c for c in open_cases if by_message is None or c.id != by_message.id), None)
    if mail and by_mail:
        from connectors.fakes.mail import customer_mail

        dovecot, _ = mail
        dovecot.deliver(
            customer_mail(
                sender="Dana <dana@customer.example>",
                to=f"care+{by_mail.ref}@acme.example",
                subject=f"About my post ({by_mail.ref})",
                body="Hello, I wrote about this on your page. The kettle's lid cracked on day one.",
            )
        )
        pipeline.mirror_cycle()
    for case in (by_message, by_mail if mail else None):
        if case is None:
            continue
        answers = [e for e in store.case_events(case.id) if e.kind == "customer_reply"]
        where = "by mail" if case is by_mail else f"by {case.platform} message"
        said = f"attached ({len(answers)} answer)" if answers else "[red]not attached[/red]"
        console.print(f"{case.ref}: the customer's answer {where}: {said}")


def relearn(store: Store, console: Console, *, now, brand: BrandSettings) -> None:
    """Retrain from the manager's decisions and show what the new model would change (``model backtest``)."""
    from bot.complaints import ComplaintModel
    from bot.triage import Triager, backtest, retrain

    console.rule("[bold]learning from the manager's decisions[/bold]")
    result = retrain(store, now=now)
    if "skipped" in result:
        console.print(f"not retrained: {result['skipped']}", markup=False)
        return
    verdict = (
        "activated" if result["activated"] else "kept the current triage (not better on held-back labels)"
    )
    console.print(
        f"model {result['version']} trained on {result['n']} labels: held-back macro-F1 "
        f"{result['candidate']['macro_f1']:.2f} against the rules' {result['rules']['macro_f1']:.2f}, {verdict}",
        markup=False,
    )
    model = ComplaintModel.from_bytes(store.model_blob(result["version"]))
    changes = backtest(store, Triager(languages=tuple(brand.languages), model=model), brand=brand)
    console.print(
        f"model backtest: {changes['changed']} of {changes['mentions']} decisions would change", markup=False
    )
    for c in changes["changes"][:10]:
        text = c["text"].replace("\n", " ")[:70]
        was, now_ = c["from"], c["to"]
        console.print(
            f"  {was['intent']}/{was['urgency']} → {now_['intent']}/{now_['urgency']}: {text!r}", markup=False
        )


def summarise(
    store: Store, fakes: dict[str, FakePlatform], console: Console, db_path: Path, out: Path
) -> None:
    counts = store.counts()
    intents = store.intent_counts()
    console.rule("[bold]summary[/bold]")
    console.print(
        f"mentions stored: {counts.mentions} ("
        + ", ".join(f"{k} {v}" for k, v in sorted(intents.items()))
        + ")"
    )
    posted = {name: fake.posted() for name, fake in fakes.items()}
    replies = sum(1 for items in posted.values() for p in items if p["kind"] == "reply")
    messages = sum(1 for items in posted.values() for p in items if p["kind"] == "message")
    console.print(
        f"drafts: {counts.posted} posted, {counts.manual} to reply by hand, "
        f"{counts.rejected} rejected, {counts.awaiting} awaiting"
    )
    console.print(f"on the simulated platforms: {replies} public replies, {messages} private messages")
    console.print(f"cases open: {counts.open_cases}")
    console.print(f"database: {db_path}")
