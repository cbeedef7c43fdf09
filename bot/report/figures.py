"""The weekly report's figures: pure arithmetic over the store's read-only queries, into a frozen ``Report``.

Every figure comes from a SQL aggregate in ``bot.store`` over one ISO week (Monday to Sunday in ``brand.timezone``)
and the seven weeks before it; only the week's own complaint and inquiry texts are read, streamed, to find themes
and frequent questions. Nothing here renders or writes a file (``bot.report.render``) or knows the schedule
(``bot.report.schedule``).
"""

from __future__ import annotations

import itertools
import math
import re
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.models import CredentialExpiry
from bot.store import Store, iso
from bot.store.records import (
    CaseActivity,
    CaseTiming,
    ConnectorRuns,
    Decisions,
    MentionText,
    PersonWeek,
    ReachPost,
    Wait,
)

SILENT_PER_COMPLAINT = 26  # doctrine §5 (source 003): only 4% of unhappy customers complain
TREND_WEEKS = 8
SILENT_AFTER_DAYS = 7
INTENTS = ("complaint", "inquiry", "praise", "other")
# Praise the complaint model scores this high (complaints start at 0.5) reads mixed: "Acme's new pricing is a joke …
# Loyal customer for 5 years and this is the thanks". It is never listed among the advocates.
MIXED_PRAISE = 0.4
STEPS = 9  # progress steps: the eight of ``build`` and the charts

# Recurring causes of complaints; a complaint may have several. Keys that match an ``[sla] targets`` key get
# that target shown beside them.
THEMES: dict[str, str] = {
    "delivery": r"deliver\w*|shipping|shipped|shipment|parcel|package|courier|tracking|arriv\w*|never came|"
    r"lost in the post|dispatch\w*",
    "billing": r"charged|charges|charge me|billing|billed|invoice\w*|overcharg\w*|payment\w*|paid twice|credit card",
    "refund": r"refund\w*|money back|reimburs\w*|return\w*",
    "login / account": r"log ?in|log(?:s|ged|ging)? (?:me |us )?out|sign ?in|password\w*|account\w*|locked out|"
    r"2fa|verification code",
    "crash / bug": r"crash\w*|bug\w*|freez\w*|glitch\w*|error\w*|not working|doesn'?t work|won'?t (?:open|load|start)|"
    r"keeps closing|broken app",
    "support wait": r"no (?:one|reply|response|answer)|waiting|waited|on hold|ignored|still no|"
    r"(?:hours|days|weeks) (?:later|now|waiting)|nobody|customer service|support (?:is|was|never)|no support|"
    r"without (?:an? )?(?:answer\w*|repl\w*|respon\w*)",
    "cancellation": r"cancel\w*|unsubscrib\w*|auto-?renew\w*",
    "product quality": r"defect\w*|damaged|faulty|stopped working|battery|screen|cheap|poor quality|fell apart",
    "price": r"pric(?:e\w*|ing)|expensive|overpriced|too much|rip ?off",
}
THEME_PATTERNS = {name: re.compile(rf"\b(?:{rx})\b", re.I) for name, rx in THEMES.items()}

STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been before being below
    between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during each few
    for from further get got had hadn't has hasn't have haven't having he her here hers herself him himself his how
    i i'm i've if in into is isn't it it's its itself just let's me more most my myself no nor not now of off on
    once only or other ought our ours ourselves out over own same she should so some still such than that that's
    the their theirs them themselves then there there's these they they're this those through to too under until
    up very was wasn't we we're were weren't what what's when where which while who whom why will with won't would
    you you're your yours yourself yourselves also really im ive dont cant wont thanks thank hi hello hey please
    guys one get got going even ever us yet new any anyone anybody still again""".split()  # noqa: SIM905
)
TOKEN = re.compile(r"[a-z][a-z0-9'’-]{1,}")
NOISE = re.compile(r"https?://\S+|[@#]\w+|(?<![\w/])[ur]/\w+|&\w+;")  # links, @handles, u/ and r/ names


# -- the week -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Week:
    """One ISO week in a time zone: its label, its seven local days, and their edges in UTC."""

    label: str
    monday: date
    tz: ZoneInfo
    edges: tuple[datetime, ...]  # eight UTC instants: each local midnight from Monday to the next Monday

    @property
    def start(self) -> datetime:
        return self.edges[0]

    @property
    def end(self) -> datetime:
        return self.edges[-1]

    @property
    def days(self) -> list[date]:
        return [self.monday + timedelta(days=i) for i in range(7)]

    def previous(self, n: int = 1) -> Week:
        return week_of(self.monday - timedelta(weeks=n), self.tz)

    def title(self) -> str:
        sunday = self.monday + timedelta(days=6)
        return f"{self.label} ({self.monday:%a %d %b} – {sunday:%a %d %b %Y})"


def week_of(day: date, tz: ZoneInfo) -> Week:
    """The ISO week containing local date ``day``."""
    year, number, weekday = day.isocalendar()
    monday = day - timedelta(days=weekday - 1)
    edges = tuple(
        datetime.combine(monday + timedelta(days=i), time(0), tzinfo=tz).astimezone(UTC) for i in range(8)
    )
    return Week(label=f"{year}-W{number:02d}", monday=monday, tz=tz, edges=edges)


def parse_week(text: str, tz: ZoneInfo) -> Week:
    """A week from ``2026-W47`` (ISO year and week); ValueError with a clear message otherwise."""
    match = re.fullmatch(r"(\d{4})-?W(\d{1,2})", text.strip(), re.I)
    if not match:
        raise ValueError(f"expected an ISO week like 2026-W47, got {text!r}")
    try:
        monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise ValueError(f"{text!r}: the year {match[1]} has no week {int(match[2])}") from None
    return week_of(monday, tz)


def default_week(store: Store, now: datetime, tz: ZoneInfo) -> tuple[Week, str | None]:
    """The week a report covers when none is asked for, and a note when it is not the last complete one.

    Normally the last complete week. Straight after installing (the first mention was stored during that week or
    later, as after the demo) or when that week holds no mention, the latest week that has data instead.
    """
    complete = last_complete_week(now, tz)
    latest, first = store.last_mention_before(iso(now)), store.first_mention_at()
    if latest is None or first is None:
        return complete, None
    n = sum(r.n for r in store.report_buckets([iso(complete.start), iso(complete.end)]))
    chosen = week_of(latest.astimezone(tz).date(), tz)
    if chosen.label == complete.label or (n and first < complete.start):
        return complete, None
    held = "holds no mentions" if not n else f"holds only {n} mention{'s' if n != 1 else ''}"
    since = f"mentionbot has collected mentions since {first.astimezone(tz):%a %d %b}; " if n else ""
    note = (
        f"{since}the last complete week, {complete.label}, {held}, so this report covers {chosen.label}, "
        "the latest week that has data. Ask for another with --week."
    )
    return chosen, note[0].upper() + note[1:]


def last_complete_week(now: datetime, tz: ZoneInfo) -> Week:
    """The latest week that has ended by ``now`` in ``tz``."""
    return week_of(now.astimezone(tz).date(), tz).previous()


# -- figures ------------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0–100) by linear interpolation between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Timing:
    """How long customers waited for one kind of answer."""

    answered: int
    median_hours: float | None
    p90_hours: float | None
    same_day: float | None  # shares 0–1 of the answered
    within_24h: float | None
    within_target: float | None


def timing(
    pairs: Iterable[tuple[str | None, datetime | None, datetime | None]],
    tz: ZoneInfo | None,
    targets: dict[str, float],
) -> Timing:
    """Waits from (intent, posted, answered) triples; targets by intent, ``*`` for the rest. Without ``tz`` the
    share answered the same local day is not computed (the trend weeks need no more)."""
    hours, same_day, in_day, in_target = [], 0, 0, 0
    for intent, p, a in pairs:
        if not (p and a):
            continue
        wait = max((a - p).total_seconds() / 3600, 0.0)
        hours.append(wait)
        if tz is not None:
            same_day += p.astimezone(tz).date() == a.astimezone(tz).date()
        in_day += wait <= 24
        in_target += wait <= targets.get(intent or "", targets["*"])
    n = len(hours)
    return Timing(
        answered=n,
        median_hours=percentile(hours, 50),
        p90_hours=percentile(hours, 90),
        same_day=same_day / n if n and tz is not None else None,
        within_24h=in_day / n if n else None,
        within_target=in_target / n if n else None,
    )


@dataclass(frozen=True)
class Theme:
    """A recurring cause among the week's complaints."""

    name: str
    count: int
    examples: list[dict]
    target_hours: float | None = None
    kind: str = "theme"  # theme (from the lexicon) | phrase (shared by complaints no theme names)
    previous: int = 0  # complaints on the same theme the week before


@dataclass(frozen=True)
class Question:
    """A question asked again and again: a candidate for the FAQ (doctrine §6)."""

    topic: str
    count: int
    examples: list[dict]


@dataclass(frozen=True)
class WeekFigures:
    """One week of the 8-week trend."""

    label: str
    mentions: int = 0
    intents: dict[str, int] = field(default_factory=dict)
    sentiment: float | None = None
    complaint_rate: float | None = None
    reply_median_hours: float | None = None  # first public reply
    reply_within_target: float | None = None  # share of first replies within the SLA target: "SLA met"
    contact_median_hours: float | None = None  # first private contact
    rating: float | None = None  # average star rating of the week's reviews
    ratings: int = 0


@dataclass(frozen=True)
class Sla:
    """How one channel or one owner kept the response-time target."""

    name: str
    answered: int
    median_hours: float | None
    within_target: float | None
    overdue: int = 0  # owners: cases whose acknowledgement is overdue


@dataclass(frozen=True)
class Rating:
    """A review site's average star rating this week and over the 8 weeks (oldest first)."""

    platform: str
    average: float | None
    count: int
    trend: tuple[float | None, ...]


@dataclass(frozen=True)
class Headline:
    """One figure of the headline: this week, the week before and the 8-week series; ``kind`` says its unit
    and ``better`` which way is good ("up" or "down")."""

    name: str
    value: float | None
    previous: float | None
    series: tuple[float | None, ...]
    kind: str  # count | hours | share | stars
    better: str


@dataclass(frozen=True)
class Report:
    """Everything the weekly report says, as plain data."""

    brand: str
    week: Week
    generated_at: datetime
    new_install: bool
    notes: tuple[str, ...] = ()  # what the reader must know about the week itself
    days: dict[str, list[int]] = field(default_factory=dict)  # platform -> seven daily counts
    intents: dict[str, int] = field(default_factory=dict)
    trend: tuple[WeekFigures, ...] = ()  # oldest first; the report's week last
    reply: Timing | None = None
    contact: Timing | None = None
    reply_by_channel: tuple[Sla, ...] = ()
    owners: tuple[Sla, ...] = ()
    ratings: tuple[Rating, ...] = ()
    drafts: dict[str, int] = field(default_factory=dict)
    cases: CaseActivity = field(default_factory=CaseActivity)
    handoff: dict[str, dict[str, int]] = field(default_factory=dict)  # platform -> cases, contacted, replied
    themes: tuple[Theme, ...] = ()
    questions: tuple[Question, ...] = ()
    advocates: tuple[PersonWeek, ...] = ()
    reach: tuple[ReachPost, ...] = ()  # the week's posts whose authors have the most followers
    repeat_complainers: tuple[PersonWeek, ...] = ()
    precision: dict[str, int] = field(default_factory=dict)
    decisions: Decisions = field(default_factory=Decisions)  # drafts approved as drafted, edited, rejected
    connectors: tuple[ConnectorHealth, ...] = ()
    credential_warnings: tuple[tuple[str, str], ...] = ()  # (connector, what expires when)
    targets: dict[str, float] = field(default_factory=dict)  # hours by intent, "*" for the rest

    @property
    def total(self) -> int:
        return sum(sum(v) for v in self.days.values())

    @property
    def complaints(self) -> int:
        return self.intents.get("complaint", 0)

    @property
    def complaint_rate(self) -> float | None:
        triaged = sum(n for intent, n in self.intents.items() if intent != "untriaged")
        return self.complaints / triaged if triaged else None

    @property
    def sentiment(self) -> float | None:
        return self.trend[-1].sentiment if self.trend else None

    @property
    def silent_estimate(self) -> int:
        return self.complaints * SILENT_PER_COMPLAINT

    @property
    def headline(self) -> tuple[Headline, ...]:
        """Mentions, complaints, median first response, SLA met and rating, each against the week before."""

        def line(name: str, pick: Callable[[WeekFigures], float | None], kind: str, better: str) -> Headline:
            series = tuple(pick(w) for w in self.trend)
            previous = series[-2] if len(series) > 1 else None
            return Headline(name, series[-1] if series else None, previous, series, kind, better)

        return (
            line("mentions", lambda w: w.mentions, "count", "up"),
            line("complaints", lambda w: w.intents.get("complaint", 0), "count", "down"),
            line("median first response", lambda w: w.reply_median_hours, "hours", "down"),
            line("SLA met", lambda w: w.reply_within_target, "share", "up"),
            line("rating", lambda w: w.rating, "stars", "up"),
        )


def build(
    store: Store,
    config: Config,
    *,
    week: Week,
    now: datetime,
    notes: Iterable[str] = (),
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Compute the report for ``week`` from the store; ``notes`` go first in what it says about the week."""
    step = progress or (lambda what: None)
    start, end = iso(week.start), iso(week.end)
    first = store.first_mention_at()
    notes = list(notes)
    if week.end > now:
        notes.append(
            f"This week is not over yet: the figures cover {week.monday:%a %d %b} to "
            f"{now.astimezone(week.tz):%a %d %b %H:%M} only."
        )
    if first is not None and week.start < first < week.end:
        notes.append(
            f"The first stored mention was posted on {first.astimezone(week.tz):%a %d %b %H:%M}: "
            "the days before it hold no data, not silence."
        )

    step("volume")
    weeks = [week.previous(n) for n in range(TREND_WEEKS - 1, -1, -1)]
    edges = [w.start for w in weeks] + [week.end]
    # One pass over the eight weeks: the seven before by week, the report's own week by local day.
    earlier = len(weeks) - 1
    days: dict[str, list[int]] = {}
    intents: Counter = Counter()
    volume = [{"n": 0, "intents": Counter(), "s": 0.0, "sn": 0} for _ in weeks]
    ratings: dict[str, list[tuple[float, int]]] = defaultdict(lambda: [(0.0, 0)] * len(weeks))
    for row in store.report_buckets([iso(w.start) for w in weeks[:-1]] + [iso(e) for e in week.edges]):
        i = min(row.bucket, earlier)
        if row.bucket >= earlier:
            days.setdefault(row.platform, [0] * 7)[row.bucket - earlier] += row.n
            intents[row.intent] += row.n
        t = volume[i]
        t["n"] += row.n
        t["intents"][row.intent] += row.n
        t["s"] += row.sentiment_sum
        t["sn"] += row.sentiment_n
        if row.rating_n:
            total, rated = ratings[row.platform][i]
            ratings[row.platform][i] = (total + row.rating_sum, rated + row.rating_n)

    step("response times")
    sla = config.sla
    targets = {"complaint": sla.acknowledge_hours, "inquiry": sla.inquiry_hours, "*": sla.acknowledge_hours}

    replies: list[list[Wait]] = [[] for _ in weeks]
    for r in store.report_first_replies(iso(edges[0]), end):
        replies[bisect_right(edges, r.posted_at) - 1].append(r)
    contacts: list[list[Wait]] = [[] for _ in weeks]
    for r in store.report_first_contacts(iso(edges[0]), end):
        contacts[bisect_right(edges, r.posted_at) - 1].append(r)

    def wait_timing(rows: list[Wait], tz: ZoneInfo | None = None) -> Timing:
        return timing(((r.intent, r.posted_at, r.answered_at) for r in rows), tz, targets)

    def contact_timing(rows: list[CaseTiming]) -> Timing:
        return timing(((r.intent, r.created_at, r.contacted_at) for r in rows), None, targets)

    week_replies, case_rows = replies[-1], store.report_cases_for(start, end)
    reply, contact = wait_timing(week_replies, week.tz), wait_timing(contacts[-1], week.tz)
    trend = []
    for i, w in enumerate(weeks):
        last = i == len(weeks) - 1
        v = volume[i]
        reply_i = reply if last else wait_timing(replies[i])
        contact_i = contact if last else wait_timing(contacts[i])
        triaged = v["n"] - v["intents"].get("untriaged", 0)
        rating_sum = sum(ratings[p][i][0] for p in ratings)
        rated = sum(ratings[p][i][1] for p in ratings)
        trend.append(
            WeekFigures(
                label=w.label,
                mentions=v["n"],
                intents=dict(v["intents"]),
                sentiment=v["s"] / v["sn"] if v["sn"] else None,
                complaint_rate=v["intents"]["complaint"] / triaged if triaged else None,
                reply_median_hours=reply_i.median_hours,
                reply_within_target=reply_i.within_target,
                contact_median_hours=contact_i.median_hours,
                rating=rating_sum / rated if rated else None,
                ratings=rated,
            )
        )
    by_channel = defaultdict(list)
    for r in week_replies:
        by_channel[r.platform].append(r)
    reply_by_channel = tuple(
        Sla(p, t.answered, t.median_hours, t.within_target)
        for p, t in sorted((p, wait_timing(rows)) for p, rows in by_channel.items())
    )
    by_owner = defaultdict(list)
    for r in case_rows:
        by_owner[r.owner or "unassigned"].append(r)
    owners = tuple(
        owner_sla(name, rows, now=now, contact=contact_timing(rows))
        for name, rows in sorted(by_owner.items())
    )
    drafts = store.report_drafts(start, end)

    step("cases")
    cases = store.report_case_activity(start, end, now=iso(now))
    handoff: dict[str, dict[str, int]] = {}
    for r in case_rows:
        h = handoff.setdefault(r.platform, {"cases": 0, "contacted": 0, "replied": 0})
        h["cases"] += 1
        h["contacted"] += r.contacted_at is not None
        h["replied"] += r.contacted_at is not None and r.customer_replied_at is not None

    step("complaint themes")
    themes = complaint_themes(store, start, end, brand=config.brand.name, targets=sla.targets)
    before = week.previous()
    themes = theme_changes(store, iso(before.start), iso(before.end), themes, brand=config.brand.name)

    step("frequent questions")
    questions = frequent_questions(store.report_texts(start, end, intent="inquiry"), config.brand.name)

    step("people")
    advocates = store.report_advocates(start, end, mixed_from=MIXED_PRAISE)
    repeat = [
        p
        for p in store.report_people(start, end, intent="complaint", limit=50)
        if max(p.n, p.complaints) >= 2
    ][:10]

    reach = store.report_widest_reach(start, end)

    step("filter precision")
    p: Counter = Counter()
    for r in store.report_labels(start, end):
        said = r.predicted == "complaint"
        p[("tp" if r.complaint else "fp") if said else ("fn" if r.complaint else "tn")] += r.n

    step("connector health")
    connectors, warnings = connector_health(store, config, week=week, now=now)
    return Report(
        brand=config.brand.name,
        week=week,
        generated_at=now,
        new_install=first is None,
        notes=tuple(notes),
        days=days,
        intents=dict(intents),
        trend=tuple(trend),
        reply=reply,
        contact=contact,
        reply_by_channel=reply_by_channel,
        owners=owners,
        ratings=tuple(
            Rating(
                platform,
                weekly[-1][0] / weekly[-1][1] if weekly[-1][1] else None,
                weekly[-1][1],
                tuple(s / n if n else None for s, n in weekly),
            )
            for platform, weekly in sorted(ratings.items())
        ),
        drafts=drafts,
        cases=cases,
        handoff=handoff,
        themes=tuple(themes),
        questions=tuple(questions),
        advocates=tuple(advocates),
        reach=tuple(reach),
        repeat_complainers=tuple(repeat),
        precision=dict(p),
        decisions=store.report_decisions(start, end),
        connectors=tuple(connectors),
        credential_warnings=tuple(warnings),
        targets=targets,
    )


def owner_sla(name: str, rows: list[CaseTiming], *, now: datetime, contact: Timing) -> Sla:
    """One owner's cases: acknowledged by their due time (of those acknowledged or already due), and overdue."""
    due = [r for r in rows if r.acknowledged_at or (r.due_at and r.due_at <= now)]
    in_time = sum(1 for r in due if r.acknowledged_at and (not r.due_at or r.acknowledged_at <= r.due_at))
    overdue = sum(1 for r in due if not r.acknowledged_at and r.status == "open")
    return Sla(name, len(rows), contact.median_hours, in_time / len(due) if due else None, overdue=overdue)


@dataclass(frozen=True)
class ConnectorHealth:
    """One line of the connector health table: what its health reads, its polls in the week, its credentials."""

    connector: str
    health: str
    runs: ConnectorRuns
    credentials: str = "–"


def connector_health(
    store: Store, config: Config, *, week: Week, now: datetime
) -> tuple[list[ConnectorHealth], list[tuple[str, str]]]:
    """Each connector's polls in the week and its health; the credential warnings."""
    paused = store.paused_connectors()
    expiries = store.credential_expiries()
    warn_days = config.report.credentials_warn_days
    silent_before = week.end - timedelta(days=SILENT_AFTER_DAYS)
    rows = store.report_runs(iso(week.start), iso(week.end))
    rows += [ConnectorRuns(n) for n in sorted(set(expiries) - {r.connector for r in rows})]
    out, warnings = [], []
    for r in rows:
        name = r.connector
        cred = credentials(expiries.get(name), now=now, tz=week.tz, warn_days=warn_days)
        if cred.warn:
            warnings.append((name, cred.text))
        if name in paused:
            health = f"paused: {paused[name]}"
        elif cred.warn:
            health = f"renew credentials: {cred.text}"
        elif not r.polls:
            health = "not polled this week"
        elif r.failed == r.polls:
            health = "every poll failed"
        elif r.last_new_at is None or r.last_new_at < silent_before:
            health = f"silent: no new mention for {SILENT_AFTER_DAYS}+ days"
        else:
            health = "ok"
        out.append(ConnectorHealth(name, health, r, cred.text))
    for name in sorted(set(paused) - {h.connector for h in out}):
        out.append(ConnectorHealth(name, f"paused: {paused[name]}", ConnectorRuns(name)))
    approvals = store.discord_state() if config.discord.enabled else None
    if approvals and approvals.state in ("refused", "down"):
        since = approvals.since.astimezone(week.tz).strftime("%Y-%m-%d %H:%M")
        said = "Discord refused the bot's token" if approvals.state == "refused" else "cannot reach Discord"
        name = "discord (approvals)"
        out.append(
            ConnectorHealth(
                name,
                f"{said} since {since}: no cards for the managers",
                ConnectorRuns(name, last_error=approvals.error),
            )
        )
    return out, warnings


@dataclass(frozen=True)
class CredentialNote:
    """How a connector's credential expiry reads in its health, and whether someone must renew it soon."""

    text: str
    warn: bool = False


def credentials(
    expiry: CredentialExpiry | None, *, now: datetime, tz: ZoneInfo, warn_days: int
) -> CredentialNote:
    """``expiry`` as connector health says it: "service account key expires in 9 days (2026-12-10)"; a warning
    when it is less than ``warn_days`` away (or past) and the connector cannot renew it by itself."""
    if expiry is None:
        return CredentialNote("–")
    left = expiry.at - now
    on = f"{expiry.at.astimezone(tz):%Y-%m-%d}"
    if left <= timedelta(0):
        text = f"{expiry.what} expired on {on}"
    elif left < timedelta(days=1):
        text = f"{expiry.what} expires in less than a day ({expiry.at.astimezone(tz):%Y-%m-%d %H:%M})"
    else:
        text = f"{expiry.what} expires in {left.days} day{'s' if left.days != 1 else ''} ({on})"
    if expiry.renews:
        return CredentialNote(f"{text}, renewed automatically")
    return CredentialNote(text, warn=left < timedelta(days=warn_days))


def words(text: str, brand: str) -> list[str]:
    """The content words of ``text``, lower-case, without links, handles, the brand or stopwords."""
    text = NOISE.sub(" ", text.lower()).replace("’", "'")
    brand = brand.lower()
    return [w.strip("'-") for w in TOKEN.findall(text) if w not in STOPWORDS and w != brand and len(w) > 2]


# "two days", "third week", "40 minutes": how long, not what went wrong; never a theme's name.
SPAN = re.compile(
    r"(?:\d+\w*|one|two|three|four|five|six|seven|eight|nine|ten|twelve|first|second|third|fourth|fifth|few|"
    r"several|couple|many|last|next|whole|entire) (?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|times?)"
)
CLAUSE = re.compile(r"[.,;:!?()\[\]\"“”]+|\s[-–—]\s")


def phrases(text: str, brand: str) -> set[str]:
    """The two-word phrases of ``text``: neighbouring content words within a clause, never across a stopword,
    a link, a handle or one of the brand's own words ("burnt plastic", "support ticket")."""
    text = NOISE.sub(" , ", text.lower()).replace("’", "'")
    own = set(brand.lower().split())
    out: set[str] = set()
    for clause in CLAUSE.split(text):
        run: list[str] = []
        for token in [*TOKEN.findall(clause), ""]:
            w = token.strip("'-")
            if w and w not in STOPWORDS and w not in own and len(w) > 2:
                run.append(w)
                continue
            out.update(p for p in (f"{a} {b}" for a, b in itertools.pairwise(run)) if not SPAN.fullmatch(p))
            run = []
    return out


def example(row: MentionText) -> dict:
    text = " ".join(row.text.split())
    return {
        "platform": row.platform,
        "author": row.author_handle,
        "url": row.url or "",
        "text": text if len(text) <= 200 else text[:197] + "…",
    }


def complaint_themes(
    store: Store, start: str, end: str, *, brand: str, targets: dict[str, float], examples: int = 2
) -> list[Theme]:
    """Group the week's complaints by the theme lexicon; name the rest by their most distinctive phrases."""
    found: dict[str, list[dict]] = defaultdict(list)
    counts: Counter = Counter()
    rest: list[tuple[MentionText, set[str]]] = []
    others: list[str] = []  # the week's other texts, the background the phrases must stand out from
    for row in store.report_texts(start, end):
        if row.intent != "complaint":
            others.append(row.text.lower())
            continue
        text = NOISE.sub(" ", row.text)  # "u/acme_support" is not a complaint about support
        matched = [name for name, rx in THEME_PATTERNS.items() if rx.search(text)]
        for name in matched:
            counts[name] += 1
            if len(found[name]) < examples:
                found[name].append(example(row))
        if not matched:
            rest.append((row, phrases(row.text, brand)))
    themes = [
        Theme(name, n, found[name], target_hours=targets.get(name.split(" ")[0]))
        for name, n in counts.most_common()
    ]
    # Distinctive: frequent in the unthemed complaints, rare in the week's other mentions (smoothed log-odds).
    # Only phrases shared by two complaints or more: a single word ("week", "ticket") names no topic.
    df = Counter(w for _, ws in rest for w in ws)
    shared = {w for w, n in df.items() if n >= 2}
    background: Counter = Counter()
    if shared:  # only the texts that hold a shared phrase's words are cut into phrases (the costly part)
        first_words = re.compile("|".join(sorted({re.escape(w.split()[0]) for w in shared})))
        for text in others:
            if first_words.search(text):
                background.update(phrases(text, brand) & shared)
    background_docs = len(others)
    scored = sorted(
        (
            (
                math.log((n + 0.5) / (len(rest) + 1))
                - math.log((background[w] + 0.5) / (background_docs + 1)),
                w,
            )
            for w, n in df.items()
            if n >= 2
        ),
        reverse=True,
    )
    taken: set[int] = set()
    for _, w in scored[:8]:
        rows = [(i, row) for i, (row, ws) in enumerate(rest) if w in ws and i not in taken]
        if len(rows) < 2:
            continue
        taken.update(i for i, _ in rows)
        themes.append(Theme(w, len(rows), [example(r) for _, r in rows[:examples]], kind="phrase"))
    return themes


def frequent_questions(
    rows: Iterable[MentionText], brand: str, *, limit: int = 8, examples: int = 2
) -> list[Question]:
    """Group the week's inquiries by the word pair (or word) they share most; groups of two or more."""
    asked: list[tuple[MentionText, set[str], set[str]]] = []
    for row in rows:
        question = next((s for s in re.split(r"(?<=[.!?])\s+", row.text) if "?" in s), row.text)
        ws = words(question, brand)
        asked.append((row, set(ws), {f"{a} {b}" for a, b in itertools.pairwise(ws)}))
    pairs = Counter(p for _, _, ps in asked for p in ps)
    singles = Counter(w for _, ws, _ in asked for w in ws)
    groups: dict[str, list[MentionText]] = defaultdict(list)
    for row, ws, ps in asked:
        best = max(ps, key=lambda p: (pairs[p], p), default=None)
        if best is None or pairs[best] < 2:
            best = max(ws, key=lambda w: (singles[w], w), default=None)
            if best is None or singles[best] < 2:
                continue
        groups[best].append(row)
    ranked = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [
        Question(topic, len(rs), [example(r) for r in rs[:examples]]) for topic, rs in ranked if len(rs) >= 2
    ][:limit]


def theme_changes(store: Store, start: str, end: str, themes: list[Theme], *, brand: str) -> list[Theme]:
    """``themes`` with the number of complaints of the range (the week before) on each: a lexicon theme by its
    pattern, a phrase by the phrase. Only that week's complaints are read."""
    counts: Counter = Counter()
    any_phrase = any(t.kind == "phrase" for t in themes)
    for row in store.report_texts(start, end, intent="complaint"):
        text = NOISE.sub(" ", row.text)
        found = phrases(row.text, brand) if any_phrase else set()
        for t in themes:
            if t.name in found if t.kind == "phrase" else THEME_PATTERNS[t.name].search(text):
                counts[t.name] += 1
    return [replace(t, previous=counts[t.name]) for t in themes]
