"""Real mail servers on 127.0.0.1 for the email backend's tests and the demo: aiosmtpd (SMTP, STARTTLS or TLS; a
dev dependency) and Debian's dovecot (IMAP over TLS; ``apt-get install dovecot-imapd``, done by ``.ci/run``) with a
throwaway configuration in a temporary folder, both with a self-signed certificate of their own.
"""

from __future__ import annotations

import datetime as dt
import email
import email.utils
import imaplib
import ipaddress
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from email.message import EmailMessage, Message
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)


MISSING = "dovecot is not installed (apt-get install -y dovecot-imapd; .ci/run does it)"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost and its key, written into ``folder``."""
    key = ec.generate_private_key(ec.SECP256R1())
    # A name of its own: two test servers' certificates in one CA file must not share a subject.
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"mentionbot test {folder.name}")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    os.chmod(key_path, 0o600)
    return cert_path, key_path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, *, process: subprocess.Popen | None = None, log: Path | None = None) -> None:
    """Return once something accepts connections on ``port`` (a server starting up), or fail with its log."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)  # a process starting, not a clock: nothing to inject
    told = log.read_text(errors="replace") if log and log.exists() else ""
    raise RuntimeError(f"server on port {port} did not start: {told[-2000:]}")


class Dovecot:
    """A dovecot IMAP server (TLS only) on 127.0.0.1 with one mailbox user, in a temporary folder."""

    def __init__(self, *, user: str = "care@acme.example", password: str = "imap-secret"):
        # Its own folder under /tmp, which dovecot's unprivileged processes can reach (pytest's are 0700 chains).
        self.folder = Path(tempfile.mkdtemp(prefix="mentionbot-dovecot-"))
        os.chmod(self.folder, 0o711)
        self.user = user
        self.password = password
        self.port = free_port()
        self.cert, self.key = self_signed(self.folder)
        self.process: subprocess.Popen | None = None

    def config(self) -> str:
        root = os.geteuid() == 0
        # As root dovecot drops to its own users for its processes, and never reads mail as root: the mailbox
        # belongs to "nobody". Unprivileged, every process runs as the current user.
        mail_user = pwd.getpwnam("nobody") if root else pwd.getpwuid(os.geteuid())
        home = self.folder / "home"
        home.mkdir(exist_ok=True)
        os.chown(home, mail_user.pw_uid, mail_user.pw_gid)
        me = pwd.getpwuid(os.geteuid()).pw_name
        internal = "" if root else f"default_internal_user = {me}\ndefault_login_user = {me}\n"
        (self.folder / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        os.chmod(self.folder / "passwd", 0o644)  # a throwaway password, read by dovecot's auth user
        return f"""
base_dir = {self.folder}/run
state_dir = {self.folder}/state
log_path = {self.folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{self.cert}
ssl_key = <{self.key}
disable_plaintext_auth = yes
auth_mechanisms = plain
first_valid_uid = {mail_user.pw_uid}
last_valid_uid = {mail_user.pw_uid}
{internal}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.folder}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user.pw_uid} gid={mail_user.pw_gid} home={home}/%u
}}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  mailbox Sent {{
    auto = create
    special_use = \\Sent
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""

    def start(self) -> Dovecot:
        conf = self.folder / "dovecot.conf"
        conf.write_text(self.config())
        if not DOVECOT:
            raise RuntimeError(MISSING)
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        wait_for_port(self.port, process=self.process, log=self.folder / "dovecot.log")
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def client(self) -> imaplib.IMAP4_SSL:
        context = ssl.create_default_context(cafile=str(self.cert))
        imap = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=context)
        imap.login(self.user, self.password)
        return imap

    def deliver(self, message: Message | bytes, folder: str = "INBOX") -> None:
        """Put ``message`` into ``folder`` by IMAP APPEND, as a mail server's delivery would."""
        raw = message if isinstance(message, bytes) else message.as_bytes()
        imap = self.client()
        try:
            status, _ = imap.append(folder, "", imaplib.Time2Internaldate(time.time()), raw)
            assert status == "OK", status
        finally:
            imap.logout()

    def messages(self, folder: str = "INBOX") -> list[Message]:
        imap = self.client()
        try:
            imap.select(folder, readonly=True)
            _, data = imap.uid("search", None, "ALL")
            out = []
            for uid in data[0].split():
                _, parts = imap.uid("fetch", uid, "(BODY.PEEK[])")
                out.append(email.message_from_bytes(parts[0][1]))
            return out
        finally:
            imap.logout()


def customer_mail(
    *,
    sender: str,
    to: str,
    subject: str,
    body: str,
    in_reply_to: str | None = None,
    message_id: str | None = None,
) -> EmailMessage:
    """A plain mail as a customer's mail program writes it."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = email.utils.format_datetime(dt.datetime.now(dt.UTC))
    message["Message-ID"] = message_id or email.utils.make_msgid(domain="customer.example")
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(body)
    return message


class SmtpServer:
    """aiosmtpd on 127.0.0.1 speaking STARTTLS (``security="starttls"``, required before AUTH) or implicit TLS
    (``"tls"``), with one user; the mails it accepted are kept in ``received``, and the recipients in ``refuse``
    are refused with the answer given there."""

    def __init__(
        self,
        *,
        security: str = "starttls",
        user: str = "care@acme.example",
        password: str = "smtp-secret",
        port: int | None = None,
    ):
        self.folder = Path(tempfile.mkdtemp(prefix="mentionbot-smtp-"))
        self.cert, self.key = self_signed(self.folder)
        self.security = security
        self.user, self.password = user, password
        self.port = port or free_port()
        self.received: list[tuple[str, list[str], Message]] = []
        # Recipients the server refuses, each with its answer to RCPT ("450 4.2.1 Mailbox busy").
        self.refuse: dict[str, str] = {}
        self.controller = None

    def start(self) -> SmtpServer:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        server = self

        class Keep:
            async def handle_RCPT(self, smtp, session, envelope, address, rcpt_options):
                if address in server.refuse:
                    return server.refuse[address]
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, smtp, session, envelope):
                server.received.append(
                    (envelope.mail_from, list(envelope.rcpt_tos), email.message_from_bytes(envelope.content))
                )
                return "250 OK"

        def authenticate(smtp, session, envelope, mechanism, auth_data):
            ok = auth_data.login.decode() == self.user and auth_data.password.decode() == self.password
            return AuthResult(success=ok, handled=False)

        options = {"authenticator": authenticate, "auth_required": True}
        if (
            self.security == "tls"
        ):  # the whole connection is TLS (aiosmtpd's "require TLS" knows only STARTTLS)
            options["auth_require_tls"] = False
            self.controller = Controller(
                Keep(), hostname="127.0.0.1", port=self.port, ssl_context=context, **options
            )
        else:
            self.controller = Controller(
                Keep(),
                hostname="127.0.0.1",
                port=self.port,
                auth_require_tls=True,
                tls_context=context,
                require_starttls=True,
                **options,
            )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
