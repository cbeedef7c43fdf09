"""The case's mail: its wording, the message (plain text and HTML, threaded), and sending it over SMTP.

Like every outgoing text, a case mail passes the tone check and the final check (``responders.guard``) before it is
queued; one that does not is refused with the reasons, never sent. The mail comes from the shared mailbox under the
brand's name, and its Reply-To is the mailbox's plus-address for the case (``care+C-00012@…``), so the customer's
answer names its case even when their mail program drops the threading headers.
"""

from __future__ import annotations

import smtplib
import ssl
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from bot.config import BrandSettings, EmailSettings
from bot.errors import ConnectorError, TransientError
from bot.escape import html
from bot.models import Case
from responders import guard, tone


class MailRefused(ConnectorError):
    """A case mail may not go out as written; the message says why."""


class RecipientDeferred(TransientError):
    """The SMTP server is up but cannot take mail for this recipient now (a 4xx answer to RCPT); try later."""


def plus_address(mailbox: str, ref: str) -> str:
    """The shared mailbox's address for one case: ``care+C-00012@example.com``."""
    local, _, domain = mailbox.partition("@")
    return f"{local}+{ref}@{domain}"


def subject(case: Case, brand: BrandSettings) -> str:
    """The subject of a case's thread; it names the case so that any answer to it does."""
    return f"[{case.ref}] {brand.name} care team: your message"


def acknowledgement(case: Case, brand: BrandSettings, *, name: str | None) -> str:
    """Our first answer to a customer who wrote to us: thank you, we have it, and who takes it from here."""
    hi = f"Hi {name}," if name else "Hi,"
    who = f"{case.owner} from our team" if case.owner else "someone from our team"
    return (
        f"{hi}\n\nthank you for writing to us about case {case.ref}. We have your message, and {who} is "
        "looking at what happened now. We'll write again with what we will do and by when.\n\n"
        "If there is anything you'd like to add, reply to this mail and it joins your case."
    )


def problems(text: str, brand: BrandSettings) -> list[str]:
    """Why ``text`` may not go out in a case mail (the tone check's findings and the final check's)."""
    return [str(f) for f in tone.check(text)] + guard.check(text, brand=brand)


def message(
    case: Case,
    text: str,
    *,
    to: str,
    brand: BrandSettings,
    settings: EmailSettings,
    answering: list[str] | None = None,
    now: datetime,
) -> EmailMessage:
    """The mail for ``case`` with ``text`` signed by the brand, threaded under ``answering`` (the Message-IDs of
    the thread so far, oldest first); raise ``MailRefused`` when the text or the signature may not go out."""
    signature = "\n".join(x for x in (f"{brand.name} care team", settings.signature.strip()) if x)
    body = f"{text.strip()}\n\n-- \n{signature}\n"
    found = problems(f"{text}\n{settings.signature}", brand)
    if found:
        raise MailRefused("email", f"case {case.ref}: the mail may not go out: {'; '.join(found)}")
    mailbox = settings.mailbox(brand)
    domain = mailbox.partition("@")[2]
    mail = EmailMessage()
    mail["From"] = Address(f"{brand.name} care team", addr_spec=mailbox)
    mail["To"] = to
    mail["Reply-To"] = plus_address(mailbox, case.ref)
    mail["Subject"] = ("Re: " if answering else "") + subject(case, brand)
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = make_msgid(idstring=case.ref, domain=domain)
    if answering:
        mail["In-Reply-To"] = answering[-1]
        mail["References"] = " ".join(answering[-10:])  # RFC 5322 allows trimming all but the first and last
    mail.set_content(body)
    paragraphs = "".join(f"<p>{html(p).replace(chr(10), '<br>')}</p>" for p in text.strip().split("\n\n"))
    mail.add_alternative(
        f"<!doctype html><html><body>{paragraphs}<p>-- <br>{html(signature).replace(chr(10), '<br>')}</p>"
        "</body></html>",
        subtype="html",
    )
    return mail


def send(raw: str, *, sender: str, to: str, settings: EmailSettings, password: str) -> None:
    """Hand one mail (``raw``: as ``message`` wrote it) to the SMTP server (STARTTLS or TLS; logging in where a user is set); a server that is down
    or refuses for now is a ``TransientError`` (``RecipientDeferred`` when only the recipient is refused for now),
    one that refuses the mail for good a ``ConnectorError``."""
    context = ssl.create_default_context(cafile=settings.ca_file or None)
    try:
        if settings.smtp_security == "tls":
            smtp = smtplib.SMTP_SSL(
                settings.smtp_host, settings.smtp_port, timeout=settings.timeout_seconds, context=context
            )
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout_seconds)
        with smtp:
            if settings.smtp_security == "starttls":
                smtp.starttls(context=context)
            if settings.smtp_user:
                smtp.login(settings.smtp_user, password)
            smtp.sendmail(sender, [to], raw)  # a str: smtplib ends its lines with CRLF, as SMTP wants
    except smtplib.SMTPResponseException as exc:
        error = TransientError if 400 <= exc.smtp_code < 500 else ConnectorError
        raise error("email", f"SMTP {settings.smtp_host}: {exc.smtp_code} {exc.smtp_error!r}") from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = sorted({code for code, _ in exc.recipients.values()})
        error = RecipientDeferred if all(400 <= code < 500 for code in codes) else ConnectorError
        raise error(
            "email", f"SMTP {settings.smtp_host}: recipient refused ({', '.join(map(str, codes))})"
        ) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise TransientError("email", f"SMTP {settings.smtp_host}: {type(exc).__name__}: {exc}") from None
