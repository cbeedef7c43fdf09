"""The weekly report by email to ``[report] recipients``, through the SMTP server of ``[cases.email]`` (the one the
email case backend sends with): the self-contained HTML as the body, the Markdown as its plain-text part, and the
PDF attached when one was written.

Delivery is durable: the mail is queued in the store when the report is written, and each daemon cycle sends it to
the recipients whose next try has come. A recipient the server cannot take now (down, busy, "try later") is tried
again after a minute, then twice as long each time up to an hour, and given up 24 hours after the report; one it
refuses for good is given up at once. A recipient who got the mail never gets it again."""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

from bot.config import Config
from bot.errors import ConnectorError, TransientError
from bot.models import excerpt
from bot.report.figures import Report
from bot.store import Store
from responders import email as mail

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(hours=24)


def report_mail(report: Report, paths: list[Path], *, sender: str, recipients: list[str]) -> EmailMessage:
    """The mail of ``report`` from the files ``write`` wrote (``paths``)."""
    by_suffix = {path.suffix: path for path in paths}
    local, _, domain = sender.rpartition("@")
    message = EmailMessage()
    message["Subject"] = f"{report.brand} weekly mention report, {report.week.label}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(report.generated_at.timestamp(), localtime=False)
    # One Message-ID per week and sender: a copy sent again after a crash shows as the same mail.
    message["Message-ID"] = f"<report.{report.week.label}.{local or 'mentionbot'}@{domain or 'localhost'}>"
    text = by_suffix[".md"].read_text() if ".md" in by_suffix else "The report is attached."
    message.set_content(text)
    if ".html" in by_suffix:
        message.add_alternative(by_suffix[".html"].read_text(), subtype="html")
    if ".pdf" in by_suffix:
        pdf = by_suffix[".pdf"]
        message.add_attachment(pdf.read_bytes(), maintype="application", subtype="pdf", filename=pdf.name)
    return message


def queue_report(store: Store, report: Report, paths: list[Path], config: Config, *, now: datetime) -> int:
    """Queue the mail of ``report`` to each of ``[report] recipients``; return how many. A dry run queues none."""
    recipients = config.report.recipients
    if not recipients:
        return 0
    if config.dry_run:
        log.info("report: dry run: %s not emailed to %d recipients", report.week.label, len(recipients))
        return 0
    sender = config.cases.email.mailbox(config.brand)
    raw = report_mail(report, paths, sender=sender, recipients=recipients).as_string()
    store.queue_report_mail(report.week.label, raw, recipients, now=now)
    return len(recipients)


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed try: a minute, doubling, at most an hour."""
    return min(FIRST_RETRY * 2 ** min(attempts - 1, 16), LONGEST_RETRY)


def deliver_due(
    store: Store, config: Config, *, now: datetime, lock: AbstractContextManager[Any] | None = None
) -> int:
    """Send the report mail to each recipient whose try has come; return how many it went to. A dry run sends
    nothing (the mail waits). A server that is down counts as a failed try for the week's other recipients too,
    without calling it again for each. ``lock`` guards the store's connection (shared with the Discord bot's
    thread), held for each store call, never while talking to the server."""
    lock = lock or nullcontext()
    with lock:
        due = store.report_mail_due(now=now)
    if not due or config.dry_run:
        return 0
    settings = config.cases.email
    sender = settings.mailbox(config.brand)
    password = settings.smtp_password.value() if settings.smtp_password else ""
    sent = 0
    down: TransientError | None = None
    for item in due:
        attempt = item.attempts + 1
        with lock:
            raw = store.report_mail_message(item.week)
        error: ConnectorError | None = down
        if raw is None:  # the message goes only once nobody waits for it: give up rather than retry forever
            error = ConnectorError("email", "the queued message is gone")
        elif error is None:
            try:
                mail.send(raw, sender=sender, to=item.recipient, settings=settings, password=password)
            except TransientError as exc:
                error = exc
                if not isinstance(exc, mail.RecipientDeferred):
                    down = exc
            except ConnectorError as exc:
                error = exc
        if error is None:
            # Recorded at once; a crash before this line sends it again, under the same Message-ID.
            with lock:
                store.settle_report_mail(item.week, item.recipient, state="sent", now=now)
            log.info("report: %s emailed to %s (try %d)", item.week, item.recipient, attempt)
            sent += 1
            continue
        deadline = item.queued_at + GIVE_UP_AFTER
        if isinstance(error, TransientError) and now < deadline:
            retry_at = min(now + retry_delay(attempt), deadline)
            with lock:
                store.settle_report_mail(
                    item.week,
                    item.recipient,
                    state="pending",
                    now=now,
                    error=str(error),
                    next_attempt_at=retry_at,
                )
            log.warning(
                "report: %s not emailed to %s yet (try %d); trying again at %s: %s",
                item.week,
                item.recipient,
                attempt,
                retry_at.isoformat(timespec="minutes"),
                excerpt(error),
            )
            continue
        with lock:
            store.settle_report_mail(item.week, item.recipient, state="failed", now=now, error=str(error))
        log.error(
            "report: %s not emailed to %s: given up %s: %s (the report is in the reports folder)",
            item.week,
            item.recipient,
            f"after {attempt} tries in {GIVE_UP_AFTER // timedelta(hours=1)} h"
            if isinstance(error, TransientError)
            else "at once, the server refused it for good",
            excerpt(error),
        )
    return sent
