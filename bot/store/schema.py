"""The schema: versioned migrations, applied in order when a store opens."""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("mentionbot")


@migrations()
def m001_initial(db: Database) -> None:
    db["mentions"].create(
        {
            "platform": str,
            "id": str,
            "url": str,
            "author_handle": str,
            "author_name": str,
            "author_id": str,
            "text": str,
            "created_at": str,
            "fetched_at": str,
            "kind": str,
            "rating": int,
            "parent_id": str,
            "thread_id": str,
            "lang": str,
            "own": int,
            "intent": str,
            "urgency": int,
            "sentiment": float,
            "raw": str,
        },
        pk=("platform", "id"),
        not_null={"platform", "id", "text", "created_at"},
        defaults={"own": 0},
    )
    db["mentions"].create_index(["created_at"])
    db["mentions"].create_index(["platform", "author_handle"])
    db["cursors"].create({"connector": str, "cursor": str, "updated_at": str}, pk="connector")
    db["triage"].create(
        {
            "id": int,
            "platform": str,
            "mention_id": str,
            "intent": str,
            "urgency": int,
            "sentiment": float,
            "complaint_score": float,
            "scores": str,
            "reasons": str,
            "lang": str,
            "needs_human": int,
            "model_version": str,
            "decided_at": str,
        },
        pk="id",
    )
    db["triage"].create_index(["platform", "mention_id"])
    db["drafts"].create(
        {
            "id": int,
            "platform": str,
            "mention_id": str,
            "intent": str,
            "text": str,
            "state": str,
            "template": str,
            "route": str,
            "findings": str,
            "problems": str,
            "decided_by": str,
            "reason": str,
            "posted_id": str,
            "error": str,
            "case_id": int,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
    )
    # One public reply per mention, ever: the database refuses a second draft for the same mention.
    db["drafts"].create_index(["platform", "mention_id"], unique=True)
    db["drafts"].create_index(["state"])
    db["audit"].create(
        {"id": int, "at": str, "actor": str, "action": str, "draft_id": int, "case_id": int, "detail": str},
        pk="id",
    )
    db["outbox"].create(
        {
            "id": int,
            "draft_id": int,
            "case_id": int,
            "kind": str,
            "platform": str,
            "mention_id": str,
            "text": str,
            "idempotency_key": str,
            "state": str,
            "attempts": int,
            "next_attempt_at": str,
            "posted_id": str,
            "error": str,
            "created_at": str,
            "sent_at": str,
        },
        pk="id",
        defaults={"attempts": 0},
    )
    db["outbox"].create_index(["idempotency_key"], unique=True)
    db["outbox"].create_index(["state"])
    db["cases"].create(
        {
            "id": int,
            "ref": str,
            "platform": str,
            "mention_id": str,
            "author_handle": str,
            "author_name": str,
            "intent": str,
            "status": str,
            "stage": str,
            "owner": str,
            "opened_at": str,
            "due_at": str,
            "acknowledged_at": str,
            "contacted_at": str,
            "customer_replied_at": str,
            "resolved_at": str,
            "follow_ups": int,
            "next_follow_up_at": str,
            "action": str,
            "action_owner": str,
            "action_due": str,
        },
        pk="id",
        defaults={"follow_ups": 0},
    )
    db["cases"].create_index(["platform", "mention_id"], unique=True)
    db["cases"].create_index(["status", "due_at"])
    db["case_events"].create(
        {"id": int, "case_id": int, "at": str, "actor": str, "kind": str, "note": str}, pk="id"
    )
    db["case_events"].create_index(["case_id"])
    db["people"].create(
        {
            "platform": str,
            "handle": str,
            "display_name": str,
            "first_seen": str,
            "last_seen": str,
            "mentions": int,
            "complaints": int,
            "praise": int,
            "stage": str,
        },
        pk=("platform", "handle"),
        defaults={"mentions": 0, "complaints": 0, "praise": 0},
    )
    db["labels"].create(
        {
            "id": int,
            "platform": str,
            "mention_id": str,
            "text": str,
            "complaint": int,
            "intent": str,
            "source": str,
            "actor": str,
            "at": str,
        },
        pk="id",
    )
    db["runs"].create(
        {
            "id": int,
            "connector": str,
            "started_at": str,
            "duration_ms": int,
            "fetched": int,
            "new": int,
            "errors": int,
            "status": str,
            "error": str,
        },
        pk="id",
    )
    db["runs"].create_index(["connector", "started_at"])
    db["models"].create(
        {"version": str, "kind": str, "created_at": str, "active": int, "scores": str, "blob": bytes},
        pk="version",
        defaults={"active": 0},
    )
    db["settings"].create({"key": str, "value": str}, pk="key")


@migrations()
def m002_report_indexes(db: Database) -> None:
    # The weekly report reads week-sized ranges of a large history; these keep every query an index range.
    db["mentions"].create_index(
        ["created_at", "own", "platform", "intent", "sentiment", "id"], index_name="mentions_week"
    )
    db["mentions"].create_index(["platform", "created_at"])
    db["outbox"].create_index(["platform", "mention_id"])
    db["cases"].create_index(["opened_at"])
    db["cases"].create_index(["resolved_at"])
    db["cases"].create_index(["due_at"])
    db["case_events"].create_index(["kind", "at"])
    db["labels"].create_index(["at"])
    db["labels"].create_index(["platform", "mention_id"])
    db["runs"].create_index(["started_at"])


@migrations()
def m003_outbox_claims(db: Database) -> None:
    # Who is posting an item right now, and since when: another worker leaves a live claim alone.
    db["outbox"].add_column("claimed_by", str)
    db["outbox"].add_column("claimed_at", str)


@migrations()
def m004_drafts_template_index(db: Database) -> None:
    # Template rotation asks when each variant was last used: one index lookup per variant.
    db["drafts"].create_index(["template", "id"])


@migrations()
def m005_run_calls(db: Database) -> None:
    # API requests each poll made: X charges per call, and every platform's quota is counted in calls.
    db["runs"].add_column("calls", int)


@migrations()
def m006_discord(db: Database) -> None:
    # The Discord card of each draft and the thread of each case, so a restarted bot edits rather than reposts.
    db["discord_cards"].create({"draft_id": int, "message_id": str, "state": str}, pk="draft_id")
    db["discord_threads"].create({"case_id": int, "thread_id": str}, pk="case_id")


@migrations()
def m007_credentials(db: Database) -> None:
    # When each connector's credential expires, as its platform (or its config) said; recorded when it changes.
    db["credentials"].create(
        {"connector": str, "expires_at": str, "what": str, "renews": int, "recorded_at": str}, pk="connector"
    )


@migrations()
def m008_fewer_mention_indexes(db: Database) -> None:
    # Every index is paid on each stored mention. No query looks mentions up by author (people has its own
    # table), and ``mentions_week`` begins with created_at: these two only slowed bulk imports down.
    db.execute("drop index if exists idx_mentions_platform_author_handle")
    db.execute("drop index if exists idx_mentions_created_at")


@migrations()
def m009_untrusted(db: Database) -> None:
    # Items a connector could not read, kept aside with their raw body so its cursor can move past them; and the
    # mentions the platform would not take a reply to (removed, locked, archived), or that their author edited.
    db["quarantine"].create(
        {"id": int, "connector": str, "platform": str, "item_id": str, "reason": str, "raw": str, "at": str},
        pk="id",
    )
    db["quarantine"].create_index(["connector", "at"])
    db["mentions"].add_column("unanswerable", str)
    db["mentions"].add_column("edited", int)


@migrations()
def m010_dry_run(db: Database) -> None:
    # A dry run used to settle its drafts as "posted" and stamp their cases acknowledged and contacted although
    # nothing was sent: after a trial run, real complaints looked handled. Such records say "dry run" now, and the
    # open cases they touched are back to unanswered (their history keeps the dry run as its own event).
    db.execute(
        "update drafts set state = 'dry_run' where state = 'posted' and posted_id is null and id in "
        "(select draft_id from outbox where kind = 'reply' and state = 'dry_run' and draft_id is not null)"
    )
    db.execute("update outbox set sent_at = null where state = 'dry_run'")
    for field, kind, note in (
        ("acknowledged_at", "acknowledged", "reply recorded (dry run)"),
        ("contacted_at", "contacted", "message recorded (dry run)"),
    ):
        db.execute(
            f"update cases set {field} = null where status = 'open' and id in "
            "(select case_id from case_events where kind = ? and note = ?)",
            [kind, note],
        )
        db.execute("update case_events set kind = 'dry_run' where kind = ? and note = ?", [kind, note])
    db.execute(
        "update cases set stage = 'contact' where status = 'open' and stage = 'what_happened' "
        "and contacted_at is null and customer_replied_at is null "
        "and id in (select case_id from case_events where kind = 'dry_run')"
    )


@migrations()
def m011_draft_notes(db: Database) -> None:
    # What the manager should know about a draft without it blocking approval: why the name was left out.
    db["drafts"].add_column("notes", str)


@migrations()
def m012_connector_state(db: Database) -> None:
    # State that lived as strings in ``settings`` under made-up keys ("connector:x:paused", "private-cursor:x",
    # "posting_paused", "report:last_week", "triage.*") gets columns of its own: per connector, and one row for
    # the installation. The values are carried over; the key/value table goes.
    db["connector_state"].create(
        {"connector": str, "paused": str, "private_cursor": str, "updated_at": str}, pk="connector"
    )
    db["bot_state"].create(
        {
            "id": int,
            "posting_paused": str,
            "report_last_week": str,
            "retrained_at": str,
            "retrain_labels": int,
        },
        pk="id",
    )
    db.execute("insert into bot_state (id) values (1)")
    if "settings" not in db.table_names():
        return
    db.execute(
        "insert into connector_state (connector, paused) select substr(key, 11, length(key) - 17), value "
        "from settings where key like 'connector:%:paused'"
    )
    db.execute(
        "insert into connector_state (connector, private_cursor) select substr(key, 16), value from settings "
        "where key like 'private-cursor:%' on conflict (connector) do update set private_cursor = "
        "excluded.private_cursor"
    )
    for column, key in (
        ("posting_paused", "posting_paused"),
        ("report_last_week", "report:last_week"),
        ("retrained_at", "triage.last_retrain"),
        ("retrain_labels", "triage.labels_at_retrain"),
    ):
        db.execute(f"update bot_state set {column} = (select value from settings where key = ?)", [key])
    db["settings"].drop()


@migrations()
def m013_leases(db: Database) -> None:
    # Several daemons on one database: who polls each connector, and who leads (the Discord bot, the SLA sweep,
    # the weekly report, retraining), each until its lease runs out unless its holder renews it.
    db["leases"].create({"name": str, "holder": str, "acquired_at": str, "expires_at": str}, pk="name")


@migrations()
def m014_discord_connection(db: Database) -> None:
    # The approval bot's connection to Discord, for ``status`` (and ``status --check``) in another process.
    for column in ("discord_state", "discord_since", "discord_checked_at", "discord_error"):
        db["bot_state"].add_column(column, str)
    # The Discord display name of each manager who decided, for cards drawn later (the actor id is "discord:<name>").
    db["discord_names"].create({"actor": str, "display_name": str}, pk="actor")


@migrations()
def m015_connector_budget(db: Database) -> None:
    # What a connector says of its own budget (YouTube's daily quota), for ``status``.
    db["connector_state"].add_column("budget", str)


@migrations()
def m016_case_mail(db: Database) -> None:
    # The email backend: each case's known customer address, and every mail of a case's thread (ours queued and
    # sent, the customer's received, the agents' from the shared mailbox), keyed by Message-ID so a mail read
    # twice (a new UIDVALIDITY, a crash before the cursor was saved) is attached once and a reply threads to it.
    db["case_mail_addresses"].create({"case_id": int, "address": str, "at": str}, pk="case_id")
    # How far each folder of the shared mailbox was read ("UIDVALIDITY:UID").
    db["mail_cursors"].create({"folder": str, "cursor": str}, pk="folder")
    db["case_mail"].create(
        {
            "message_id": str,
            "case_id": int,
            "direction": str,  # out | in | agent | ignored
            "state": str,  # queued | sent | dry_run | received | flagged | ignored
            "sender": str,
            "recipient": str,
            "at": str,
            "raw": str,  # our queued mail, sent exactly as composed (its Message-ID fixed before it goes)
            "idempotency_key": str,
        },
        pk="message_id",
    )
    db["case_mail"].create_index(["case_id"])
    db["case_mail"].create_index(["idempotency_key"], unique=True)
    db["case_mail"].create_index(["state"])
    # A helpdesk backend: the ticket each case is mirrored to, and how far its state, owner and articles were read.
    db["case_mirrors"].create(
        {
            "case_id": int,
            "backend": str,
            "remote_id": str,
            "link": str,
            "state": str,
            "owner": str,
            "last_article": int,
            "at": str,
        },
        pk="case_id",
        defaults={"last_article": 0},
    )


@migrations()
def m017_author_reach(db: Database) -> None:
    # The author's followers (or karma) when the post was read, for the report's posts with the widest reach.
    db["mentions"].add_column("author_reach", int)


@migrations()
def m018_platform_state(db: Database) -> None:
    # State connectors kept in files beside the database, so that several daemons on one database share it:
    # YouTube's units spent per (Pacific) day, and Meta's private replies with the customers' last messages.
    db["quota"].create(
        {"connector": str, "day": str, "used": int}, pk=("connector", "day"), not_null={"used"}
    )
    db["private_replies"].create(
        {"connector": str, "mention_id": str, "recipient": str, "sent_at": str},
        pk=("connector", "mention_id"),
    )
    db["private_senders"].create(
        {"connector": str, "recipient": str, "last_at": str}, pk=("connector", "recipient")
    )


@migrations()
def m019_report_mail(db: Database) -> None:
    # The weekly report's mail, sent until each recipient has it: the message of each week (kept until no
    # recipient waits for it any more, since it quotes customers), and per recipient whether it went, how many
    # times it was tried, and when to try again.
    db["report_mails"].create({"week": str, "raw": str, "queued_at": str}, pk="week")
    db["report_mail_recipients"].create(
        {
            "week": str,
            "recipient": str,
            "state": str,  # pending | sent | failed
            "attempts": int,
            "next_attempt_at": str,
            "error": str,
            "sent_at": str,
            "updated_at": str,
        },
        pk=("week", "recipient"),
        defaults={"attempts": 0},
    )
    db["report_mail_recipients"].create_index(["state", "next_attempt_at"])


# -- the same migrations for PostgreSQL ----------------------------------------------------------------------
# Each SQLite migration above has its PostgreSQL statements here under the same name, applied in the same order
# and recorded in ``_migrations``. Text sorts byte-wise (``collate "C"``) as in SQLite: times are ISO text.

T = 'text collate "C"'
ID = "bigint generated by default as identity primary key"

POSTGRES: dict[str, list[str]] = {
    "m001_initial": [
        f"create table mentions (platform {T} not null, id {T} not null, url {T}, author_handle {T}, "
        f"author_name {T}, author_id {T}, text {T} not null, created_at {T} not null, fetched_at {T}, "
        f"kind {T}, rating bigint, parent_id {T}, thread_id {T}, lang {T}, own bigint default 0, intent {T}, "
        f"urgency bigint, sentiment double precision, raw {T}, primary key (platform, id))",
        "create index idx_mentions_created_at on mentions (created_at)",
        "create index idx_mentions_platform_author_handle on mentions (platform, author_handle)",
        f"create table cursors (connector {T} primary key, cursor {T}, updated_at {T})",
        f"create table triage (id {ID}, platform {T}, mention_id {T}, intent {T}, urgency bigint, "
        f"sentiment double precision, complaint_score double precision, scores {T}, reasons {T}, lang {T}, "
        f"needs_human bigint, model_version {T}, decided_at {T})",
        "create index idx_triage_platform_mention_id on triage (platform, mention_id)",
        f"create table drafts (id {ID}, platform {T}, mention_id {T}, intent {T}, text {T}, state {T}, "
        f"template {T}, route {T}, findings {T}, problems {T}, decided_by {T}, reason {T}, posted_id {T}, "
        f"error {T}, case_id bigint, created_at {T}, updated_at {T})",
        "create unique index idx_drafts_platform_mention_id on drafts (platform, mention_id)",
        "create index idx_drafts_state on drafts (state)",
        f"create table audit (id {ID}, at {T}, actor {T}, action {T}, draft_id bigint, case_id bigint, detail {T})",
        f"create table outbox (id {ID}, draft_id bigint, case_id bigint, kind {T}, platform {T}, "
        f"mention_id {T}, text {T}, idempotency_key {T}, state {T}, attempts bigint default 0, "
        f"next_attempt_at {T}, posted_id {T}, error {T}, created_at {T}, sent_at {T})",
        "create unique index idx_outbox_idempotency_key on outbox (idempotency_key)",
        "create index idx_outbox_state on outbox (state)",
        f"create table cases (id {ID}, ref {T}, platform {T}, mention_id {T}, author_handle {T}, "
        f"author_name {T}, intent {T}, status {T}, stage {T}, owner {T}, opened_at {T}, due_at {T}, "
        f"acknowledged_at {T}, contacted_at {T}, customer_replied_at {T}, resolved_at {T}, "
        f"follow_ups bigint default 0, next_follow_up_at {T}, action {T}, action_owner {T}, action_due {T})",
        "create unique index idx_cases_platform_mention_id on cases (platform, mention_id)",
        "create index idx_cases_status_due_at on cases (status, due_at)",
        f"create table case_events (id {ID}, case_id bigint, at {T}, actor {T}, kind {T}, note {T})",
        "create index idx_case_events_case_id on case_events (case_id)",
        f"create table people (platform {T} not null, handle {T} not null, display_name {T}, first_seen {T}, "
        f"last_seen {T}, mentions bigint default 0, complaints bigint default 0, praise bigint default 0, "
        f"stage {T}, primary key (platform, handle))",
        f"create table labels (id {ID}, platform {T}, mention_id {T}, text {T}, complaint bigint, intent {T}, "
        f"source {T}, actor {T}, at {T})",
        f"create table runs (id {ID}, connector {T}, started_at {T}, duration_ms bigint, fetched bigint, "
        f"new bigint, errors bigint, status {T}, error {T})",
        "create index idx_runs_connector_started_at on runs (connector, started_at)",
        f"create table models (version {T} primary key, kind {T}, created_at {T}, active bigint default 0, "
        f"scores {T}, blob bytea)",
        f"create table settings (key {T} primary key, value {T})",
    ],
    "m002_report_indexes": [
        "create index mentions_week on mentions (created_at, own, platform, intent, sentiment, id)",
        "create index idx_mentions_platform_created_at on mentions (platform, created_at)",
        "create index idx_outbox_platform_mention_id on outbox (platform, mention_id)",
        "create index idx_cases_opened_at on cases (opened_at)",
        "create index idx_cases_resolved_at on cases (resolved_at)",
        "create index idx_cases_due_at on cases (due_at)",
        "create index idx_case_events_kind_at on case_events (kind, at)",
        "create index idx_labels_at on labels (at)",
        "create index idx_labels_platform_mention_id on labels (platform, mention_id)",
        "create index idx_runs_started_at on runs (started_at)",
    ],
    "m003_outbox_claims": [f"alter table outbox add column claimed_by {T}, add column claimed_at {T}"],
    "m004_drafts_template_index": ["create index idx_drafts_template_id on drafts (template, id)"],
    "m005_run_calls": ["alter table runs add column calls bigint"],
    "m006_discord": [
        f"create table discord_cards (draft_id bigint primary key, message_id {T}, state {T})",
        f"create table discord_threads (case_id bigint primary key, thread_id {T})",
    ],
    "m007_credentials": [
        f"create table credentials (connector {T} primary key, expires_at {T}, what {T}, renews bigint, "
        f"recorded_at {T})"
    ],
    "m008_fewer_mention_indexes": [
        "drop index if exists idx_mentions_platform_author_handle",
        "drop index if exists idx_mentions_created_at",
    ],
    "m009_untrusted": [
        f"create table quarantine (id {ID}, connector {T}, platform {T}, item_id {T}, reason {T}, raw {T}, at {T})",
        "create index idx_quarantine_connector_at on quarantine (connector, at)",
        f"alter table mentions add column unanswerable {T}, add column edited bigint",
    ],
    # m010 repaired records an older version wrote; a PostgreSQL store never had them.
    "m010_dry_run": [],
    "m011_draft_notes": [f"alter table drafts add column notes {T}"],
    "m012_connector_state": [
        f"create table connector_state (connector {T} primary key, paused {T}, private_cursor {T}, updated_at {T})",
        f"create table bot_state (id bigint primary key, posting_paused {T}, report_last_week {T}, "
        f"retrained_at {T}, retrain_labels bigint)",
        "insert into bot_state (id) values (1)",
        "drop table settings",
    ],
    "m013_leases": [
        f"create table leases (name {T} primary key, holder {T}, acquired_at {T}, expires_at {T})"
    ],
    "m014_discord_connection": [
        f"alter table bot_state add column discord_state {T}, add column discord_since {T}, "
        f"add column discord_checked_at {T}, add column discord_error {T}",
        f"create table discord_names (actor {T} primary key, display_name {T})",
    ],
    "m015_connector_budget": [f"alter table connector_state add column budget {T}"],
    "m016_case_mail": [
        f"create table case_mail_addresses (case_id bigint primary key, address {T}, at {T})",
        f"create table mail_cursors (folder {T} primary key, cursor {T})",
        f"create table case_mail (message_id {T} primary key, case_id bigint, direction {T}, state {T}, "
        f"sender {T}, recipient {T}, at {T}, raw {T}, idempotency_key {T})",
        "create index idx_case_mail_case_id on case_mail (case_id)",
        "create unique index idx_case_mail_idempotency_key on case_mail (idempotency_key)",
        "create index idx_case_mail_state on case_mail (state)",
        f"create table case_mirrors (case_id bigint primary key, backend {T}, remote_id {T}, link {T}, "
        f"state {T}, owner {T}, last_article bigint default 0, at {T})",
    ],
    "m017_author_reach": ["alter table mentions add column author_reach bigint"],
    "m018_platform_state": [
        f"create table quota (connector {T}, day {T}, used bigint not null, primary key (connector, day))",
        f"create table private_replies (connector {T}, mention_id {T}, recipient {T}, sent_at {T}, "
        "primary key (connector, mention_id))",
        f"create table private_senders (connector {T}, recipient {T}, last_at {T}, primary key (connector, recipient))",
    ],
    "m019_report_mail": [
        f"create table report_mails (week {T} primary key, raw {T}, queued_at {T})",
        f"create table report_mail_recipients (week {T} not null, recipient {T} not null, state {T}, "
        f"attempts bigint default 0, next_attempt_at {T}, error {T}, sent_at {T}, updated_at {T}, "
        "primary key (week, recipient))",
        "create index idx_report_mail_recipients_state_next_attempt_at on report_mail_recipients "
        "(state, next_attempt_at)",
    ],
}


def apply_postgres(engine) -> None:
    """Apply the pending migrations to a PostgreSQL store, one daemon at a time (an advisory lock)."""
    from datetime import UTC, datetime

    with engine.transaction():
        engine.execute("select pg_advisory_xact_lock(19190001)", [])
        engine.execute(f"create table if not exists _migrations (name {T} primary key, applied_at {T})", [])
        done = {row[0] for row in engine.execute("select name from _migrations", []).fetchall()}
        for migration in migrations._migrations:
            if migration.name in done:
                continue
            for statement in POSTGRES[migration.name]:
                engine.execute(statement, [])
            engine.execute(
                "insert into _migrations (name, applied_at) values (?, ?)",
                [migration.name, datetime.now(UTC).isoformat(timespec="seconds")],
            )
