"""The weekly report: what people said about the brand and how fast the team answered (doctrine §3, §5).

Every figure comes from a SQL aggregate in ``bot.store`` over one ISO week (Monday to Sunday in ``brand.timezone``);
only the week's own complaint and inquiry texts are read, streamed, to find themes and frequent questions. The
result renders as Markdown and as one self-contained HTML page with its charts embedded as PNG.
"""

from __future__ import annotations

import base64
import io
import itertools
import logging
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot import escape
from bot.child import in_child_process
from bot.config import WEEKDAYS, Config, ReportSettings
from bot.models import CredentialExpiry
from bot.private import private_folder, write_private
from bot.store import Store, iso, parse_time

log = logging.getLogger(__name__)

SILENT_PER_COMPLAINT = 26  # doctrine §5 (source 003): only 4% of unhappy customers complain
TREND_WEEKS = 8
SILENT_AFTER_DAYS = 7
INTENTS = ("complaint", "inquiry", "praise", "other")
STEPS = 9  # progress steps: the eight of ``build`` and the charts

# Recurring causes of complaints; a complaint may have several. Keys that match an ``[sla] targets`` key get
# that target shown beside them.
THEMES: dict[str, str] = {
    "delivery": r"deliver\w*|shipping|shipped|shipment|parcel|package|courier|tracking|arriv\w*|never came|"
    r"lost in the post|dispatch\w*",
    "billing": r"charged|charges|charge me|billing|billed|invoice\w*|overcharg\w*|payment\w*|paid twice|credit card",
    "refund": r"refund\w*|money back|reimburs\w*|return\w*",
    "login / account": r"log ?in|logged out|sign ?in|password\w*|account\w*|locked out|2fa|verification code",
    "crash / bug": r"crash\w*|bug\w*|freez\w*|glitch\w*|error\w*|not working|doesn'?t work|won'?t (?:open|load|start)|"
    r"keeps closing|broken app",
    "support wait": r"no (?:one|reply|response|answer)|waiting|waited|on hold|ignored|still no|"
    r"(?:hours|days|weeks) (?:later|now|waiting)|nobody|customer service|support (?:is|was|never)|no support",
    "cancellation": r"cancel\w*|unsubscrib\w*|auto-?renew\w*",
    "product quality": r"defect\w*|damaged|faulty|stopped working|battery|screen|cheap|poor quality|fell apart",
    "price": r"price\w*|expensive|overpriced|too much|rip ?off",
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
    """The week a report covers when none is asked for, and a note when it is not the last complete one."""
    complete = last_complete_week(now, tz)
    latest = store.last_mention_before(iso(now))
    if latest is None or store.report_buckets([iso(complete.start), iso(complete.end)]):
        return complete, None
    chosen = week_of(parse_time(latest).astimezone(tz).date(), tz)
    return chosen, (
        f"The last complete week, {complete.label}, holds no mentions, so this report covers {chosen.label}, "
        f"the latest week that does. Ask for another with --week."
    )


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
    pairs: Iterable[tuple[str, str | None, str | None]], tz: ZoneInfo, targets: dict[str, float]
) -> Timing:
    """Waits from (intent, posted, answered) pairs; targets by intent, ``*`` for the rest."""
    hours, same_day, in_day, in_target = [], 0, 0, 0
    for intent, posted, answered in pairs:
        if not (posted and answered):
            continue
        p, a = parse_time(posted), parse_time(answered)
        wait = max((a - p).total_seconds() / 3600, 0.0)
        hours.append(wait)
        same_day += p.astimezone(tz).date() == a.astimezone(tz).date()
        in_day += wait <= 24
        in_target += wait <= targets.get(intent or "", targets["*"])
    n = len(hours)
    return Timing(
        answered=n,
        median_hours=percentile(hours, 50),
        p90_hours=percentile(hours, 90),
        same_day=same_day / n if n else None,
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


@dataclass
class Report:
    """Everything the weekly report says, as plain data."""

    brand: str
    week: Week
    generated_at: datetime
    new_install: bool
    notes: list[str] = field(default_factory=list)  # what the reader must know about the week itself
    days: dict[str, list[int]] = field(default_factory=dict)  # platform -> seven daily counts
    intents: Counter = field(default_factory=Counter)
    sentiment: float | None = None
    trend: list[dict] = field(default_factory=list)  # oldest first; the report's week last
    reply: Timing | None = None
    contact: Timing | None = None
    drafts: dict[str, int] = field(default_factory=dict)
    cases: dict[str, int] = field(default_factory=dict)
    handoff: dict[str, dict[str, int]] = field(default_factory=dict)  # platform -> cases, contacted, replied
    themes: list[Theme] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    advocates: list[dict] = field(default_factory=list)
    repeat_complainers: list[dict] = field(default_factory=list)
    precision: dict[str, int] = field(default_factory=dict)
    decisions: dict[str, int] = field(default_factory=dict)  # drafts approved as drafted, edited, rejected
    connectors: list[dict] = field(default_factory=list)
    credential_warnings: list[tuple[str, str]] = field(default_factory=list)  # (connector, what expires when)
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
    def silent_estimate(self) -> int:
        return self.complaints * SILENT_PER_COMPLAINT


def build(
    store: Store,
    config: Config,
    *,
    week: Week,
    now: datetime,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Compute the report for ``week`` from the store."""
    step = progress or (lambda what: None)
    start, end = iso(week.start), iso(week.end)
    first = store.first_mention_at()
    report = Report(brand=config.brand.name, week=week, generated_at=now, new_install=first is None)
    if week.end > now:
        report.notes.append(
            f"This week is not over yet: the figures cover {week.monday:%a %d %b} to "
            f"{now.astimezone(week.tz):%a %d %b %H:%M} only."
        )
    if first is not None and week.start < first < week.end:
        report.notes.append(
            f"The first stored mention was posted on {first.astimezone(week.tz):%a %d %b %H:%M}: "
            "the days before it hold no data, not silence."
        )

    step("volume")
    for row in store.report_buckets([iso(e) for e in week.edges]):
        report.days.setdefault(row["platform"], [0] * 7)[row["bucket"]] += row["n"]
        report.intents[row["intent"]] += row["n"]
    trend_edges = [iso(week.previous(n).start) for n in range(TREND_WEEKS - 1, 0, -1)] + [start, end]
    weeks = [week.previous(n) for n in range(TREND_WEEKS - 1, -1, -1)]
    trend = [{"week": w.label, "n": 0, "intents": Counter(), "s": 0.0, "sn": 0} for w in weeks]
    for row in store.report_buckets(trend_edges):
        t = trend[row["bucket"]]
        t["n"] += row["n"]
        t["intents"][row["intent"]] += row["n"]
        t["s"] += row["sentiment_sum"]
        t["sn"] += row["sentiment_n"]
    for t in trend:
        t["sentiment"] = t["s"] / t["sn"] if t["sn"] else None
        triaged = t["n"] - t["intents"].get("untriaged", 0)
        t["complaint_rate"] = t["intents"]["complaint"] / triaged if triaged else None
    report.trend = trend
    report.sentiment = trend[-1]["sentiment"]

    step("response times")
    sla = config.sla
    targets = {"complaint": sla.acknowledge_hours, "inquiry": sla.inquiry_hours, "*": sla.acknowledge_hours}
    report.targets = targets
    report.reply = timing(
        ((r["intent"], r["created_at"], r["sent_at"]) for r in store.report_first_replies(start, end)),
        week.tz,
        targets,
    )
    case_rows = store.report_cases_for(start, end)
    report.contact = timing(
        ((r["intent"], r["created_at"], r["contacted_at"]) for r in case_rows), week.tz, targets
    )
    report.drafts = {r["state"]: r["n"] for r in store.report_drafts(start, end)}

    step("cases")
    report.cases = store.report_case_activity(start, end, now=iso(now))
    for r in case_rows:
        h = report.handoff.setdefault(r["platform"], {"cases": 0, "contacted": 0, "replied": 0})
        h["cases"] += 1
        h["contacted"] += r["contacted_at"] is not None
        h["replied"] += r["contacted_at"] is not None and r["customer_replied_at"] is not None

    step("complaint themes")
    before = week.previous()
    previous = {
        t.name: t.count
        for t in complaint_themes(
            store, iso(before.start), iso(before.end), brand=config.brand.name, targets={}
        )
    }
    report.themes = [
        replace(t, previous=previous.get(t.name, 0))
        for t in complaint_themes(store, start, end, brand=config.brand.name, targets=sla.targets)
    ]

    step("frequent questions")
    report.questions = frequent_questions(store.report_texts(start, end, intent="inquiry"), config.brand.name)

    step("people")
    report.advocates = store.report_advocates(start, end)
    report.repeat_complainers = [
        p
        for p in store.report_people(start, end, intent="complaint", limit=50)
        if max(p["n"], p["complaints"]) >= 2
    ][:10]

    step("filter precision")
    p = Counter()
    for r in store.report_labels(start, end):
        said = r["predicted"] == "complaint"
        p[("tp" if r["complaint"] else "fp") if said else ("fn" if r["complaint"] else "tn")] += r["n"]
    report.precision = dict(p)
    report.decisions = store.report_decisions(start, end)

    step("connector health")
    paused = store.paused_connectors()
    expiries = store.credential_expiries()
    warn_days = config.report.credentials_warn_days
    silent_before = iso(week.end - timedelta(days=SILENT_AFTER_DAYS))
    rows = store.report_runs(start, end)
    rows += [{"connector": n, "polls": 0} for n in sorted(set(expiries) - {r["connector"] for r in rows})]
    for r in rows:
        r = dict(r)
        name = r["connector"]
        cred = credentials(expiries.get(name), now=now, tz=week.tz, warn_days=warn_days)
        r["credentials"] = cred.text
        if cred.warn:
            report.credential_warnings.append((name, cred.text))
        if name in paused:
            r["health"] = f"paused: {paused[name]}"
        elif cred.warn:
            r["health"] = f"renew credentials: {cred.text}"
        elif not r["polls"]:
            r["health"] = "not polled this week"
        elif r["failed"] == r["polls"]:
            r["health"] = "every poll failed"
        elif r["last_new"] is None or r["last_new"] < silent_before:
            r["health"] = f"silent: no new mention for {SILENT_AFTER_DAYS}+ days"
        else:
            r["health"] = "ok"
        report.connectors.append(r)
    for name in sorted(set(paused) - {r["connector"] for r in report.connectors}):
        report.connectors.append({"connector": name, "polls": 0, "health": f"paused: {paused[name]}"})
    return report


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
            out.update(f"{a} {b}" for a, b in itertools.pairwise(run))
            run = []
    return out


def example(row: dict) -> dict:
    text = " ".join(row["text"].split())
    return {
        "platform": row["platform"],
        "author": row["author_handle"],
        "url": row["url"] or "",
        "text": text if len(text) <= 200 else text[:197] + "…",
    }


def complaint_themes(
    store: Store, start: str, end: str, *, brand: str, targets: dict[str, float], examples: int = 2
) -> list[Theme]:
    """Group the week's complaints by the theme lexicon; name the rest by their most distinctive phrases."""
    found: dict[str, list[dict]] = defaultdict(list)
    counts: Counter = Counter()
    rest: list[tuple[dict, set[str]]] = []
    background: Counter = Counter()
    background_docs = 0
    for row in store.report_texts(start, end):
        if row["intent"] != "complaint":
            background.update(phrases(row["text"], brand))
            background_docs += 1
            continue
        text = NOISE.sub(" ", row["text"])  # "u/acme_support" is not a complaint about support
        matched = [name for name, rx in THEME_PATTERNS.items() if rx.search(text)]
        for name in matched:
            counts[name] += 1
            if len(found[name]) < examples:
                found[name].append(example(row))
        if not matched:
            rest.append((row, phrases(row["text"], brand)))
    themes = [
        Theme(name, n, found[name], target_hours=targets.get(name.split(" ")[0]))
        for name, n in counts.most_common()
    ]
    # Distinctive: frequent in the unthemed complaints, rare in the week's other mentions (smoothed log-odds).
    # Only phrases shared by two complaints or more: a single word ("week", "ticket") names no topic.
    df = Counter(w for _, ws in rest for w in ws)
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
    rows: Iterable[dict], brand: str, *, limit: int = 8, examples: int = 2
) -> list[Question]:
    """Group the week's inquiries by the word pair (or word) they share most; groups of two or more."""
    asked: list[tuple[dict, set[str], set[str]]] = []
    for row in rows:
        question = next((s for s in re.split(r"(?<=[.!?])\s+", row["text"]) if "?" in s), row["text"])
        ws = words(question, brand)
        asked.append((row, set(ws), {f"{a} {b}" for a, b in itertools.pairwise(ws)}))
    pairs = Counter(p for _, _, ps in asked for p in ps)
    singles = Counter(w for _, ws, _ in asked for w in ws)
    groups: dict[str, list[dict]] = defaultdict(list)
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


# -- charts -------------------------------------------------------------------------------------------------


def charts(report: Report) -> dict[str, bytes]:
    """The report's charts as PNG images, by name; charts without data are left out."""
    if not report.total and not any(t["n"] for t in report.trend):
        return {}
    # Figure without pyplot: no global state and no GUI backend in a long-running daemon.
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    out: dict[str, bytes] = {}

    def subplots(width: float, height: float):
        fig = Figure(figsize=(width, height))
        return fig, fig.subplots()

    def save(fig, name: str) -> None:
        for ax in fig.axes[:1]:  # counts are whole numbers; the twin sentiment axis is not
            (ax.xaxis if name == "themes" else ax.yaxis).set_major_locator(MaxNLocator(integer=True))
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=96)
        out[name] = buf.getvalue()

    if report.total:
        fig, ax = subplots(8, 3.2)
        labels = [f"{d:%a %d}" for d in report.week.days]
        bottom = [0] * 7
        for platform, counts in sorted(report.days.items()):
            ax.bar(labels, counts, bottom=bottom, label=platform)
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
        ax.set_title("Mentions by day and platform")
        ax.set_ylabel("mentions")
        ax.legend(fontsize=8, loc="upper left")
        save(fig, "volume")

    fig, ax = subplots(8, 3.2)
    names = [t["week"][5:] for t in report.trend]
    bottom = [0] * len(names)
    for intent in (*INTENTS, "untriaged"):
        counts = [t["intents"].get(intent, 0) for t in report.trend]
        if any(counts):
            ax.bar(names, counts, bottom=bottom, label=intent)
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    ax.set_ylabel("mentions")
    ax.set_title("Intent and sentiment, week by week")
    ax.legend(fontsize=8, loc="upper left")
    line = ax.twinx()
    line.plot(
        names, [t["sentiment"] for t in report.trend], color="black", marker="o", label="mean sentiment"
    )
    line.set_ylim(-1, 1)
    line.set_ylabel("mean sentiment")
    save(fig, "trend")

    if report.themes:
        fig, ax = subplots(8, 1.2 + 0.35 * len(report.themes))
        themes = list(reversed(report.themes))
        ax.barh([t.name for t in themes], [t.count for t in themes], color="#c0504d")
        ax.set_title("Complaint themes")
        ax.set_xlabel("complaints")
        save(fig, "themes")
    return out


# -- rendering ----------------------------------------------------------------------------------------------


def hours(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 60:.0f} min" if value < 1 else f"{value:.1f} h"


def share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def local(text: str | None, tz: ZoneInfo) -> str:
    return parse_time(text).astimezone(tz).strftime("%Y-%m-%d %H:%M") if text else "never"


def sections(report: Report) -> list[tuple[str, list[str], list[list[str]] | None, str]]:
    """The report as (heading, paragraphs, table rows with header first or None, chart name) sections."""
    tz, week = report.week.tz, report.week
    out = []
    if report.new_install:
        intro = [
            "Welcome! No mentions are stored yet, so there is nothing to sum up. Enable a connector in "
            "config.toml, run `mentionbot check`, then `mentionbot run`: next week's report fills in by itself."
        ]
    elif not report.total:
        intro = [
            "No mentions were posted this week. Nothing was missed: the connector health below shows whether "
            "every source was polled."
        ]
    else:
        rate = share(report.complaint_rate)
        intro = [
            f"{report.total} mentions this week: {report.complaints} complaints ({rate} of those triaged), "
            f"{report.intents.get('inquiry', 0)} questions and {report.intents.get('praise', 0)} pieces of praise.",
        ]
    out.append(("Summary", [*report.notes, *intro], None, ""))

    if report.total:
        header = ["platform", *(f"{d:%a %d}" for d in week.days), "total"]
        rows = [[p, *map(str, c), str(sum(c))] for p, c in sorted(report.days.items())]
        totals = [sum(c[i] for c in report.days.values()) for i in range(7)]
        rows.append(["all", *map(str, totals), str(sum(totals))])
        out.append(("Mentions by platform and day", [], [header, *rows], "volume"))

    trend_rows = [["week", "mentions", *INTENTS, "complaint rate", "mean sentiment"]]
    for t in report.trend:
        s = "–" if t["sentiment"] is None else f"{t['sentiment']:+.2f}"
        trend_rows.append(
            [
                t["week"],
                str(t["n"]),
                *(str(t["intents"].get(i, 0)) for i in INTENTS),
                share(t["complaint_rate"]),
                s,
            ]
        )
    out.append(
        (
            f"Trend over {TREND_WEEKS} weeks",
            ["Sentiment runs from −1 (angry) to +1 (delighted)."],
            trend_rows,
            "trend",
        )
    )

    reply, contact = report.reply, report.contact
    timing_rows = [["", "answered", "median", "p90", "same day", "within 24 h", "within target"]]
    for name, t in (("first public reply", reply), ("first private contact", contact)):
        timing_rows.append(
            [
                name,
                str(t.answered),
                hours(t.median_hours),
                hours(t.p90_hours),
                share(t.same_day),
                share(t.within_24h),
                share(t.within_target),
            ]
        )
    waiting = sum(
        n for state, n in report.drafts.items() if state in ("awaiting", "approved", "posting", "failed")
    )
    notes = [
        f"Counted from when the customer posted. Targets (doctrine §3): answer the same day; complaints "
        f"acknowledged within {report.targets['complaint']:g} h, inquiries answered within "
        f"{report.targets['inquiry']:g} h.",
    ]
    if waiting:
        notes.append(f"{waiting} drafted replies to this week's posts are not posted yet.")
    if dry := report.drafts.get("dry_run", 0):
        notes.append(
            f"{dry} approved {'reply' if dry == 1 else 'replies'} to this week's posts "
            f"{'was' if dry == 1 else 'were'} only recorded in a dry run (dry_run = true): nothing was posted, "
            "and the cases count as unanswered."
        )
    out.append(("Response times", notes, timing_rows, ""))

    c = report.cases
    case_rows = [
        [
            "opened",
            "resolved",
            "overdue (not acknowledged in time)",
            "follow-ups sent",
            "opened and still open",
        ],
        [str(c.get(k, 0)) for k in ("opened", "resolved", "overdue", "follow_ups", "still_open")],
    ]
    out.append(("Cases", [], case_rows, ""))

    if report.handoff:
        rows = [["platform", "cases", "contacted in private", "customer replied", "conversion"]]
        for platform, h in sorted(report.handoff.items()):
            conv = share(h["replied"] / h["contacted"]) if h["contacted"] else "–"
            rows.append([platform, str(h["cases"]), str(h["contacted"]), str(h["replied"]), conv])
        out.append(
            (
                "Handoff to private",
                ["Conversion: cases where the customer answered our private contact."],
                rows,
                "",
            )
        )
    else:
        out.append(("Handoff to private", ["No case was opened for this week's posts."], None, ""))

    if report.themes:
        rows = [["theme", "complaints", "week before", "change", "reply target", "examples"]]
        for t in report.themes:
            ex = " · ".join(f"@{e['author']} ({e['platform']}): {e['text']}" for e in t.examples)
            target = t.target_hours or report.targets["complaint"]
            rows.append(
                [t.name, str(t.count), str(t.previous), change(t.count, t.previous), f"{target:g} h", ex]
            )
        out.append(
            (
                "Complaint themes",
                [
                    "Recurring causes of dissatisfaction (doctrine §5). Complaints outside the known themes are "
                    "grouped by a phrase two or more of them share that the week's other posts rarely use. "
                    "The reply target is the theme's own [sla] target, else the complaint target."
                ],
                rows,
                "themes",
            )
        )
    else:
        out.append(("Complaint themes", ["No complaints this week."], None, ""))

    if report.questions:
        rows = [["about", "asked", "examples"]]
        for q in report.questions:
            rows.append(
                [q.topic, str(q.count), " · ".join(f"@{e['author']}: {e['text']}" for e in q.examples)]
            )
        out.append(("Frequent questions (FAQ candidates)", [], rows, ""))
    else:
        out.append(
            ("Frequent questions (FAQ candidates)", ["No question was asked twice this week."], None, "")
        )

    if report.advocates:
        rows = [["person", "praise this week", "praise ever", "example"]]
        rows += [
            [f"@{p['handle']} ({p['platform']})", str(p["n"]), str(p["praise"]), p["example"][:160]]
            for p in report.advocates
        ]
        out.append(("Advocates to thank", [ADVOCATES], rows, ""))
    else:
        out.append(("Advocates to thank", [f"Nobody this week. {ADVOCATES}"], None, ""))

    if report.repeat_complainers:
        rows = [["person", "complaints this week", "complaints ever", "latest"]]
        rows += [
            [f"@{p['handle']} ({p['platform']})", str(p["n"]), str(p["complaints"]), p["example"][:160]]
            for p in report.repeat_complainers
        ]
        out.append(
            ("Repeat complainers", ["People who complained more than once: one owner each."], rows, "")
        )
    else:
        out.append(("Repeat complainers", ["Nobody complained twice."], None, ""))

    out.append(
        ("The complaint filter's precision", precision_text(report.precision, report.decisions), None, "")
    )

    if report.connectors:
        rows = [
            [
                "connector",
                "health",
                "last successful poll",
                "polls",
                "failed",
                "fetched",
                "new",
                "quota used (API calls)",
                "credentials",
                "last error",
            ]
        ]
        for r in report.connectors:
            rows.append(
                [
                    r["connector"],
                    r["health"],
                    local(r.get("last_ok"), tz),
                    str(r.get("polls", 0)),
                    str(r.get("failed", 0)),
                    str(r.get("fetched", 0)),
                    str(r.get("new", 0)),
                    "–" if r.get("calls") is None else str(r["calls"]),
                    r.get("credentials", "–"),
                    (r.get("last_error") or "")[:120],
                ]
            )
        text = [f"Times in {tz.key}."]
        text += [
            f"Renew the credentials of {name} before they stop working: {what}."
            for name, what in report.credential_warnings
        ]
        out.append(("Connector health", text, rows, ""))
    else:
        out.append(("Connector health", ["No connector has polled yet."], None, ""))
    if report.complaints:
        out.append(("Note: silent unhappy customers", [silent_footnote(report)], None, ""))
    return out


def markdown(report: Report, *, images: dict[str, str] | None = None) -> str:
    """The report as Markdown; ``images`` maps chart names to file names to link."""
    lines = [f"# {report.brand} — weekly mentions report, {report.week.title()}", ""]
    for heading, paragraphs, rows, chart in sections(report):
        lines += [f"## {heading}", ""]
        for p in paragraphs:
            lines += [p, ""]
        if rows:
            lines.append("| " + " | ".join(md_cell(c) for c in rows[0]) + " |")
            lines.append("|" + "---|" * len(rows[0]))
            lines += ["| " + " | ".join(md_cell(c) for c in r) + " |" for r in rows[1:]]
            lines.append("")
        if images and chart in images:
            lines += [f"![{heading}]({images[chart]})", ""]
    lines.append(
        f"_Generated {report.generated_at.astimezone(report.week.tz):%Y-%m-%d %H:%M} {report.week.tz.key}._"
    )
    return "\n".join(lines) + "\n"


ADVOCATES = (
    "Advocates are people whose praise a manager confirmed by approving the reply to it; posts triage held "
    "for a person, or that read mixed or negative, are left out."
)


def change(now: int, before: int) -> str:
    """Week-over-week change: "+3 (+50%)", "+2 (new)", "0"."""
    if now == before:
        return "0"
    if not before:
        return f"+{now} (new)"
    return f"{now - before:+d} ({(now - before) / before:+.0%})"


def precision_text(p: dict[str, int], decisions: dict[str, int]) -> list[str]:
    """What managers' decisions say about the complaint filter, with how many decisions that rests on."""
    flagged = p.get("tp", 0) + p.get("fp", 0)
    decided = sum(decisions.values())
    approved, edited, rejected = (decisions.get(k, 0) for k in ("approved", "edited", "rejected"))
    if flagged:
        text = [
            f"Precision {share(p.get('tp', 0) / flagged)}, measured on a sample of {flagged} "
            f"post{'s' if flagged != 1 else ''} the filter called complaints that managers decided on this week: "
            f"{p.get('tp', 0)} confirmed as complaints, {p.get('fp', 0)} marked as not a complaint. "
            f"Managers also found {p.get('fn', 0)} complaints the filter had missed."
        ]
        if not p.get("fp") and not edited and not rejected:
            text.append(
                "Every decision was an approval of the draft as written, so this shows that managers agreed, "
                "not that they checked: read a few flagged posts by hand before trusting the figure."
            )
    elif p.get("fn"):
        text = [
            f"No flagged complaint was decided on; managers found {p['fn']} complaints the filter had missed."
        ]
    else:
        text = [
            "No manager decided on a flagged complaint this week, so the filter's precision is not measured."
        ]
    if decided:
        text.append(
            f"Of the {decided} drafted replies managers decided on this week, {approved} "
            f"({share(approved / decided)}) were approved as drafted, {edited} ({share(edited / decided)}) edited "
            f"and {rejected} ({share(rejected / decided)}) rejected or withdrawn."
        )
    return text


def silent_footnote(report: Report) -> str:
    return (
        f"Not a measurement: an often-quoted customer-service study (doctrine §5, source 003) found that only "
        f"about 4% of unhappy customers complain, roughly {SILENT_PER_COMPLAINT} silent ones per complaint. If that "
        f"held for this brand, this week's {report.complaints} complaints would stand for about "
        f"{report.silent_estimate} unhappy customers; nothing here checks that it does."
    )


def md_cell(text: str) -> str:
    """One table cell: outside text (names, posts, platforms, errors) is literal Markdown, one line."""
    return escape.markdown(text)


STYLE = """
body{font:15px/1.45 system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}td,th{border:1px solid #ddd;padding:.25em .5em;
vertical-align:top;text-align:left}th{background:#f3f3f3}img{max-width:100%;display:block;margin:.6em 0}
footer{color:#777;font-size:.85em;margin-top:2em}
"""


def to_html(report: Report, pngs: dict[str, bytes]) -> str:
    """The report as one self-contained HTML page, its charts embedded as PNG data."""
    e = escape.html
    title = f"{report.brand} — weekly mentions report, {report.week.title()}"
    parts = [f"<!doctype html><html lang='en'><meta charset='utf-8'><title>{e(title)}</title>"]
    parts.append(f"<style>{STYLE}</style><body><h1>{e(title)}</h1>")
    for heading, paragraphs, rows, chart in sections(report):
        parts.append(f"<h2>{e(heading)}</h2>")
        parts += [f"<p>{e(p)}</p>" for p in paragraphs]
        if rows:
            parts.append("<table><tr>" + "".join(f"<th>{e(c)}</th>" for c in rows[0]) + "</tr>")
            parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows[1:]]
            parts.append("</table>")
        if chart in pngs:
            data = base64.b64encode(pngs[chart]).decode()
            parts.append(f"<img class='chart' alt='{e(heading)} chart' src='data:image/png;base64,{data}'>")
    generated = report.generated_at.astimezone(report.week.tz)
    parts.append(
        f"<footer>Generated {generated:%Y-%m-%d %H:%M} {e(report.week.tz.key)} by mentionbot.</footer>"
    )
    return "\n".join(parts) + "\n</body></html>\n"


def write(
    report: Report,
    folder: Path,
    *,
    formats: Iterable[str] = ("md", "html"),
    pngs: dict[str, bytes] | None = None,
) -> list[Path]:
    """Write the report (and, for Markdown, its chart images) to ``folder``; return the files written.
    ``pngs`` are the charts when already drawn. The files are 0600 and a folder it creates 0700: they quote
    customers."""
    private_folder(folder)
    formats = set(formats)
    pngs = charts(report) if pngs is None else pngs
    stem = f"report-{report.week.label}"
    written = []
    if "md" in formats:
        images = {}
        for name, data in pngs.items():
            path = folder / f"{stem}-{name}.png"
            write_private(path, data)
            images[name] = path.name
        path = folder / f"{stem}.md"
        write_private(path, markdown(report, images=images))
        written.append(path)
    if "html" in formats:
        path = folder / f"{stem}.html"
        write_private(path, to_html(report, pngs))
        written.append(path)
    log.info("report %s written: %s", report.week.label, ", ".join(str(p) for p in written))
    return written


def make_report(
    store: Store,
    config: Config,
    *,
    now: datetime,
    week: str | None = None,
    formats: Iterable[str] = ("md", "html"),
    folder: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[Report, list[Path]]:
    """Build the report for ``week`` and write it to the reports folder. The default is the last complete week,
    or, when that holds no mention (a fresh install), the latest week that does, with a note saying so."""
    tz = ZoneInfo(config.brand.timezone)
    chosen, note = (parse_week(week, tz), None) if week else default_week(store, now, tz)
    report = build(store, config, week=chosen, now=now, progress=progress)
    if note:
        report.notes.insert(0, note)
    if progress:
        progress("charts")
    return report, write(report, folder or config.resolve(config.report.folder), formats=formats)


def scheduled_week(now: datetime, settings: ReportSettings, tz: ZoneInfo) -> tuple[datetime, Week]:
    """The latest scheduled report time at or before ``now`` (UTC) and the week that report covers.

    The schedule is a weekday and a wall-clock time in ``tz``, so it stays at 09:00 local across DST changes.
    """
    hour, minute = (int(x) for x in settings.time.split(":"))
    this_week = week_of(now.astimezone(tz).date(), tz)
    day = this_week.monday + timedelta(days=WEEKDAYS.index(settings.day.lower()))
    moment = datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(UTC)
    if moment > now:
        moment = datetime.combine(day - timedelta(weeks=1), time(hour, minute), tzinfo=tz).astimezone(UTC)
    return moment, last_complete_week(moment, tz)


def run_due(
    store: Store, config: Config, *, now: datetime, in_child: bool = False
) -> tuple[Report, list[Path], dict[str, bytes]] | None:
    """Write the scheduled weekly report if its time has come and it is not written yet (once per week, even
    across restarts); return it with the files written and its charts, or None when nothing is due.

    With ``in_child`` (the daemon) the report is built and drawn in a short-lived child process, so that the
    long-running process never holds matplotlib and the week's rows: their memory goes back to the system
    when the child exits. A store without a file (tests) is reported in this process."""
    tz = ZoneInfo(config.brand.timezone)
    _, week = scheduled_week(now, config.report, tz)
    if store.report_last_week() == week.label:
        return None
    folder = config.resolve(config.report.folder)
    if in_child and store.path is not None:
        report, paths, pngs = in_child_process(_write_from_file, store.path, config, week, now, folder)
    else:
        report, paths, pngs = _write_week(store, config, week, now, folder)
    store.set_report_last_week(week.label)
    return report, paths, pngs


def _write_week(
    store: Store, config: Config, week: Week, now: datetime, folder: Path
) -> tuple[Report, list[Path], dict[str, bytes]]:
    report = build(store, config, week=week, now=now)
    pngs = charts(report)
    return report, write(report, folder, pngs=pngs), pngs


def _write_from_file(
    path: Path, config: Config, week: Week, now: datetime, folder: Path
) -> tuple[Report, list[Path], dict[str, bytes]]:
    store = Store.open(path)
    try:
        return _write_week(store, config, week, now, folder)
    finally:
        store.close()


def trend_from_file(path: Path, config: Config, week: Week, now: datetime) -> tuple[Report, bytes | None]:
    """The report of ``week`` (not written) and its trend chart, read from the database at ``path``."""
    store = Store.open(path)
    try:
        report = build(store, config, week=week, now=now)
    finally:
        store.close()
    return report, charts(report).get("trend")
