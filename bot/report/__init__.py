"""The weekly report: what people said about the brand and how fast the team answered (doctrine §3, §5).

Three parts: ``figures`` computes a frozen ``Report`` from the store's read-only queries (pure arithmetic, no
output); ``render`` lays it out as Markdown and self-contained HTML from Jinja2 templates, with its charts;
``schedule`` picks the week and writes the report on demand or on the daemon's weekly schedule. The names below
are the ones the CLI, the daemon and the Discord responder use.
"""

from bot.report.figures import (
    STEPS,
    TREND_WEEKS,
    CredentialNote,
    Headline,
    Question,
    Rating,
    Report,
    Sla,
    Theme,
    Timing,
    Week,
    WeekFigures,
    build,
    complaint_themes,
    credentials,
    default_week,
    frequent_questions,
    last_complete_week,
    parse_week,
    percentile,
    phrases,
    week_of,
    words,
)
from bot.report.render import Section, Style, charts, markdown, md_cell, sections, to_html, write
from bot.report.schedule import make_report, run_due, scheduled_week, style, trend_from_file

__all__ = [
    "STEPS",
    "TREND_WEEKS",
    "CredentialNote",
    "Headline",
    "Question",
    "Rating",
    "Report",
    "Section",
    "Sla",
    "Style",
    "Theme",
    "Timing",
    "Week",
    "WeekFigures",
    "build",
    "charts",
    "complaint_themes",
    "credentials",
    "default_week",
    "frequent_questions",
    "last_complete_week",
    "make_report",
    "markdown",
    "md_cell",
    "parse_week",
    "percentile",
    "phrases",
    "run_due",
    "scheduled_week",
    "sections",
    "style",
    "to_html",
    "trend_from_file",
    "week_of",
    "words",
    "write",
]
