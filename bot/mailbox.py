"""The email backend of the private case (``[cases] backend = "email"``): the shared mailbox read over IMAP, each
mail matched to its case, and the case's own mails sent.

Why here: matching a mail to a case and moving the case's clocks is case logic (``bot/``); the wording and the
SMTP sending are the brand's words going out (``responders/email.py``); IMAP is read here because it is not a
platform of posts (no ``Mention``), only the case's private channel.

A mail belongs to a case when it answers one of the case's mails (``In-Reply-To`` / ``References``), is addressed
to the case's plus-address (``care+C-00012@…``), or names the case's reference in its subject or body. A customer's
mail is attached to the case's history (the handoff taken: the report's conversion counts it; the follow-up clock
stops); a case's first mail is acknowledged by mail. The first mail of a case teaches it the customer's
address; a later one from another sender is not attached but flagged for a person (a spoofed reference, or a
colleague writing for the customer). A mail naming no case is left alone. The agents' answers from the shared
mailbox (its Sent folder, or a copy to the mailbox) are recorded as the team's contact.

Each folder is read by UID after a cursor ``UIDVALIDITY:UID`` saved in the store; every mail is also recorded by
its Message-ID, so a mail read twice (a new UIDVALIDITY, a crash before the cursor was saved) counts once.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import imaplib
import logging
import re
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from typing import Any

from bot import cases
from bot.config import EmailSettings
from bot.errors import ConnectorError, StoreError, TransientError
from bot.models import Author, Case, excerpt, safe_text, utc
from responders import email as case_mail
from responders import guard

log = logging.getLogger(__name__)

REF = re.compile(r"\bC-(\d{5,9})\b", re.IGNORECASE)
MAX_TEXT = 4000  # characters of a mail's text kept in the case's history
BATCH = 200  # mails fetched per folder per poll: a large backlog is read over several polls
_QUOTE_HEAD = re.compile(
    r"^\s*(On .{0,200}wrote:|-----\s*Original Message\s*-----)\s*$", re.IGNORECASE | re.M
)
_TAGS = re.compile(r"<[^>]*>")


@dataclass(frozen=True, slots=True)
class IncomingMail:
    """One mail read from the shared mailbox, as far as a case needs it (all of it a stranger's words)."""

    message_id: str
    sender: str  # the From address, lower case
    sender_name: str
    recipients: tuple[str, ...]  # To, Cc and Delivered-To addresses, lower case
    subject: str
    text: str  # the new text of the mail: quoted history cut, bounded
    thread: tuple[str, ...]  # In-Reply-To and References
    at: datetime


def parse(raw: bytes, *, now: datetime, uid: str = "") -> IncomingMail:
    """An ``IncomingMail`` from a mail's bytes; a mail without a Message-ID gets one from its folder and UID."""
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    message_id = str(mail.get("Message-ID", "")).strip() or f"<no-id-{uid}@mentionbot.invalid>"
    name, sender = parseaddr(str(mail.get("From", "")))
    recipients = tuple(
        a.lower()
        for _, a in getaddresses([str(v) for k in ("To", "Cc", "Delivered-To") for v in mail.get_all(k, [])])
    )
    thread = tuple(re.findall(r"<[^<>\s]+>", f"{mail.get('In-Reply-To', '')} {mail.get('References', '')}"))
    try:
        at = utc(parsedate_to_datetime(str(mail["Date"]))) if mail["Date"] else now
    except (TypeError, ValueError):
        at = now
    return IncomingMail(
        message_id=safe_text(message_id, limit=300),
        sender=sender.lower(),
        sender_name=safe_text(name, limit=100),
        recipients=recipients,
        subject=safe_text(str(mail.get("Subject", "")), limit=300),
        text=safe_text(_new_text(mail), limit=MAX_TEXT),
        thread=thread,
        at=min(at, now),
    )


def _new_text(mail: EmailMessage) -> str:
    """The mail's own words: its plain text (or its HTML without tags), without the quoted mail it answers."""
    part = mail.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        text = part.get_content()
    except (LookupError, ValueError):
        return ""
    if part.get_content_subtype() == "html":
        text = _TAGS.sub(" ", text)
    if head := _QUOTE_HEAD.search(text):
        text = text[: head.start()]
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(">")).strip()


class Imap:
    """The shared mailbox over IMAP (TLS or STARTTLS), read-only: mails are fetched with ``BODY.PEEK``, so what
    the agents see as unread stays unread."""

    def __init__(self, settings: EmailSettings, password: str):
        self.settings = settings
        self.password = password

    def fetch(
        self, folder: str, cursor: str | None, *, since: datetime
    ) -> tuple[list[tuple[str, bytes]], str]:
        """The mails of ``folder`` after ``cursor`` (on the first read, those since ``since``) and the new cursor."""
        s = self.settings
        context = ssl.create_default_context(cafile=s.ca_file or None)
        try:
            if s.imap_security == "tls":
                imap = imaplib.IMAP4_SSL(
                    s.imap_host, s.imap_port, ssl_context=context, timeout=s.timeout_seconds
                )
            else:
                imap = imaplib.IMAP4(s.imap_host, s.imap_port, timeout=s.timeout_seconds)
                imap.starttls(ssl_context=context)
            try:
                imap.login(s.imap_user, self.password)
                status, _ = imap.select(_quoted(folder), readonly=True)
                if status != "OK":
                    raise ConnectorError("email", f"IMAP folder {folder!r} cannot be opened")
                validity = imap.response("UIDVALIDITY")[1][0].decode()
                last = 0
                if cursor and cursor.partition(":")[0] == validity:
                    last = int(cursor.partition(":")[2] or 0)
                    _, found = imap.uid("search", None, f"UID {last + 1}:*")
                elif (
                    cursor
                ):  # the folder was rebuilt: read it again (each mail counts once by its Message-ID)
                    _, found = imap.uid("search", None, "ALL")
                else:
                    _, found = imap.uid("search", None, f"SINCE {since:%d-%b-%Y}")
                uids = sorted(int(u) for u in (found[0] or b"").split() if int(u) > last)[:BATCH]
                out = []
                for uid in uids:
                    _, parts = imap.uid("fetch", str(uid), "(BODY.PEEK[])")
                    raw = next((p[1] for p in parts if isinstance(p, tuple)), None)
                    if raw is not None:
                        out.append((str(uid), raw))
                if not uids and not cursor:
                    _, top = imap.uid("search", None, "ALL")
                    uids = [max((int(u) for u in (top[0] or b"").split()), default=0)]
                return out, f"{validity}:{max(uids, default=last)}"
            finally:
                with contextlib.suppress(OSError, imaplib.IMAP4.error):
                    imap.logout()
        except imaplib.IMAP4.error as exc:
            raise ConnectorError("email", f"IMAP {s.imap_host}: {excerpt(exc)}") from None
        except OSError as exc:
            raise TransientError(
                "email", f"IMAP {s.imap_host}: {type(exc).__name__}: {excerpt(exc)}"
            ) from None


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


class EmailBackend(cases.CaseBackend):
    """Reads the shared mailbox into the cases and sends the cases' mails."""

    backend = "email"
    settings: EmailSettings

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.mailbox = self.settings.mailbox(self.config.brand).lower()
        password = self.settings.imap_password.value() if self.settings.imap_password else ""
        self.imap = Imap(self.settings, password)

    def run_once(self) -> int:
        """Read the inbox and the Sent folder once and send what is queued; returns the mails attached to cases."""
        attached = 0
        for folder, ours in ((self.settings.inbox, False), (self.settings.sent_folder, True)):
            try:
                attached += self.read(folder, ours=ours)
            except ConnectorError as exc:
                log.warning("case mail: could not read %s: %s", folder, excerpt(exc))
        self.send_queued()
        return attached

    def read(self, folder: str, *, ours: bool) -> int:
        """Match the new mails of one folder to their cases; ``ours``: the folder of the mailbox's sent mail."""
        open_cases = self.store.cases(status="open")
        since = min((c.opened_at for c in open_cases), default=self.clock.now())
        fetched, cursor = self.imap.fetch(folder, self.store.mail_cursor(folder), since=since)
        attached = 0
        for uid, raw in fetched:
            try:
                attached += self.handle(parse(raw, now=self.clock.now(), uid=f"{folder}-{uid}"), ours=ours)
            except Exception:  # one bad mail never stops the next
                log.exception("case mail: mail %s in %s could not be handled", uid, folder)
        self.store.set_mail_cursor(folder, cursor)
        return attached

    def handle(self, mail: IncomingMail, *, ours: bool = False) -> int:
        """Attach, record, flag or ignore one mail; returns 1 when it joined a case's history."""
        if self.store.mail_known(mail.message_id):
            return 0
        from_us = ours or self._is_ours(mail.sender)
        case, how = self.case_of(mail)
        now = self.clock.now()
        if case is None:
            self.store.record_mail(
                mail.message_id, case_id=None, direction="ignored", state="ignored", at=now
            )
            return 0
        if from_us:
            return self._agent_answer(case, mail, how, now)
        known = self.store.case_address(case.id)
        if known and known != mail.sender:
            with self.store.write_transaction():
                self.store.record_mail(
                    mail.message_id,
                    case_id=case.id,
                    direction="in",
                    state="flagged",
                    at=now,
                    sender=mail.sender,
                )
                self.store.update_case(
                    case.id,
                    now=now,
                    actor="mentionbot",
                    event="mail_flagged",
                    note=(
                        f"a mail naming this case ({how}) came from {mail.sender}, not from the customer's "
                        f"address {known}: not attached; a person should check who wrote it"
                    ),
                )
            self.on_event("mail_flagged", case=case, sender=mail.sender, how=how)
            return 0
        with self.store.write_transaction():
            self.store.record_mail(
                mail.message_id,
                case_id=case.id,
                direction="in",
                state="received",
                at=mail.at,
                sender=mail.sender,
                recipient=self.mailbox,
            )
            if not known:
                self.store.set_case_address(case.id, mail.sender, now=now)
            if case.contacted_at is None:
                # The customer took the public reply's route to us: the handoff to private is made.
                self.store.update_case(
                    case.id,
                    now=now,
                    actor=case.author_handle,
                    event="handoff",
                    note=f"wrote to the shared mailbox from {mail.sender} ({how})",
                    contacted_at=mail.at,
                )
            if case.status == "open":
                cases.customer_replied(self.store, case, at=mail.at, now=now, text=_history_text(mail))
            else:
                self.store.update_case(
                    case.id,
                    now=now,
                    actor=case.author_handle,
                    event="customer_reply",
                    note=_history_text(mail),
                )
            if case.status == "open":  # a case's first mail is acknowledged (once: the queue's key)
                self.queue(
                    self.store.case(case.id), "ack", to=mail.sender, name=_first_name(mail.sender_name)
                )
        self.on_event("customer_mail", case=self.store.case(case.id), how=how, sender=mail.sender)
        return 1

    def _agent_answer(self, case: Case, mail: IncomingMail, how: str, now: datetime) -> int:
        to = next((r for r in mail.recipients if not self._is_ours(r)), "")
        with self.store.write_transaction():
            self.store.record_mail(
                mail.message_id,
                case_id=case.id,
                direction="agent",
                state="received",
                at=mail.at,
                sender=mail.sender,
                recipient=to,
            )
            made = {k: mail.at for k in ("acknowledged_at", "contacted_at") if getattr(case, k) is None}
            self.store.update_case(
                case.id,
                now=now,
                actor=mail.sender,
                event="agent_mail",
                note=f"answered by mail to {to or 'the customer'} ({how}): {_history_text(mail)}",
                **made,
            )
            cases.contacted(self.store, self.store.case(case.id), now=now)
        self.on_event("agent_mail", case=self.store.case(case.id), sender=mail.sender)
        return 1

    def case_of(self, mail: IncomingMail) -> tuple[Case | None, str]:
        """The case a mail belongs to and how it was found (thread, plus-address, subject, body)."""
        if case_id := self.store.case_of_mail(mail.thread):
            return self.store.case(case_id), "answer to a case mail"
        local, _, domain = self.mailbox.partition("@")
        for address in mail.recipients:
            got_local, _, got_domain = address.partition("@")
            base, plus, tag = got_local.partition("+")
            if plus and base == local and got_domain == domain and (case := self._by_ref(tag)):
                return case, "plus-address"
        for where, text in (("subject", mail.subject), ("body", mail.text)):
            for match in REF.finditer(text):
                if case := self._by_ref(f"C-{match.group(1)}"):
                    return case, f"reference in the {where}"
        return None, ""

    def _by_ref(self, ref: str) -> Case | None:
        if not REF.fullmatch(ref):
            return None
        try:
            return self.store.case_by_ref(f"C-{int(ref[2:]):05d}")
        except StoreError:
            return None

    def _is_ours(self, address: str) -> bool:
        local, _, domain = address.partition("@")
        mine, _, my_domain = self.mailbox.partition("@")
        return domain == my_domain and local.split("+")[0] == mine

    # -- sending ----------------------------------------------------------------------------------------------

    def queue(
        self, case: Case, purpose: str, *, to: str, text: str | None = None, name: str | None = None
    ) -> bool:
        """Queue one case mail (once per ``purpose``: "ack", "follow-up-2" …) to ``to``, threaded under the case's
        mails so far; False if it was queued before or may not go out (the case's history says why)."""
        now = self.clock.now()
        brand = self.config.brand
        body = text or case_mail.acknowledgement(case, brand, name=name)
        thread = [m.message_id for m in self.store.case_mails(case.id) if m.direction != "ignored"]
        try:
            mail = case_mail.message(
                case, body, to=to, brand=brand, settings=self.settings, answering=thread, now=now
            )
        except case_mail.MailRefused as exc:
            self.store.update_case(case.id, now=now, actor="mentionbot", event="mail_refused", note=str(exc))
            return False
        return self.store.record_mail(
            str(mail["Message-ID"]),
            case_id=case.id,
            direction="out",
            state="queued",
            at=now,
            sender=self.mailbox,
            recipient=to,
            raw=mail.as_string(),
            idempotency_key=f"case-{case.id}-mail-{purpose}",
        )

    def send_queued(self) -> int:
        """Send the queued case mails (recorded only, in a dry run); a server that is down keeps them queued."""
        sent = 0
        password = self.settings.smtp_password.value() if self.settings.smtp_password else ""
        for mail in self.store.queued_mail():
            now = self.clock.now()
            case = self.store.case(mail.case_id)
            if self.config.dry_run:
                self.store.settle_mail(mail.message_id, state="dry_run", at=now)
                self.store.update_case(
                    case.id,
                    now=now,
                    actor="mentionbot",
                    event="dry_run",
                    note=f"mail to {mail.recipient} recorded (dry run)",
                )
                continue
            try:
                case_mail.send(
                    mail.raw,
                    sender=self.mailbox,
                    to=mail.recipient,
                    settings=self.settings,
                    password=password,
                )
            except TransientError as exc:
                log.warning("case mail: %s stays queued: %s", case.ref, excerpt(exc))
                break  # the server is down or busy: the rest wait too
            except ConnectorError as exc:
                with self.store.write_transaction():
                    self.store.settle_mail(mail.message_id, state="failed", at=now)
                    self.store.update_case(
                        case.id, now=now, actor="mentionbot", event="mail_failed", note=excerpt(exc)
                    )
                continue
            # Sent: recorded at once. A crash right here sends it again next time, with the same Message-ID
            # (mail programs show the copy as the same mail).
            with self.store.write_transaction():
                self.store.settle_mail(mail.message_id, state="sent", at=now)
                made = {k: now for k in ("acknowledged_at", "contacted_at") if getattr(case, k) is None}
                self.store.update_case(
                    case.id,
                    now=now,
                    actor="mentionbot",
                    event="mail_sent",
                    note=f"mail to {mail.recipient}",
                    **made,
                )
            self.on_event("case_mail_sent", case=case, to=mail.recipient)
            sent += 1
        return sent


def _history_text(mail: IncomingMail) -> str:
    return f"{mail.subject}: {mail.text}" if mail.subject else mail.text


def _first_name(display_name: str) -> str | None:
    """The name a mail's sender gave, when it plainly is one (the guard's rule for display names)."""
    return guard.greeting(Author(handle="", display_name=display_name)).name if display_name else None
