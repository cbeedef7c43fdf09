"""``config.toml`` loaded into one dataclass per section; every problem is reported at once with the key's path.

Secrets are written as ``{ env = "NAME" }`` and read from the environment when used, never from the file.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import ConfigError
from connectors import REGISTRY, load
from connectors.base import ConnectorSettings, Secret

INTENTS = ("complaint", "inquiry", "praise", "other")


_NOT_ALNUM = re.compile(r"[\W_]+")


def _squeeze(text: str) -> str:
    return _NOT_ALNUM.sub("", text.casefold())


@dataclass(frozen=True, slots=True)
class Bound:
    """The range a number must be in: above (or at least) ``low``, at most ``high``."""

    low: float
    high: float | None = None
    above: bool = False  # True: ``low`` itself is refused
    unit: str = ""

    def problem(self, where: str, value: float) -> str | None:
        """A message naming the key and the range when ``value`` is outside it, else ``None``."""
        if (value > self.low if self.above else value >= self.low) and (
            self.high is None or value <= self.high
        ):
            return None
        low = f"more than {self.low:g}" if self.above else f"at least {self.low:g}"
        high = f" and at most {self.high:,g}" if self.high is not None else ""
        unit = f" {self.unit}" if self.unit else ""
        return f"{where}: expected {low}{high}{unit}, got {value:g}"


HOURS = Bound(0, 24 * 365, above=True, unit="hours")
# Every number a config may hold, by key (in every section, the connectors' tables too): a negative or zero
# clock silently breaks the SLA or polls without pause, and X charges per call.
BOUNDS: dict[str, Bound] = {
    "max_age_hours": HOURS,
    "acknowledge_hours": HOURS,
    "inquiry_hours": HOURS,
    "follow_up_every_hours": HOURS,
    "targets": HOURS,
    "remind_before_hours": Bound(0, 24 * 7, unit="hours"),
    "retrain_every_hours": Bound(0, 24 * 365, unit="hours (0 = never)"),
    "backfill_hours": Bound(0, 24 * 365, unit="hours"),
    "follow_ups": Bound(0, 10),
    "credentials_warn_days": Bound(0, 365, unit="days"),
    "min_labels": Bound(10),
    "holdout": Bound(0.05, 0.5),
    "interval_seconds": Bound(1, 86_400, unit="seconds"),
    "timeout_seconds": Bound(0, 600, above=True, unit="seconds"),
    "page_size": Bound(1, 1000),
    "max_pages": Bound(1, 1000),
    "hits_per_page": Bound(1, 1000),
    "guild_id": Bound(0),
    "channel_id": Bound(0),
}

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_PHONE = re.compile(r"\+?[\d\s().\-/]+")


def _url_problem(where: str, value: str, schemes: tuple[str, ...] = ("http", "https")) -> str | None:
    parts = urlsplit(value)
    if parts.scheme in schemes and parts.netloc and " " not in value:
        return None
    return f"{where}: expected an address like {schemes[-1]}://example.com, got {value!r}"


def _address_problem(key: str, where: str, value: str) -> str | None:
    """A message when ``value`` of an address key (email, phone, URL) is not one; empty means unset."""
    if not value:
        return None
    if key == "contact_email" and not _EMAIL.fullmatch(value):
        return f"{where}: expected an email address like care@example.com, got {value!r}"
    if key == "contact_phone" and not (_PHONE.fullmatch(value) and sum(c.isdigit() for c in value) >= 5):
        return f"{where}: expected a phone number like +31 20 123 4567, got {value!r}"
    if key in ("contact_url", "base_url", "rss_base_url", "api_base"):
        return _url_problem(where, value)
    if key == "gateway_url":
        return _url_problem(where, value, ("ws", "wss"))
    return None


def range_problems(key: str, where: str, value: Any) -> list[str]:
    """The range and format problems of one converted value (numbers by ``BOUNDS``, addresses by their key)."""
    bound = BOUNDS.get(key)
    if bound is not None:
        if isinstance(value, dict):
            return [p for k, v in value.items() if (p := bound.problem(f"{where}.{k}", v))]
        if isinstance(value, int | float) and not isinstance(value, bool):
            return [p] if (p := bound.problem(where, value)) else []
    if isinstance(value, str):
        return [p] if (p := _address_problem(key, where, value)) else []
    return []


@dataclass(kw_only=True)
class BrandSettings:
    """Who we are and how customers reach us in private."""

    name: str = "Acme"
    contact_email: str = ""
    contact_url: str = ""
    contact_phone: str = ""
    timezone: str = "UTC"
    languages: list[str] = field(default_factory=lambda: ["en"])
    exclude: list[str] = field(default_factory=list)
    logo: str = ""  # an image file for the weekly report's header, relative to this file
    colour: str = "#1f4e79"  # the weekly report's accent colour

    def off_topic(self, text: str) -> str | None:
        """The first excluded phrase the text contains, ignoring case, spaces and punctuation (#LooneyTunes)."""
        if not self.exclude:
            return None
        squeezed = _squeeze(text)
        return next((term for term in self.exclude if _squeeze(term) in squeezed), None)

    def problems(self, path: str) -> list[str]:
        out = []
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            out.append(
                f"{path}.timezone: unknown time zone {self.timezone!r}; expected an IANA name like 'Europe/Paris'"
            )
        if any(not _squeeze(term) for term in self.exclude):
            out.append(
                f"{path}.exclude: expected phrases with letters or digits; an empty one would exclude every post"
            )
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", self.colour):
            out.append(f"{path}.colour: expected a colour like '#1f4e79', got {self.colour!r}")
        if self.logo and Path(self.logo).suffix.lower() not in (
            ".png",
            ".jpg",
            ".jpeg",
            ".svg",
            ".gif",
            ".webp",
        ):
            out.append(f"{path}.logo: expected a PNG, JPEG, SVG, GIF or WebP image file, got {self.logo!r}")
        if not (self.contact_email or self.contact_url or self.contact_phone):
            out.append(
                f"{path}: expected at least one of contact_email, contact_url, contact_phone (doctrine §1)"
            )
        return out


@dataclass(kw_only=True)
class StoreSettings:
    """Where the database lives: a SQLite file (``path``, the default) or PostgreSQL (``url``, its password
    from an environment variable)."""

    path: str = "mentionbot.db"
    url: str = ""
    password: Secret | None = None
    # Several daemons on one database: how long a daemon's claim on a connector's poll, or on leadership, lasts
    # without renewal (a dead daemon's work moves to another after it).
    lease_seconds: float = 30.0


@dataclass(kw_only=True)
class ReplySettings:
    """Which mentions get a drafted reply, and which drafts may be posted without a manager."""

    max_age_hours: float = 72.0
    reply_to: list[str] = field(default_factory=lambda: ["complaint", "inquiry", "praise"])
    open_case_for: list[str] = field(default_factory=lambda: ["complaint", "inquiry"])
    auto_approve: list[str] = field(default_factory=list)

    def problems(self, path: str) -> list[str]:
        out = []
        for key in ("reply_to", "open_case_for", "auto_approve"):
            bad = [i for i in getattr(self, key) if i not in INTENTS]
            if bad:
                out.append(f"{path}.{key}: unknown intent {bad[0]!r}; expected some of {', '.join(INTENTS)}")
        return out


@dataclass(kw_only=True)
class SlaSettings:
    """The service-level clocks of doctrine §3."""

    acknowledge_hours: float = 24.0
    inquiry_hours: float = 24.0
    follow_ups: int = 3
    follow_up_every_hours: float = 24.0
    remind_before_hours: float = 2.0
    targets: dict[str, float] = field(default_factory=dict)
    same_day_cutoff: str = "18:00"

    def problems(self, path: str) -> list[str]:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", self.same_day_cutoff):
            return [
                f"{path}.same_day_cutoff: expected a 24-hour time like '18:00', got {self.same_day_cutoff!r}"
            ]
        return []


@dataclass(kw_only=True)
class TemplateSettings:
    """Where the reply templates are (empty: the shipped ``responders/templates.toml``)."""

    path: str = ""


ENCODER_MODES = ("blend", "teach")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(kw_only=True)
class TriageSettings:
    """When the complaint model retrains from the managers' labels, and how it is judged."""

    retrain_every_hours: float = 24.0
    min_labels: int = 50
    holdout: float = 0.2
    # A sentence-transformers model folder for the optional encoder head (see bot/encoder.py); "" = words only.
    encoder: str = ""
    # "blend": triage also runs the encoder (tens of texts/s); "teach": the encoder labels the stored mentions
    # nobody labelled for the word model and triage runs without it (thousands of texts/s).
    encoder_mode: str = "blend"

    def problems(self, path: str) -> list[str]:
        out = []
        if self.encoder_mode not in ENCODER_MODES:
            out.append(
                f"{path}.encoder_mode: expected one of {', '.join(ENCODER_MODES)}, got {self.encoder_mode!r}"
            )
        if self.encoder:
            from bot.encoder import NEEDED, missing_files

            if missing := missing_files(Path(self.encoder).expanduser()):
                out.append(
                    f"{path}.encoder: expected a sentence-transformers model folder with {', '.join(NEEDED)}"
                    f" (`make encoder` unpacks one into models/), got {self.encoder!r}: missing {', '.join(missing)}"
                )
        return out


@dataclass(kw_only=True)
class ReportSettings:
    """Where the weekly report is written, and when the daemon writes it (in ``brand.timezone``)."""

    folder: str = "reports"
    day: str = "monday"
    time: str = "09:00"
    # Connector health (the report and ``mentionbot status``) warns this many days before credentials expire.
    credentials_warn_days: int = 14
    # A copy of bot/report/templates/report.html.j2 to render the HTML report with; empty: the shipped one.
    template: str = ""
    # Who the daemon emails the weekly report to, through [cases.email]'s SMTP server; empty: nobody.
    recipients: list[str] = field(default_factory=list)

    def problems(self, path: str) -> list[str]:
        out = []
        if self.day.lower() not in WEEKDAYS:
            out.append(f"{path}.day: expected a weekday name like 'monday', got {self.day!r}")
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", self.time):
            out.append(f"{path}.time: expected a 24-hour time like '09:00', got {self.time!r}")
        if self.template and not self.template.endswith((".html", ".html.j2", ".j2")):
            out.append(f"{path}.template: expected an HTML template file (.html.j2), got {self.template!r}")
        for address in self.recipients:
            if not _EMAIL.fullmatch(address):
                out.append(
                    f"{path}.recipients: expected email addresses like boss@example.com, got {address!r}"
                )
        return out


@dataclass(kw_only=True)
class DiscordSettings:
    """The managers' Discord: the bot's token, the guild and channel of the cards, who may decide."""

    enabled: bool = False
    token: Secret | None = None
    guild_id: int = 0
    channel_id: int = 0
    manager_roles: list[str] = field(default_factory=list)
    open_read_commands: bool = False
    api_base: str = ""
    gateway_url: str = ""

    def problems(self, path: str) -> list[str]:
        if not self.enabled:
            return []
        out = [
            f"{path}.{k}: required when {path} is enabled"
            for k in ("guild_id", "channel_id")
            if not getattr(self, k)
        ]
        if not self.manager_roles:
            out.append(f"{path}.manager_roles: name at least one role whose members may approve")
        if self.token is None:
            out.append(f'{path}.token: required when {path} is enabled, as {{ env = "DISCORD_BOT_TOKEN" }}')
        return out


@dataclass(kw_only=True)
class EmailSettings:
    """The shared mailbox the private case is mirrored to: SMTP to send, IMAP to read, both over TLS."""

    address: str = ""  # the shared mailbox; empty: brand.contact_email
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: Literal["starttls", "tls"] = "starttls"
    smtp_user: str = ""
    smtp_password: Secret | None = None
    imap_host: str = ""
    imap_port: int = 993
    imap_security: Literal["tls", "starttls"] = "tls"
    imap_user: str = ""
    imap_password: Secret | None = None
    inbox: str = "INBOX"
    sent_folder: str = "Sent"
    ca_file: str = ""  # a self-hosted server's certificate authority; empty: the system's
    signature: str = ""
    timeout_seconds: float = 30.0

    def problems(self, path: str) -> list[str]:
        out = []
        if self.address and not _EMAIL.fullmatch(self.address):
            out.append(
                f"{path}.address: expected an email address like care@example.com, got {self.address!r}"
            )
        for key in ("smtp_port", "imap_port"):
            if not 0 < getattr(self, key) < 65536:
                out.append(f"{path}.{key}: expected a port between 1 and 65535, got {getattr(self, key)}")
        if self.timeout_seconds <= 0:
            out.append(f"{path}.timeout_seconds: expected a positive number of seconds")
        return out

    def required(self, path: str, brand: BrandSettings) -> list[str]:
        """What must be set when the email backend is chosen."""
        out = [
            f'{path}.{k}: required when cases.backend is "email"'
            for k in ("smtp_host", "imap_host", "imap_user")
            if not getattr(self, k)
        ]
        if not (self.address or brand.contact_email):
            out.append(
                f'{path}.address: required when cases.backend is "email" and brand.contact_email is empty'
            )
        for key in ("imap_password",) + (("smtp_password",) if self.smtp_user else ()):
            if getattr(self, key) is None:
                out.append(f'{path}.{key}: required when cases.backend is "email", as {{ env = "NAME" }}')
        return out

    def mailbox(self, brand: BrandSettings) -> str:
        """The shared mailbox's address."""
        return self.address or brand.contact_email


@dataclass(kw_only=True)
class ZammadSettings:
    """The team's Zammad: its address, an API token, the group new tickets go to, our owners' agent logins."""

    url: str = ""
    token: Secret | None = None
    group: str = "Users"
    agents: dict[str, str] = field(
        default_factory=dict
    )  # owner's name in mentionbot -> agent's email in Zammad
    timeout_seconds: float = 30.0

    def problems(self, path: str) -> list[str]:
        out = [p for p in [_url_problem(f"{path}.url", self.url)] if p and self.url]
        out += [
            f"{path}.agents.{name}: expected the agent's email address, got {email!r}"
            for name, email in self.agents.items()
            if not _EMAIL.fullmatch(email)
        ]
        if self.timeout_seconds <= 0:
            out.append(f"{path}.timeout_seconds: expected a positive number of seconds")
        return out

    def required(self, path: str) -> list[str]:
        """What must be set when the Zammad backend is chosen."""
        out = [] if self.url else [f'{path}.url: required when cases.backend is "zammad"']
        if self.token is None:
            out.append(
                f'{path}.token: required when cases.backend is "zammad", as {{ env = "ZAMMAD_TOKEN" }}'
            )
        return out


@dataclass(kw_only=True)
class ZendeskSettings:
    """The team's Zendesk: its address, the API user's email and token, our owners' agent emails."""

    url: str = ""
    email: str = ""
    token: Secret | None = None
    agents: dict[str, str] = field(
        default_factory=dict
    )  # owner's name in mentionbot -> agent's email in Zendesk
    timeout_seconds: float = 30.0

    def problems(self, path: str) -> list[str]:
        out = [p for p in [_url_problem(f"{path}.url", self.url)] if p and self.url]
        if self.email and not _EMAIL.fullmatch(self.email):
            out.append(f"{path}.email: expected the API user's email address, got {self.email!r}")
        out += [
            f"{path}.agents.{name}: expected the agent's email address, got {email!r}"
            for name, email in self.agents.items()
            if not _EMAIL.fullmatch(email)
        ]
        if self.timeout_seconds <= 0:
            out.append(f"{path}.timeout_seconds: expected a positive number of seconds")
        return out

    def required(self, path: str) -> list[str]:
        """What must be set when the Zendesk backend is chosen."""
        out = [
            f'{path}.{k}: required when cases.backend is "zendesk"'
            for k in ("url", "email")
            if not getattr(self, k)
        ]
        if self.token is None:
            out.append(
                f'{path}.token: required when cases.backend is "zendesk", as {{ env = "ZENDESK_TOKEN" }}'
            )
        return out


@dataclass(kw_only=True)
class CaseSettings:
    """Where the private case is mirrored beside our store (which stays the case's truth)."""

    backend: Literal["none", "email", "zammad", "zendesk"] = "none"
    email: EmailSettings = field(default_factory=EmailSettings)
    zammad: ZammadSettings = field(default_factory=ZammadSettings)
    zendesk: ZendeskSettings = field(default_factory=ZendeskSettings)


@dataclass(kw_only=True)
class WebhooksSettings:
    """Meta's webhooks, served by the daemon behind the operator's TLS proxy (empty ``listen``: polling only)."""

    listen: str = ""
    verify_token: Secret | None = None
    app_secret: Secret | None = None

    def problems(self, path: str) -> list[str]:
        if not self.listen:
            return []
        host, _, port = self.listen.rpartition(":")
        out = []
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            out.append(f'{path}.listen: expected "host:port" to listen on, e.g. "127.0.0.1:8088"')
        for key in ("verify_token", "app_secret"):
            if getattr(self, key) is None:
                out.append(f'{path}.{key}: required when {path}.listen is set, as {{ env = "NAME" }}')
        return out


@dataclass(kw_only=True)
class Config:
    """The whole configuration."""

    dry_run: bool = True
    brand: BrandSettings = field(default_factory=BrandSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    replies: ReplySettings = field(default_factory=ReplySettings)
    sla: SlaSettings = field(default_factory=SlaSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    templates: TemplateSettings = field(default_factory=TemplateSettings)
    triage: TriageSettings = field(default_factory=TriageSettings)
    discord: DiscordSettings = field(default_factory=DiscordSettings)
    webhooks: WebhooksSettings = field(default_factory=WebhooksSettings)
    cases: CaseSettings = field(default_factory=CaseSettings)
    connectors: dict[str, ConnectorSettings] = field(default_factory=dict)
    path: Path | None = None

    def enabled_connectors(self) -> dict[str, ConnectorSettings]:
        return {name: s for name, s in self.connectors.items() if s.enabled}

    def store_location(self) -> Any:
        """Where the store is: the SQLite file, or the PostgreSQL database (``bot.store.postgres.Postgres``)."""
        if self.store.url:
            from bot.store.postgres import Postgres

            return Postgres(self.store.url, self.store.password)
        return self.resolve(self.store.path)

    def resolve(self, relative: str) -> Path:
        """A path from the config, taken relative to the config file's folder."""
        p = Path(relative).expanduser()
        if p.is_absolute() or self.path is None:
            return p
        return self.path.parent / p


SHIPPED = Path(__file__).resolve().parent.parent / "config.toml"
_TABLE = re.compile(r"^\[([^\]]+)\]\s*$")


@dataclass(frozen=True, slots=True)
class Starter:
    """A first configuration: the shipped file's text with only the named connectors, enabled."""

    text: str
    # The environment variables its enabled parts read their secrets from: (variable, where it is used).
    secrets: list[tuple[str, str]]
    optional: list[tuple[str, str]]


def starter_config(shipped: str, connectors: list[str]) -> Starter:
    """The shipped config's text (every comment kept) with the ``connectors`` enabled and the other connectors left
    out; raise ``ConfigError`` for a name that is not a connector."""
    unknown = [n for n in connectors if n not in REGISTRY]
    if unknown:
        raise ConfigError(
            [
                f"{n}: unknown connector{_did_you_mean(n, REGISTRY)}; expected some of {', '.join(sorted(REGISTRY))}"
                for n in unknown
            ]
        )
    out: list[str] = []
    table = ""
    for line in shipped.splitlines(keepends=True):
        if m := _TABLE.match(line):
            table = m.group(1).strip()
        name = table.removeprefix("connectors.") if table.startswith("connectors.") else None
        if name is not None and name not in connectors:
            continue
        if name is not None and re.match(r"enabled\s*=", line):
            line = "enabled = true\n"
        out.append(line)
    text = "".join(out).rstrip() + "\n"
    data = tomllib.loads(text)
    secrets = [
        (value["env"], f"connectors.{name}.{key}")
        for name in connectors
        for key, value in data["connectors"][name].items()
        if isinstance(value, dict) and set(value) == {"env"}
    ]
    optional = [
        (value["env"], f"discord.{key} (when discord is enabled)")
        for key, value in data.get("discord", {}).items()
        if isinstance(value, dict) and set(value) == {"env"}
    ]
    return Starter(text=text, secrets=secrets, optional=optional)


def load_config(path: str | Path, *, check_env: bool = True) -> Config:
    """Read and validate ``path``; raise ``ConfigError`` listing every problem."""
    path = Path(path)
    expected = "expected a TOML text file like the shipped config.toml"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot be read ({exc.strerror or exc}); {expected}"]) from None
    if b"\x00" in raw:
        raise ConfigError([f"{path}: a binary file; {expected}"])
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError([f"{path}: not UTF-8 text (line {line}); {expected}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    if not data:
        raise ConfigError(
            [
                f"{path}: no settings in it; expected at least a [brand] table with a contact route, as in the "
                "shipped config.toml"
            ]
        )
    config = parse_config(data, check_env=check_env)
    config.path = path.resolve()
    return config


def parse_config(data: dict[str, Any], *, check_env: bool = True) -> Config:
    """Validate a parsed TOML document into a ``Config``; raise ``ConfigError`` listing every problem."""
    problems: list[str] = []
    connectors_data = data.get("connectors", {})
    rest = {k: v for k, v in data.items() if k != "connectors"}
    config = bind(Config, rest, "", problems, skip={"connectors", "path"}, also={"connectors"})
    if not isinstance(connectors_data, dict):
        problems.append("connectors: expected a table of [connectors.<name>] tables")
        connectors_data = {}
    for name, section in connectors_data.items():
        where = f"connectors.{name}"
        if name not in REGISTRY:
            problems.append(
                f"{where}: unknown connector{_did_you_mean(name, REGISTRY)}; expected one of "
                f"{', '.join(sorted(REGISTRY))}"
            )
            continue
        if not isinstance(section, dict):
            problems.append(f"{where}: expected a table")
            continue
        settings_cls = load(name).Settings
        settings = bind(settings_cls, section, where, problems)
        config.connectors[name] = settings
        if settings.enabled and check_env:
            problems.extend(missing_secrets(settings, where))
    if config.discord.enabled and check_env:
        problems.extend(missing_secrets(config.discord, "discord"))
    if config.webhooks.listen and check_env:
        problems.extend(missing_secrets(config.webhooks, "webhooks"))
    if config.cases.backend == "email" and not problems_for("cases", problems):
        problems.extend(config.cases.email.required("cases.email", config.brand))
        if check_env:
            problems.extend(missing_secrets(config.cases.email, "cases.email"))
    for desk in ("zammad", "zendesk"):
        if config.cases.backend == desk and not problems_for("cases", problems):
            problems.extend(getattr(config.cases, desk).required(f"cases.{desk}"))
            if check_env:
                problems.extend(missing_secrets(getattr(config.cases, desk), f"cases.{desk}"))
    if config.report.recipients and not problems_for("report", problems):
        if not config.cases.email.smtp_host:
            problems.append(
                "report.recipients: needs cases.email.smtp_host, the SMTP server the report is sent through"
            )
        email = config.cases.email
        if email.smtp_user and email.smtp_password is None:
            problems.append(
                'report.recipients: cases.email.smtp_user is set but not smtp_password = { env = "NAME" }'
            )
        elif check_env and email.smtp_password is not None and not email.smtp_password.value():
            problems.append(
                f"report.recipients: environment variable {email.smtp_password.env} is not set "
                "(cases.email.smtp_password, needed to send the report)"
            )
    problems.extend(store_problems(config.store, check_env=check_env))
    if problems:
        raise ConfigError(problems)
    return config


def store_problems(store: StoreSettings, *, check_env: bool) -> list[str]:
    """What is wrong with ``[store]``: a URL that is not PostgreSQL's, a password written into it, or a
    password variable that is not set."""
    if not store.url:
        return []
    if not store.url.startswith(("postgresql://", "postgres://")):
        return [f"store.url: expected a postgresql://user@host:port/database URL, got {store.url[:40]!r}"]
    if urlsplit(store.url).password is not None:
        return ['store.url: the password does not belong in the file: use store.password = { env = "NAME" }']
    if check_env and store.password is not None and not store.password.value():
        return [f"store.password: environment variable {store.password.env} is not set (needed by store.url)"]
    return []


def missing_secrets(settings: Any, where: str) -> list[str]:
    """Problems for each configured secret whose environment variable is not set."""
    out = []
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if isinstance(value, Secret) and not value.value():
            out.append(
                f"{where}.{f.name}: environment variable {value.env} is not set (needed because {where} is enabled)"
            )
    return out


def _did_you_mean(key: str, known) -> str:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def bind(
    cls: type,
    data: Any,
    path: str,
    problems: list[str],
    *,
    skip: set[str] = frozenset(),
    also: set[str] = frozenset(),
) -> Any:
    """Build dataclass ``cls`` from ``data``, appending a message to ``problems`` for each bad key.

    ``skip`` names fields not read from ``data``; ``also`` names keys handled by the caller (valid, not bound).
    """
    if not isinstance(data, dict):
        problems.append(f"{path or 'top level'}: expected a table, got {type_name(data)}")
        return cls()
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in skip}
    values: dict[str, Any] = {}
    for key, value in data.items():
        where = f"{path}.{key}" if path else key
        if key not in fields:
            known = sorted(set(fields) | also)
            problems.append(
                f"{where}: unknown key{_did_you_mean(key, known)}; expected one of {', '.join(known)}"
            )
            continue
        ok, converted = convert(hints[key], value, where, problems)
        if ok:
            found = range_problems(key, where, converted)
            problems.extend(found)
            if not found:
                values[key] = converted
    obj = cls(**values)
    check = getattr(obj, "problems", None)
    if callable(check) and not problems_for(path, problems):
        problems.extend(check(path or "top level"))
    return obj


def problems_for(path: str, problems: list[str]) -> bool:
    return any(p.startswith(f"{path}.") or p.startswith(f"{path}:") for p in problems) if path else False


def convert(hint: Any, value: Any, where: str, problems: list[str]) -> tuple[bool, Any]:
    """Check ``value`` against type ``hint``; return (ok, converted value)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return convert(options[0], value, where, problems)
    if hint is Secret:
        if (
            isinstance(value, dict)
            and set(value) == {"env"}
            and isinstance(value["env"], str)
            and value["env"]
        ):
            return True, Secret(env=value["env"])
        problems.append(
            f'{where}: expected {{ env = "NAME" }} naming an environment variable '
            f"(secrets are never written in the file), got {type_name(value)}"
        )
        return False, None
    if origin is Literal:
        if value in args:
            return True, value
        problems.append(f"{where}: expected one of {', '.join(repr(a) for a in args)}, got {value!r}")
        return False, None
    if dataclasses.is_dataclass(hint):
        return True, bind(hint, value, where, problems)
    if origin is list:
        (item,) = args or (Any,)
        if not isinstance(value, list):
            problems.append(f"{where}: expected a list of {type_name(item)}, got {type_name(value)}")
            return False, None
        out = []
        for i, v in enumerate(value):
            ok, c = convert(item, v, f"{where}[{i}]", problems)
            if not ok:
                return False, None
            out.append(c)
        return True, out
    if origin is dict:
        _, item = args or (str, Any)
        if not isinstance(value, dict):
            problems.append(f"{where}: expected a table, got {type_name(value)}")
            return False, None
        out = {}
        for k, v in value.items():
            ok, c = convert(item, v, f"{where}.{k}", problems)
            if not ok:
                return False, None
            out[k] = c
        return True, out
    if hint is date:  # a TOML date (2027-03-31) or offset date-time (2027-03-31T12:00:00Z)
        if isinstance(value, date):
            return True, value
        if isinstance(value, str):
            try:
                return True, (datetime if "T" in value.upper() else date).fromisoformat(value)
            except ValueError:
                pass
        problems.append(f"{where}: expected a date like 2027-03-31, got {type_name(value)} {value!r}")
        return False, None
    if hint is Any:
        return True, value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return True, float(value)
    if hint in (str, int, bool, float):
        if isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
            return True, value
        problems.append(f"{where}: expected {type_name(hint)}, got {type_name(value)} {value!r}")
        return False, None
    return True, value


def type_name(t: Any) -> str:
    if not isinstance(t, type):
        t = type(t)
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        list: "a list",
        dict: "a table",
    }.get(t, t.__name__)
