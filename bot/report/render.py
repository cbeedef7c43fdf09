"""The weekly report rendered: Markdown and one self-contained HTML page from Jinja2 templates, charts as PNG.

The figures come as a frozen ``Report`` (``bot.report.figures``); this module turns them into sections of text
and tables, then the templates lay those out. The HTML template autoescapes: every stranger's text (names,
posts, errors) is escaped there, never by hand. A brand may copy ``bot/report/templates/report.html.j2``,
restyle it and point ``[report] template`` at the copy; ``[brand] logo`` and ``colour`` reach it as variables.
"""

from __future__ import annotations

import base64
import io
import logging
import mimetypes
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import jinja2
import markupsafe

from bot import escape
from bot.private import private_folder, write_private
from bot.report.figures import INTENTS, SILENT_PER_COMPLAINT, TREND_WEEKS, Headline, Report
from bot.store.records import Decisions

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).parent / "templates"


class Section(NamedTuple):
    """One part of the report: a heading, paragraphs, a table (header row first) and the name of its chart."""

    heading: str
    paragraphs: list[str]
    rows: list[list[str]] | None
    chart: str


@dataclass(frozen=True)
class Style:
    """How the brand dresses its report: a template file (else the shipped one), a logo file, a colour."""

    template: Path | None = None
    logo: Path | None = None
    colour: str = "#1f4e79"


# -- charts -------------------------------------------------------------------------------------------------


def load_charting() -> None:
    """Start importing matplotlib (about a second) in the background, while the figures are queried.

    The store's queries run in C and release the GIL, so the import mostly overlaps them; ``charts`` then finds
    the module loaded (or waits for the import already under way: Python's import lock sees to that)."""
    threading.Thread(target=_import_matplotlib, name="import-matplotlib", daemon=True).start()


def _import_matplotlib() -> None:
    try:
        import matplotlib.figure
        import matplotlib.ticker  # noqa: F401
    except Exception:  # charts() imports again and raises there, where the error belongs
        log.debug("importing matplotlib in the background failed", exc_info=True)


def charts(report: Report) -> dict[str, bytes]:
    """The report's charts as PNG images, by name; charts without data are left out."""
    if not report.total and not any(t.mentions for t in report.trend):
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
        if name == "themes":  # the theme names need the room; the others fit the fixed margins
            fig.tight_layout()
        else:
            fig.subplots_adjust(left=0.1, right=0.89, bottom=0.12, top=0.9)
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
    names = [t.label[5:] for t in report.trend]
    bottom = [0] * len(names)
    for intent in (*INTENTS, "untriaged"):
        counts = [t.intents.get(intent, 0) for t in report.trend]
        if any(counts):
            ax.bar(names, counts, bottom=bottom, label=intent)
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    ax.set_ylabel("mentions")
    ax.set_title("Intent and sentiment, week by week")
    ax.legend(fontsize=8, loc="upper left")
    line = ax.twinx()
    line.plot(names, [t.sentiment for t in report.trend], color="black", marker="o", label="mean sentiment")
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


def local(at: datetime | None, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if at else "never"


def sections(report: Report) -> list[Section]:
    """The report as sections, in the order it is read."""
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
    out.append(Section("Summary", [*report.notes, *intro], None, ""))

    if report.total:
        header = ["platform", *(f"{d:%a %d}" for d in week.days), "total"]
        rows = [[p, *map(str, c), str(sum(c))] for p, c in sorted(report.days.items())]
        totals = [sum(c[i] for c in report.days.values()) for i in range(7)]
        rows.append(["all", *map(str, totals), str(sum(totals))])
        out.append(Section("Mentions by platform and day", [], [header, *rows], "volume"))

    trend_rows = [
        [
            "week",
            "mentions",
            *INTENTS,
            "complaint rate",
            "mean sentiment",
            "median first reply",
            "SLA met",
            "median first private contact",
        ]
    ]
    for t in report.trend:
        trend_rows.append(
            [
                t.label,
                str(t.mentions),
                *(str(t.intents.get(i, 0)) for i in INTENTS),
                share(t.complaint_rate),
                "–" if t.sentiment is None else f"{t.sentiment:+.2f}",
                hours(t.reply_median_hours),
                share(t.reply_within_target),
                hours(t.contact_median_hours),
            ]
        )
    out.append(
        Section(
            f"Trend over {TREND_WEEKS} weeks",
            [
                "Sentiment runs from −1 (angry) to +1 (delighted). SLA met: the share of first public replies "
                "within the response-time target."
            ],
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
    out.append(Section("Response times", notes, timing_rows, ""))
    if report.reply_by_channel:
        rows = [["channel", "answered", "median first reply", "within target"]]
        rows += [
            [c.name, str(c.answered), hours(c.median_hours), share(c.within_target)]
            for c in report.reply_by_channel
        ]
        out.append(
            Section("SLA by channel", ["First public replies to this week's posts, by platform."], rows, "")
        )
    if report.owners:
        rows = [["owner", "cases", "acknowledged in time", "overdue now", "median first private contact"]]
        rows += [
            [o.name, str(o.answered), share(o.within_target), str(o.overdue), hours(o.median_hours)]
            for o in report.owners
        ]
        out.append(
            Section(
                "SLA by owner",
                [
                    "Cases opened for this week's posts, by owner: acknowledged by their due time (of those "
                    "acknowledged or already due), and those still open and unacknowledged."
                ],
                rows,
                "",
            )
        )
    if report.ratings:
        rows = [["review site", "average rating", "reviews", "week before", "change", f"{TREND_WEEKS} weeks"]]
        for r in report.ratings:
            before = r.trend[-2] if len(r.trend) > 1 else None
            rows.append(
                [
                    r.platform,
                    stars(r.average),
                    str(r.count),
                    stars(before),
                    delta(r.average, before, "stars"),
                    " ".join(stars(v) for v in r.trend),
                ]
            )
        out.append(
            Section("Review sites", ["Average star rating (1–5) of the reviews posted each week."], rows, "")
        )

    c = report.cases
    case_rows = [
        [
            "opened",
            "resolved",
            "overdue (not acknowledged in time)",
            "follow-ups sent",
            "opened and still open",
        ],
        [str(n) for n in (c.opened, c.resolved, c.overdue, c.follow_ups, c.still_open)],
    ]
    out.append(Section("Cases", [], case_rows, ""))

    if report.handoff:
        rows = [["platform", "cases", "contacted in private", "customer replied", "conversion"]]
        for platform, h in sorted(report.handoff.items()):
            conv = share(h["replied"] / h["contacted"]) if h["contacted"] else "–"
            rows.append([platform, str(h["cases"]), str(h["contacted"]), str(h["replied"]), conv])
        out.append(
            Section(
                "Handoff to private",
                ["Conversion: cases where the customer answered our private contact."],
                rows,
                "",
            )
        )
    else:
        out.append(Section("Handoff to private", ["No case was opened for this week's posts."], None, ""))

    if report.themes:
        rows = [["theme", "complaints", "week before", "change", "reply target", "examples"]]
        for t in report.themes:
            ex = " · ".join(f"{at(e['author'])} ({e['platform']}): {e['text']}" for e in t.examples)
            target = t.target_hours or report.targets["complaint"]
            rows.append(
                [t.name, str(t.count), str(t.previous), change(t.count, t.previous), f"{target:g} h", ex]
            )
        out.append(
            Section(
                "Complaint themes",
                [
                    "Recurring causes of dissatisfaction (doctrine §5). Complaints outside the known themes are "
                    "grouped by a phrase two or more of them share that the week's other posts rarely use. "
                    "The reply target is the theme's own target in sla.targets, else the complaint target."
                ],
                rows,
                "themes",
            )
        )
    else:
        out.append(Section("Complaint themes", ["No complaints this week."], None, ""))

    if report.questions:
        rows = [["about", "asked", "examples"]]
        for q in report.questions:
            rows.append(
                [q.topic, str(q.count), " · ".join(f"{at(e['author'])}: {e['text']}" for e in q.examples)]
            )
        out.append(Section("Frequent questions (FAQ candidates)", [], rows, ""))
    else:
        out.append(
            Section(
                "Frequent questions (FAQ candidates)", ["No question was asked twice this week."], None, ""
            )
        )

    reach_note = "Followers as the platform gave them with the post (X, Mastodon); other sites do not say."
    if report.reach:
        rows = [["post", "followers", "intent", "text"]]
        rows += [
            [f"{at(p.handle)} ({p.platform})", f"{p.reach:,}", p.intent or "", p.text[:160]]
            for p in report.reach
        ]
        out.append(Section("Posts with the widest reach", [reach_note], rows, ""))
    else:
        out.append(Section("Posts with the widest reach", [f"No post this week. {reach_note}"], None, ""))

    if report.advocates:
        rows = [["person", "praise this week", "praise ever", "example"]]
        rows += [
            [f"{at(p.handle)} ({p.platform})", str(p.n), str(p.praise), p.example[:160]]
            for p in report.advocates
        ]
        out.append(Section("Advocates to thank", [ADVOCATES], rows, ""))
    else:
        out.append(Section("Advocates to thank", [f"Nobody this week. {ADVOCATES}"], None, ""))

    if report.repeat_complainers:
        rows = [["person", "complaints this week", "complaints ever", "latest"]]
        rows += [
            [f"{at(p.handle)} ({p.platform})", str(p.n), str(p.complaints), p.example[:160]]
            for p in report.repeat_complainers
        ]
        out.append(
            Section("Repeat complainers", ["People who complained more than once: one owner each."], rows, "")
        )
    else:
        out.append(Section("Repeat complainers", ["Nobody complained twice."], None, ""))

    out.append(
        Section(
            "The complaint filter's precision", precision_text(report.precision, report.decisions), None, ""
        )
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
                    r.connector,
                    r.health,
                    local(r.runs.last_ok, tz),
                    str(r.runs.polls),
                    str(r.runs.failed),
                    str(r.runs.fetched),
                    str(r.runs.new),
                    "–" if r.runs.calls is None else str(r.runs.calls),
                    r.credentials,
                    (r.runs.last_error or "")[:120],
                ]
            )
        text = [f"Times in {tz.key}."]
        text += [
            f"Renew the credentials of {name} before they stop working: {what}."
            for name, what in report.credential_warnings
        ]
        out.append(Section("Connector health", text, rows, ""))
    else:
        out.append(Section("Connector health", ["No connector has polled yet."], None, ""))
    return out


ADVOCATES = (
    "Advocates are people whose praise a manager confirmed by approving the reply to it; posts triage held "
    "for a person, or that read mixed or negative, are left out."
)


SMALL_BASE = 10  # below this many the week before, a percentage overstates the change ("+15200%")


def change(now: int, before: int) -> str:
    """Week-over-week change: "+30 (+25%)"; from a small base (under ``SMALL_BASE``) only the absolute change,
    "+152" or "−3"; from nothing "+2 (new)"; "0" when unchanged."""
    if now == before:
        return "0"
    if not before:
        return f"+{now} (new)"
    if before < SMALL_BASE:
        return f"{now - before:+d}"
    return f"{now - before:+d} ({(now - before) / before:+.0%})"


def at(handle: str) -> str:
    """A handle as the report shows it, with one "@" (YouTube's and some others' handles come with theirs)."""
    return handle if handle.startswith("@") else f"@{handle}"


def precision_text(p: dict[str, int], decisions: Decisions) -> list[str]:
    """What managers' decisions say about the complaint filter, with how many decisions that rests on."""
    flagged = p.get("tp", 0) + p.get("fp", 0)
    decided = decisions.total
    approved, edited, rejected = decisions.approved, decisions.edited, decisions.rejected
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


def write(
    report: Report,
    folder: Path,
    *,
    formats: Iterable[str] = ("md", "html"),
    pngs: dict[str, bytes] | None = None,
    style: Style | None = None,
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
    if "html" in formats or "pdf" in formats:
        html = to_html(report, pngs, style)
        path = folder / f"{stem}.html"
        if "html" in formats:
            write_private(path, html)
            written.append(path)
        if "pdf" in formats:
            written += [p for p in [to_pdf(html, folder / f"{stem}.pdf")] if p]
    log.info("report %s written: %s", report.week.label, ", ".join(str(p) for p in written))
    return written


def stars(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}★"


def figure(value: float | None, kind: str) -> str:
    """A headline figure as it reads: a count, hours, a share, stars."""
    if value is None:
        return "–"
    return {
        "count": lambda: f"{value:,.0f}",
        "hours": lambda: hours(value),
        "share": lambda: share(value),
    }.get(kind, lambda: stars(value))()


def delta(value: float | None, previous: float | None, kind: str) -> str:
    """The change against the week before in the figure's own unit: "+12 (+8%)", "−0.4 h", "+5 pts"."""
    if value is None or previous is None:
        return "–"
    d = value - previous
    if kind == "count":
        return change(int(value), int(previous))
    if kind == "hours":
        return f"{'+' if d >= 0 else '−'}{hours(abs(d))}"
    if kind == "share":
        return f"{d * 100:+.0f} pts"
    return f"{d:+.1f}★"


def trend_word(h: Headline) -> str:
    """ "better", "worse" or "same" for the change of a headline figure."""
    if h.value is None or h.previous is None or h.value == h.previous:
        return "same"
    return "better" if (h.value > h.previous) == (h.better == "up") else "worse"


SPARKS = "▁▂▃▄▅▆▇█"


def spark_text(series: Iterable[float | None]) -> str:
    """An 8-week series as block characters for Markdown ("·" where a week has no value)."""
    values = list(series)
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    return "".join(
        "·" if v is None else SPARKS[int((v - low) / (high - low) * (len(SPARKS) - 1)) if high > low else 3]
        for v in values
    )


def spark_points(series: Iterable[float | None], *, width: int = 120, height: int = 28) -> list[str]:
    """An 8-week series as SVG polyline segments ("x,y x,y …"), one per run of weeks that have a value."""
    values = list(series)
    known = [v for v in values if v is not None]
    if not known:
        return []
    low, high = min(known), max(known)
    step = width / max(len(values) - 1, 1)
    runs: list[list[str]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            runs.append([])
            continue
        y = height / 2 if high == low else height - 2 - (v - low) / (high - low) * (height - 4)
        runs[-1].append(f"{i * step:.1f},{y:.1f}")
    return [" ".join(r) for r in runs if r]


def headline(report: Report) -> list[dict]:
    """The headline's figures, formatted for the templates."""
    return [
        {
            "name": h.name,
            "value": figure(h.value, h.kind),
            "previous": figure(h.previous, h.kind),
            "change": delta(h.value, h.previous, h.kind),
            "trend": trend_word(h),
            "spark": spark_text(h.series),
            "points": spark_points(h.series),
        }
        for h in report.headline
    ]


@cache
def environment(folder: Path, *, html: bool = True) -> jinja2.Environment:
    """Templates from ``folder`` (with the shipped ones behind it). HTML: every value goes through
    ``escape.html`` (markup escaped, control and invisible characters out) and is never escaped twice;
    Markdown: cells through the ``md`` filter."""

    def finalize(value: object) -> object:
        if html and isinstance(value, str) and not isinstance(value, markupsafe.Markup):
            return markupsafe.Markup(escape.html(value))
        return value

    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(folder), jinja2.FileSystemLoader(TEMPLATES)]),
        autoescape=html,
        finalize=finalize,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md_cell
    return env


def context(report: Report) -> dict:
    generated = report.generated_at.astimezone(report.week.tz)
    return {
        "title": f"{report.brand} — weekly mentions report, {report.week.title()}",
        "report": report,
        "headline": headline(report),
        "sections": sections(report),
        # Not a measurement: below the report, never among its figures (issue 22).
        "footnotes": [silent_footnote(report)] if report.complaints else [],
        "generated": f"{generated:%Y-%m-%d %H:%M} {report.week.tz.key}",
    }


def markdown(report: Report, *, images: dict[str, str] | None = None) -> str:
    """The report as Markdown; ``images`` maps chart names to file names to link."""
    return (
        environment(TEMPLATES, html=False)
        .get_template("report.md.j2")
        .render(**context(report), images=images or {})
    )


def md_cell(text: str) -> str:
    """One table cell: outside text (names, posts, platforms, errors) is literal Markdown, one line."""
    return escape.markdown(text)


def to_html(report: Report, pngs: dict[str, bytes], style: Style | None = None) -> str:
    """The report as one self-contained HTML page, its charts (and the brand's logo) embedded as data."""
    style = style or Style()
    template = style.template
    env = environment(template.parent if template else TEMPLATES)
    charts_data = {
        name: "data:image/png;base64," + base64.b64encode(data).decode() for name, data in pngs.items()
    }
    logo = None
    if style.logo:
        kind = mimetypes.guess_type(style.logo.name)[0] or "image/png"
        logo = f"data:{kind};base64," + base64.b64encode(style.logo.read_bytes()).decode()
    return env.get_template(template.name if template else "report.html.j2").render(
        **context(report), charts=charts_data, logo=logo, colour=style.colour
    )


BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def browser() -> str | None:
    """The headless browser that prints the PDF, or None when none is installed."""
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def to_pdf(html: str, path: Path, *, timeout: float = 120) -> Path | None:
    """Print the HTML page to ``path`` as PDF with headless Chromium, the same page the HTML file shows; None
    (and a warning saying why) when no browser is installed or it fails. The page is self-contained, so the
    browser loads nothing from the network."""
    binary = browser()
    if binary is None:
        log.warning(
            "no PDF report: no headless browser on PATH (%s); Debian: apt-get install chromium", BROWSERS[0]
        )
        return None
    with tempfile.TemporaryDirectory(prefix="mentionbot-pdf-") as scratch:
        page = Path(scratch) / "report.html"
        page.write_text(html, encoding="utf-8")
        out = Path(scratch) / "report.pdf"
        command = [
            binary,
            "--headless",
            "--no-sandbox",  # root in a container has no sandbox; the page is our own file
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={Path(scratch) / 'profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={out}",
            page.as_uri(),
        ]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=timeout)
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("no PDF report: %s failed: %s", Path(binary).name, str(exc)[:200])
            return None
        if not out.is_file():
            log.warning("no PDF report: %s wrote nothing", Path(binary).name)
            return None
        write_private(path, out.read_bytes())
    return path
