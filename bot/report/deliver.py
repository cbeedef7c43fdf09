"""The weekly report by email to ``[report] recipients``, through the SMTP server of ``[cases.email]`` (the one the
email case backend sends with): the self-contained HTML as the body, the Markdown as its plain-text part, and the
PDF attached when one was written."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from bot.config import Config
from bot.errors import ConnectorError, TransientError
from bot.models import excerpt
from bot.report.figures import Report
from responders import email as mail

log = logging.getLogger(__name__)


def report_mail(report: Report, paths: list[Path], *, sender: str, recipients: list[str]) -> EmailMessage:
    """The mail of ``report`` from the files ``write`` wrote (``paths``)."""
    by_suffix = {path.suffix: path for path in paths}
    message = EmailMessage()
    message["Subject"] = f"{report.brand} weekly mention report, {report.week.label}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(report.generated_at.timestamp(), localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    text = by_suffix[".md"].read_text() if ".md" in by_suffix else "The report is attached."
    message.set_content(text)
    if ".html" in by_suffix:
        message.add_alternative(by_suffix[".html"].read_text(), subtype="html")
    if ".pdf" in by_suffix:
        pdf = by_suffix[".pdf"]
        message.add_attachment(pdf.read_bytes(), maintype="application", subtype="pdf", filename=pdf.name)
    return message


def email_report(report: Report, paths: list[Path], config: Config) -> int:
    """Send the report to each recipient; return how many it went to. A dry run sends nothing; a server that is
    down or refuses is logged, and the report stays in the reports folder (and in Discord) all the same."""
    recipients = config.report.recipients
    if not recipients:
        return 0
    if config.dry_run:
        log.info("report: dry run: %s not emailed to %d recipients", report.week.label, len(recipients))
        return 0
    settings = config.cases.email
    sender = settings.mailbox(config.brand)
    raw = report_mail(report, paths, sender=sender, recipients=recipients).as_string()
    password = settings.smtp_password.value() if settings.smtp_password else ""
    sent = 0
    for to in recipients:
        try:
            mail.send(raw, sender=sender, to=to, settings=settings, password=password)
            sent += 1
        except (TransientError, ConnectorError) as exc:
            log.warning("report: %s not emailed to one recipient: %s", report.week.label, excerpt(exc))
    log.info("report: %s emailed to %d of %d recipients", report.week.label, sent, len(recipients))
    return sent
