"""One typed, frozen settings object: defaults < TOML file (``ANBAO_CONFIG``) < ``ANBAO_*`` env.

Each setting is addressed as ``section.name`` and by the environment variable
``ANBAO_SECTION_NAME`` (e.g. ``keycloak.url`` / ``ANBAO_KEYCLOAK_URL``). Secrets are
:class:`Secret` values whose ``repr``/``str`` never show the value, so a settings dump, a log line
or a traceback cannot leak them. Invalid settings raise :class:`SettingsError` naming the setting,
so ``anbao serve`` can fail fast with one line.

State (stores, spool, keys made in development) lives under one data directory, ``data_dir``
(``ANBAO_DATA_DIR``): a relative state path is resolved against it when the settings are
loaded, so the server and every CLI command find the same files wherever they are started.
Unset, it is systemd's ``$STATE_DIRECTORY`` (``StateDirectory=`` of the unit), else
``$XDG_STATE_HOME/anbao``, else ``~/.local/state/anbao`` (:func:`default_data_dir`).
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import os
import re
import tomllib
import types
import typing
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from audit.recording.spool import Backpressure, FsyncPolicy


class SettingsError(ValueError):
    """A setting is missing, malformed or inconsistent; ``name`` is its dotted name."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"setting {name} ({env_name(name)}): {reason}")


class Secret:
    """A string that refuses to be printed. Read it with :meth:`reveal` where it is used."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _state(default: str) -> Any:
    """A state path (or ``sqlite:///`` URL): relative values are resolved under ``data_dir``."""
    return dataclasses.field(default=default, metadata={"state": True})


def default_data_dir() -> Path:
    """The data directory when ``data_dir`` is not set: systemd's ``$STATE_DIRECTORY`` for a
    service, else the XDG state home of the user (never the working directory)."""
    # Where the process keeps state is its own environment's (systemd, XDG), whatever mapping
    # the settings were loaded from.
    env = os.environ  # noqa: TID251
    if systemd := env.get("STATE_DIRECTORY"):
        return Path(systemd.split(":")[0])
    xdg = Path(env.get("XDG_STATE_HOME", ""))
    return (xdg if xdg.is_absolute() else Path.home() / ".local" / "state") / "anbao"


def _under(data_dir: Path, value: str) -> str:
    """``value`` (a path or a ``sqlite:///`` URL) made absolute under ``data_dir``."""
    if value.startswith("sqlite:///"):
        path = value.removeprefix("sqlite:///")
        if path in {"", ":memory:"} or Path(path).is_absolute():
            return value
        return "sqlite:///" + str(data_dir / path)
    if "://" in value or not value:  # another database (postgresql://…), or switched off
        return value
    expanded = Path(value).expanduser()
    return str(expanded if expanded.is_absolute() else data_dir / expanded)


class Environment(enum.StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class AuditStoreKind(enum.StrEnum):
    SQLITE = "sqlite"
    ELASTICSEARCH = "elasticsearch"


class AlertStoreKind(enum.StrEnum):
    SQLITE = "sqlite"
    ELASTICSEARCH = "elasticsearch"


@dataclasses.dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_body_bytes: int = 1_048_576
    #: The whole request body must arrive within this many seconds of the request (else 408).
    body_timeout_seconds: float = 30.0
    access_log: bool = True
    log_level: str = "info"
    tls_cert_file: str = ""
    tls_key_file: str = ""
    #: In production, plain HTTP is refused unless TLS terminates at a trusted proxy in front.
    behind_tls_proxy: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class KeycloakSettings:
    url: str = "http://127.0.0.1:8080"
    realm: str = "anbao"
    #: Audience Anbao's own API requires in access tokens.
    audience: str = "anbao-api"
    #: Anbao's admin client (client credentials, only the realm-management roles it calls:
    #: ``anbao-admin`` in deploy/keycloak/anbao-realm.yaml). Production admin calls use it only.
    admin_client_id: str = "anbao-admin"
    admin_client_secret: Secret = dataclasses.field(default_factory=lambda: Secret(""))
    #: The master realm's admin: ``anbao iam apply`` and, in development without
    #: admin_client_secret, every admin call.
    admin_username: str = "admin"
    admin_password: Secret = dataclasses.field(default_factory=lambda: Secret(""))
    #: When true, ``anbao serve`` refuses to start unless Keycloak answers.
    required: bool = True
    timeout_seconds: float = 3.0
    #: Anbao's own confidential client: RFC 7662 introspection for high-assurance routes.
    client_id: str = "anbao-api"
    client_secret: Secret = dataclasses.field(default_factory=lambda: Secret(""))
    #: Seconds an introspection answer is reused (never past the token's exp).
    introspection_ttl_seconds: float = 5.0
    #: ``anbao serve`` pulls the realm's login and admin events into the audit trail (one
    #: worker of the deployment at a time); needs Anbao's admin client (admin_client_secret).
    events_pull: bool = True
    #: Seconds between two pulls (Keycloak event to searchable audit event: bench/iam_events.py).
    events_interval_seconds: float = 2.0


@dataclasses.dataclass(frozen=True, slots=True)
class AuditSettings:
    store: AuditStoreKind = AuditStoreKind.SQLITE
    sqlite_path: str = _state("audit.sqlite3")
    #: Local durable spool every event is written to before shipping (see docs/audit-operations.md).
    spool_path: str = _state("audit-spool.sqlite3")
    #: always (fsync per event) | batch (group commit, fsync before ack) | interval (kill-9 safe).
    spool_fsync: FsyncPolicy = FsyncPolicy.BATCH
    spool_fsync_interval_seconds: float = 1.0
    spool_capacity_bytes: int = 1 << 30
    #: Fill ratio at which the alarm fires (log line, metric, audit.spool.alarm self-event).
    spool_alarm_ratio: float = 0.8
    #: When the spool is full: block (up to block_timeout, then 503) | fail (503 at once).
    backpressure: Backpressure = Backpressure.BLOCK
    block_timeout_seconds: float = 10.0
    #: Days events are kept; under 180 refused unless environment = development.
    retention_days: int = 365
    #: Elasticsearch index prefix (monthly indices <prefix>-yyyy.MM.01-000001).
    index_prefix: str = "anbao-audit"
    #: Record every API request (the audit middleware); paths listed here are skipped.
    record_requests: bool = True
    skip_paths: str = "/healthz,/readyz,/metrics"
    #: Ship from a child process of each worker (true) or a thread of the worker (false); either
    #: way only the holder of the spool lock ships. A process keeps the store writes, tamper-
    #: evidence leaves and SIEM streaming off the CPU that serves requests.
    ship_in_subprocess: bool = False
    #: Niceness (0-19) of that child process: under a burst the CPU goes to serving requests
    #: first while the spool absorbs the backlog; the shipper catches up when the load drops.
    shipper_nice: int = 10
    #: Delivery failing this long on end is reported once (audit.shipping.stopped self-event).
    shipping_stall_seconds: float = 60.0


@dataclasses.dataclass(frozen=True, slots=True)
class AuditIntegritySettings:
    """Tamper evidence (SM3 Merkle trees, SM2 tree heads) and field encryption of the trail."""

    #: The leaf-hash log and signed heads; keep it on another volume than the events. Not used
    #: in a cluster: the log every node shares is in cluster.database_url.
    log_path: str = _state("audit-integrity.sqlite3")
    #: SM2 PKCS#8 PEM key that signs tree heads (generated in development when missing).
    signing_key_file: str = _state("audit-sth-key.pem")
    signing_key_password: Secret = dataclasses.field(default_factory=lambda: Secret(""))
    #: Comma-separated PEM public keys of earlier signing keys, still trusted by verify.
    trusted_key_files: str = ""
    head_every_events: int = 1000
    head_every_seconds: float = 60.0
    #: SM4 keyring for sensitive fields: {"active": id, "keys": {id: base64}} (mode 0600).
    field_keyring_file: str = _state("audit-field-keys.json")


@dataclasses.dataclass(frozen=True, slots=True)
class ElasticsearchSettings:
    #: One node's URL, or several nodes' of one cluster, comma-separated: requests go to the
    #: live ones, and a request that meets a connection error is retried on another.
    url: str = "http://127.0.0.1:9200"
    username: str = "anbao"
    password: Secret = dataclasses.field(default_factory=lambda: Secret(""))
    ca_file: str = ""
    timeout_seconds: float = 5.0
    #: Retries of a request after a connection error or a 502/503/504 (another node, if any).
    max_retries: int = 2


@dataclasses.dataclass(frozen=True, slots=True)
class SealVerifySettings:
    # Trust material of POST /seals/verify (PEM bundles or DER); empty: chains are indeterminate.
    trust_roots_file: str = ""
    intermediates_file: str = ""
    # Comma-separated CRL files, re-read when they change.
    crl_files: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class SealSettings:
    """The seal registry: lifecycle service, seal CA, key store and TSA (docs/seal-registry.md)."""

    enabled: bool = False
    #: sqlite:///path (default) or postgresql://user:password@host/db (psycopg 3).
    database_url: Secret = dataclasses.field(
        default_factory=lambda: Secret("sqlite:///seals.sqlite3"), metadata={"state": True}
    )
    #: Key-encryption keys of the software key store: "id:base64[,id:base64...]", first active.
    kek: Secret = dataclasses.field(default_factory=lambda: Secret(""))
    #: Embed an RFC 3161 token from Anbao's own TSA in every seal signature; serve POST /tsa.
    tsa_enabled: bool = True
    #: O= of the CA's own certificates.
    organization: str = "Anbao"
    #: Public URL of GET /seals/ca/crl, written into holder certificates (CRL distribution point).
    crl_url: str = ""
    crl_next_update_hours: float = 24.0
    #: Run the Alembic migrations at start-up; when false, refuse a database not at head.
    auto_migrate: bool = True


@dataclasses.dataclass(frozen=True, slots=True)
class SiemSettings:
    """Alerts, notifications and response actions (docs/siem-alerts.md)."""

    alert_store: AlertStoreKind = AlertStoreKind.SQLITE
    #: Alerts and response actions (embedded store); actions stay here with either alert store.
    alert_sqlite_path: str = _state("siem-alerts.sqlite3")
    alert_index: str = "anbao-siem-alerts"
    #: Same rule + entity within this many seconds (event time) -> one alert with a count.
    suppression_window_seconds: int = 3600
    #: Public base URL of this API, used in links sent by webhook and mail.
    public_url: str = ""
    #: Lowest severity that is notified (informational, low, medium, high, critical).
    notify_min_severity: str = "medium"
    webhook_url: str = ""
    #: HMAC-SM3 key of the webhook signature (required with webhook_url).
    webhook_secret: Secret = dataclasses.field(default_factory=lambda: Secret(""))
    webhook_max_attempts: int = 5
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_username: str = ""
    smtp_password: Secret = dataclasses.field(default_factory=lambda: Secret(""))
    #: PEM CA bundle for the SMTP server's certificate (empty: system trust store).
    smtp_ca_file: str = ""
    smtp_from: str = ""
    #: Comma-separated recipients.
    smtp_to: str = ""
    #: Identity and seal response actions (Keycloak admin credentials from [keycloak]).
    responses_enabled: bool = True
    #: Minutes to first triage per severity, for the compliance report.
    triage_sla: str = "critical=15,high=60,medium=240,low=1440,informational=4320"
    #: Run the streaming detection engine on the audit shipper's deliveries (docs/siem-rules.md).
    streaming: bool = True
    #: Extra Sigma rule files or directories (comma-separated), loaded with the built-in pack.
    rules_path: str = ""
    #: The platform's working hours for rules with ``x-anbao-outside-hours`` (admin_off_hours),
    #: e.g. ``tz=+08:00;start=8;end=19;days=1,2,3,4,5``; empty: each rule's own.
    working_hours: str = ""

    def working_hours_spec(self) -> dict[str, object] | None:
        """``working_hours`` parsed into the rule field's form (``tz``, ``start``, ``end``,
        ``days``), or None; raises :class:`SettingsError` on anything else."""
        if not self.working_hours.strip():
            return None
        name = "siem.working_hours"
        spec: dict[str, object] = {}
        for item in self.working_hours.split(";"):
            key, _, value = (part.strip() for part in item.partition("="))
            if key == "tz" and re.fullmatch(r"[+-](0\d|1[0-4]):[0-5]\d", value):
                spec[key] = value
            elif key in ("start", "end") and re.fullmatch(r"[01]?\d|2[0-4]", value):
                spec[key] = int(value)
            elif key == "days" and re.fullmatch(r"[1-7](,[1-7])*", value):
                spec[key] = [int(d) for d in value.split(",")]
            else:
                raise SettingsError(
                    name, f"expected tz=+08:00;start=8;end=19;days=1,2,3,4,5, got {item!r}"
                )
        return spec

    def sla_minutes(self) -> dict[str, int]:
        """``triage_sla`` parsed: severity -> minutes."""
        out: dict[str, int] = {}
        for item in self.triage_sla.split(","):
            name, _, minutes = item.strip().partition("=")
            if not minutes.strip().isdigit():
                raise SettingsError("siem.triage_sla", f"expected severity=minutes, got {item!r}")
            out[name.strip()] = int(minutes)
        return out


@dataclasses.dataclass(frozen=True, slots=True)
class ComplianceSettings:
    """MLPS 2.0 / GB/T 39786 checks and signed reports (docs/compliance.md)."""

    enabled: bool = True
    #: Runs, waivers and issued reports (SQLAlchemy URL; sqlite:///path by default).
    database_url: str = _state("sqlite:///compliance.sqlite3")
    #: Hours between scheduled runs inside the server; 0 = on demand only.
    schedule_hours: float = 0.0
    #: SM2 PKCS#8 PEM key that signs issued reports (empty: sign-off is refused).
    signing_key_file: str = ""
    signing_key_password: Secret = dataclasses.field(default_factory=lambda: Secret(""))
    #: X.509 certificate (PEM/DER) of the signing key: its subject, serial and issuer are printed
    #: in the report's signature block (empty: the block shows the public key only).
    signing_cert_file: str = ""
    #: The assessed system, as the MLPS report's cover names it (定级备案 facts).
    system_name: str = "云南省一网通办安全保障平台"
    organisation: str = "云南省数据局"
    #: MLPS protection level (等级保护级别) 1..5; the catalogue assesses level 3.
    mlps_level: int = 3
    #: 备案编号 given by the public-security filing office (empty: the cover says 未备案).
    filing_number: str = ""
    #: TrueType font with Chinese glyphs for the PDF report (Debian fonts-wqy-zenhei).
    pdf_font_file: str = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
    #: Realm assessed (empty: keycloak.realm).
    realm: str = ""
    #: Optional report seal (GB/T 38540): the seal (.esl), its holder's SM2 key and certificate.
    seal_file: str = ""
    seal_key_file: str = ""
    seal_key_password: Secret = dataclasses.field(default_factory=lambda: Secret(""))
    seal_cert_file: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class ConsoleSettings:
    """The web console at ``/console/`` (docs/console.md): a backend-for-frontend client."""

    enabled: bool = True
    #: The realm's confidential client the console signs people in with (anbao-realm.yaml).
    client_id: str = "anbao-console-web"
    client_secret: Secret = dataclasses.field(default_factory=lambda: Secret(""))
    #: The base URL browsers reach Anbao at (https in production); default: the listen address.
    public_url: str = ""
    #: Server-side sessions (tokens SM4-GCM encrypted under the key file, made when missing).
    session_path: str = _state("console-sessions.sqlite3")
    session_key_file: str = _state("console-session.key")
    #: Shown next to every time; the province's zone.
    timezone: str = "Asia/Shanghai"


@dataclasses.dataclass(frozen=True, slots=True)
class ClusterSettings:
    """Several Anbao nodes sharing PostgreSQL and Elasticsearch (docs/operations.md).

    Empty ``database_url`` (the default) is the single-machine deployment: every store is the
    embedded one under ``data_dir``. Set, it is the PostgreSQL database that holds what more than
    one node reads (the integrity log and signed heads, saved searches, response actions, the
    Keycloak event cursor, console sessions, the singleton-job leases); the audit trail and
    alerts must then be in Elasticsearch, and seals and compliance in PostgreSQL. The spool stays
    on the node: it is the node's buffer and drains into the cluster.
    """

    #: This node's name (lower-case letters, digits, ``-``): its audit streams are
    #: ``<stream>.<node_id>``, so each node numbers its own events without asking the others.
    node_id: str = ""
    #: postgresql://user:password@host/db (psycopg 3) of the shared state; empty = one machine.
    database_url: Secret = dataclasses.field(default_factory=lambda: Secret(""))

    @property
    def clustered(self) -> bool:
        return bool(self.database_url)


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    environment: Environment = Environment.DEVELOPMENT
    #: Where state lives (empty: :func:`default_data_dir`); absolute once loaded.
    data_dir: str = ""
    server: ServerSettings = dataclasses.field(default_factory=ServerSettings)
    keycloak: KeycloakSettings = dataclasses.field(default_factory=KeycloakSettings)
    audit: AuditSettings = dataclasses.field(default_factory=AuditSettings)
    elasticsearch: ElasticsearchSettings = dataclasses.field(default_factory=ElasticsearchSettings)
    audit_integrity: AuditIntegritySettings = dataclasses.field(
        default_factory=AuditIntegritySettings
    )
    seal_verify: SealVerifySettings = dataclasses.field(default_factory=SealVerifySettings)
    seals: SealSettings = dataclasses.field(default_factory=SealSettings)
    siem: SiemSettings = dataclasses.field(default_factory=SiemSettings)
    compliance: ComplianceSettings = dataclasses.field(default_factory=ComplianceSettings)
    console: ConsoleSettings = dataclasses.field(default_factory=ConsoleSettings)
    cluster: ClusterSettings = dataclasses.field(default_factory=ClusterSettings)

    @classmethod
    def load(cls, environ: Mapping[str, str]) -> Settings:
        """Defaults, then the TOML file named by ``ANBAO_CONFIG``, then ``ANBAO_*`` variables."""
        values: dict[str, dict[str, Any]] = {}
        config = environ.get("ANBAO_CONFIG")
        if config:
            values = _read_toml(Path(config))
        for dotted in _setting_names():
            raw = environ.get(env_name(dotted))
            if raw is not None:
                section, _, name = dotted.rpartition(".")
                if section:
                    values.setdefault(section, {})[name] = raw
                else:
                    values.setdefault("", {})[name] = raw
        settings = _build(cls, values).under_data_dir()
        settings.validate()
        return settings

    def under_data_dir(self) -> Settings:
        """These settings with ``data_dir`` absolute and every relative state path under it."""
        data_dir = Path(self.data_dir).expanduser() if self.data_dir else default_data_dir()
        data_dir = data_dir.absolute()
        sections: dict[str, Any] = {}
        for top in dataclasses.fields(self):
            section = getattr(self, top.name)
            if not dataclasses.is_dataclass(section):
                continue
            changes = {
                f.name: _resolved(data_dir, getattr(section, f.name))
                for f in dataclasses.fields(section)
                if f.metadata.get("state")
            }
            if changes:
                sections[top.name] = dataclasses.replace(section, **changes)  # type: ignore[type-var]
        return dataclasses.replace(self, data_dir=str(data_dir), **sections)

    def validate(self) -> None:
        """Cross-field rules; raises :class:`SettingsError` for the first broken one."""
        _check_url("keycloak.url", self.keycloak.url)
        _check_node_urls("elasticsearch.url", self.elasticsearch.url)
        self._validate_server()
        _check_range("audit.shipper_nice", self.audit.shipper_nice, 0, 19)
        if not 0 <= self.keycloak.introspection_ttl_seconds <= 30:  # noqa: PLR2004
            raise SettingsError(  # a revoked session must stop working within seconds
                "keycloak.introspection_ttl_seconds", "must be between 0 and 30"
            )
        if not 0.1 <= self.keycloak.events_interval_seconds <= 3600:  # noqa: PLR2004
            raise SettingsError("keycloak.events_interval_seconds", "must be between 0.1 and 3600")
        if not 1 <= self.audit.shipping_stall_seconds <= 3600:  # noqa: PLR2004 - an hour at most
            raise SettingsError("audit.shipping_stall_seconds", "must be between 1 and 3600")
        _check_range(
            "audit_integrity.head_every_events", self.audit_integrity.head_every_events, 1, 1 << 30
        )
        if not self.audit_integrity.head_every_seconds > 0:
            raise SettingsError("audit_integrity.head_every_seconds", "must be positive")
        if self.audit.store is AuditStoreKind.ELASTICSEARCH and not self.elasticsearch.password:
            raise SettingsError(
                "elasticsearch.password", "required when audit.store is elasticsearch"
            )
        if self.seals.enabled and not self.seals.kek:
            raise SettingsError("seals.kek", "required when seals.enabled is true")
        if not self.seals.crl_next_update_hours > 0:
            raise SettingsError("seals.crl_next_update_hours", "must be positive")
        self._validate_siem()
        if self.console.public_url:
            _check_url("console.public_url", self.console.public_url)
        if self.console.timezone not in zoneinfo.available_timezones():
            raise SettingsError("console.timezone", f"unknown time zone {self.console.timezone!r}")
        if not self.compliance.schedule_hours >= 0:
            raise SettingsError("compliance.schedule_hours", "must be 0 (off) or positive")
        _check_range("compliance.mlps_level", self.compliance.mlps_level, 1, 5)
        self._validate_cluster()
        if self.environment is Environment.PRODUCTION:
            self._validate_production()

    def _validate_cluster(self) -> None:
        """A clustered node keeps no shared state on its own disk (deny by default)."""
        cl = self.cluster
        if cl.node_id and not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,31}", cl.node_id):
            raise SettingsError(
                "cluster.node_id", "lower-case letters, digits and '-' (32 at most)"
            )
        if not cl.clustered:
            return
        if not cl.database_url.reveal().startswith("postgresql://"):
            raise SettingsError("cluster.database_url", "must be a postgresql:// URL")
        if not cl.node_id:
            raise SettingsError("cluster.node_id", "required when cluster.database_url is set")
        shared = {
            "audit.store": self.audit.store is AuditStoreKind.ELASTICSEARCH,
            "siem.alert_store": self.siem.alert_store is AlertStoreKind.ELASTICSEARCH,
            "seals.database_url": self.seals.database_url.reveal().startswith("postgresql://"),
            "compliance.database_url": self.compliance.database_url.startswith("postgresql://"),
        }
        for name, ok in shared.items():
            if not ok:
                where = "elasticsearch" if name.endswith("store") else "a postgresql:// URL"
                raise SettingsError(name, f"must be {where} when cluster.database_url is set")
        # Keys of shared data are shared too: a node never makes its own (another node could
        # not open the sessions it seals, nor reveal the fields it encrypts).
        keys = {"audit_integrity.field_keyring_file": self.audit_integrity.field_keyring_file}
        if self.console.enabled:
            keys["console.session_key_file"] = self.console.session_key_file
        for name, path in keys.items():
            if not Path(path).is_file():
                raise SettingsError(
                    name,
                    "must exist when cluster.database_url is set (the same file on every node)",
                )

    def _validate_server(self) -> None:
        _check_range("server.port", self.server.port, 1, 65535)
        _check_range("server.workers", self.server.workers, 1, 64)
        _check_range("server.max_body_bytes", self.server.max_body_bytes, 1024, 1 << 30)
        if not 0 < self.server.body_timeout_seconds <= 3600:  # noqa: PLR2004 - an hour at most
            raise SettingsError("server.body_timeout_seconds", "must be above 0 and at most 3600")
        if self.server.log_level not in {"debug", "info", "warning", "error"}:
            raise SettingsError("server.log_level", "must be debug, info, warning or error")
        if bool(self.server.tls_cert_file) != bool(self.server.tls_key_file):
            raise SettingsError("server.tls_key_file", "TLS needs both a certificate and a key")
        for name in ("server.tls_cert_file", "server.tls_key_file"):
            path = getattr(self.server, name.split(".")[1])
            if path and not Path(path).is_file():
                raise SettingsError(name, f"file not found: {path}")

    def _validate_siem(self) -> None:
        sm = self.siem
        _check_range(
            "siem.suppression_window_seconds", sm.suppression_window_seconds, 0, 30 * 86400
        )
        _check_range("siem.webhook_max_attempts", sm.webhook_max_attempts, 1, 20)
        _check_range("siem.smtp_port", sm.smtp_port, 1, 65535)
        levels = ("informational", "low", "medium", "high", "critical")
        if sm.notify_min_severity not in levels:
            raise SettingsError("siem.notify_min_severity", f"expected one of {', '.join(levels)}")
        sm.working_hours_spec()
        if unknown := set(sm.sla_minutes()) - set(levels):
            raise SettingsError("siem.triage_sla", f"unknown severity {sorted(unknown)[0]!r}")
        if sm.webhook_url:
            _check_url("siem.webhook_url", sm.webhook_url)
            parts = urlsplit(sm.webhook_url)
            plain = parts.scheme != "https" and not is_loopback(parts.hostname or "")
            if plain and self.environment is Environment.PRODUCTION:
                raise SettingsError("siem.webhook_url", "production requires https (or loopback)")
            if not sm.webhook_secret:
                raise SettingsError("siem.webhook_secret", "required when siem.webhook_url is set")
        if sm.smtp_host and not (sm.smtp_from and sm.smtp_to):
            raise SettingsError("siem.smtp_to", "smtp_from and smtp_to are required with smtp_host")
        if sm.smtp_username and not sm.smtp_starttls:
            raise SettingsError("siem.smtp_starttls", "credentials are sent only over STARTTLS")
        if sm.alert_store is AlertStoreKind.ELASTICSEARCH and not self.elasticsearch.password:
            raise SettingsError(
                "elasticsearch.password", "required when siem.alert_store is elasticsearch"
            )

    def _validate_production(self) -> None:
        tls = bool(self.server.tls_cert_file) or self.server.behind_tls_proxy
        if not tls:
            raise SettingsError(
                "server.tls_cert_file", "production requires TLS (or server.behind_tls_proxy)"
            )
        if urlsplit(self.keycloak.url).scheme != "https":
            raise SettingsError("keycloak.url", "production requires an https Keycloak URL")
        if not self.keycloak.client_secret:
            raise SettingsError(
                "keycloak.client_secret",
                "production requires it: high-risk routes confirm the session is alive "
                "(RFC 7662 introspection as keycloak.client_id)",
            )
        if not self.keycloak.admin_client_secret:
            raise SettingsError(
                "keycloak.admin_client_secret",
                "production requires it: Anbao's admin calls are made as its service-account "
                "client (keycloak.admin_client_id), never as the master admin",
            )
        if self.console.enabled and not self.console.client_secret:
            raise SettingsError(
                "console.client_secret",
                "production requires it when console.enabled (the console's confidential client)",
            )
        if self.console.enabled and urlsplit(self.console.public_url).scheme != "https":
            raise SettingsError("console.public_url", "production requires the console's https URL")

    def console_url(self) -> str:
        """The console's base URL as browsers see it: ``console.public_url``, else the address
        the server listens on (its redirect URI and post-logout URI are built from it)."""
        if self.console.public_url:
            return self.console.public_url.rstrip("/")
        scheme = "https" if self.server.tls_cert_file else "http"
        host = "127.0.0.1" if self.server.host in ("0.0.0.0", "::") else self.server.host  # noqa: S104
        return f"{scheme}://{host}:{self.server.port}"

    def redacted(self) -> dict[str, Any]:
        """A JSON-ready view with every secret masked, for ``anbao settings`` and logs."""
        return typing.cast(dict[str, Any], _redact(dataclasses.asdict(self)))


def _resolved(data_dir: Path, value: str | Secret) -> str | Secret:
    if isinstance(value, Secret):
        return Secret(_under(data_dir, value.reveal()))
    return _under(data_dir, value)


def env_name(dotted: str) -> str:
    return "ANBAO_" + dotted.replace(".", "_").upper()


def _setting_names() -> list[str]:
    names = []
    for top in dataclasses.fields(Settings):
        hint = _hints(Settings)[top.name]
        if dataclasses.is_dataclass(hint):
            names += [f"{top.name}.{f.name}" for f in dataclasses.fields(hint)]
        else:
            names.append(top.name)
    return names


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _read_toml(path: Path) -> dict[str, dict[str, Any]]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError("config", f"ANBAO_CONFIG file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError("config", f"malformed TOML in {path}: {exc}") from None
    values: dict[str, dict[str, Any]] = {"": {}}
    for key, value in data.items():
        if isinstance(value, dict):
            values[key] = dict(value)
        else:
            values[""][key] = value
    return values


def _build(cls: type[Settings], values: dict[str, dict[str, Any]]) -> Settings:
    top_hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in values.get("", {}).items():
        if key not in top_hints or dataclasses.is_dataclass(top_hints[key]):
            raise SettingsError(key, "unknown setting")
        kwargs[key] = _coerce(key, top_hints[key], value)
    for section, items in values.items():
        if not section:
            continue
        section_cls = top_hints.get(section)
        if section_cls is None or not dataclasses.is_dataclass(section_cls):
            raise SettingsError(section, "unknown settings section")
        hints = _hints(typing.cast(type, section_cls))
        fields = {}
        for key, value in items.items():
            dotted = f"{section}.{key}"
            if key not in hints:
                raise SettingsError(dotted, "unknown setting")
            fields[key] = _coerce(dotted, hints[key], value)
        kwargs[section] = typing.cast(Any, section_cls)(**fields)
    return cls(**kwargs)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _coerce(name: str, hint: Any, value: Any) -> Any:
    """Turn a TOML or environment value into the declared type, or say which setting is wrong."""
    if isinstance(hint, types.UnionType):
        raise TypeError(hint)  # pragma: no cover - no optional settings by design
    if hint is Secret:
        return Secret(_as_str(name, value))
    if hint is bool:
        if isinstance(value, bool):
            return value
        text = _as_str(name, value).lower()
        if text in _TRUE | _FALSE:
            return text in _TRUE
        raise SettingsError(name, f"expected true or false, got {value!r}")
    if hint in (int, float):
        if isinstance(value, bool):
            raise SettingsError(name, f"expected a number, got {value!r}")
        try:
            return hint(value)
        except (TypeError, ValueError):
            raise SettingsError(name, f"expected a number, got {value!r}") from None
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(_as_str(name, value))
        except ValueError:
            allowed = ", ".join(m.value for m in hint)
            raise SettingsError(name, f"expected one of {allowed}, got {value!r}") from None
    return _as_str(name, value)


def _as_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise SettingsError(name, f"expected a string, got {type(value).__name__}")
    return value


def _check_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise SettingsError(name, f"expected an http(s) URL, got {url!r}")


def _check_node_urls(name: str, url: str) -> None:
    """One or several comma-separated node URLs of one cluster: each an http(s) URL (no query,
    fragment or credentials: those go in ``elasticsearch.username``/``password``, masked), no
    node twice, and one scheme for all (a plain-HTTP node beside TLS ones is the weak link)."""
    urls = [part.strip() for part in url.split(",")]
    for position, one in enumerate(urls, 1):
        parts = urlsplit(one)
        if parts.username is not None or parts.password is not None:  # never echoed
            raise SettingsError(name, f"node URL {position} carries credentials")
        if not one:
            raise SettingsError(name, f"node URL {position} is empty")
        _check_url(name, one)
        if parts.query or parts.fragment:
            raise SettingsError(name, f"node URL {position} has a query or fragment: {one!r}")
    if len({u.rstrip("/") for u in urls}) != len(urls):
        raise SettingsError(name, f"a node is named twice in {url!r}")
    if len({urlsplit(u).scheme for u in urls}) > 1:
        raise SettingsError(name, "all nodes must use the same scheme (http or https)")


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise SettingsError(name, f"must be between {low} and {high}, got {value}")


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, Secret):
        return "********" if value else ""
    if isinstance(value, enum.Enum):
        return value.value
    return value


def is_loopback(host: str) -> bool:
    """True for loopback addresses and ``localhost``: plain HTTP is tolerated only there."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
