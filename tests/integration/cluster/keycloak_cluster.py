"""Drive the two-node Keycloak cluster of deploy/cluster/keycloak.sh: realm, logins, kills.

Shared by the failover test (tests/integration/cluster/test_keycloak_failover.py) and the bench
(bench/cluster_logins.py), so both measure the same thing: a *login* is one OAuth 2.0 password
grant (RFC 6749 §4.3) on a fresh TLS connection through HAProxy, as a new person's browser or
app would make it (HAProxy passes TCP through, so a kept-alive connection would stay pinned to
one node). A client gets one retry on a connection error, a timeout or a 5xx: what a careful
client library does, and what the issue's target ("none after one client retry") allows.

Everything talks to the real cluster: the admin REST API with the bootstrap admin of the
script's ``env``, TLS verified against the cluster's local CA.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.paths import ROOT

SCRIPT = ROOT / "deploy" / "cluster" / "keycloak.sh"
NODES = (1, 2)
CLIENT_ID = "failover-app"


def script(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, check=False, timeout=timeout
    )


@dataclasses.dataclass(frozen=True)
class KeycloakCluster:
    """The cluster as ``deploy/cluster/keycloak.sh env`` describes it."""

    url: str
    ca: Path
    state: Path
    admin_username: str
    admin_password: str = dataclasses.field(repr=False)

    @classmethod
    def from_env(cls) -> KeycloakCluster:
        out = script("env", timeout=60)
        assert out.returncode == 0, out.stderr
        env = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
        return cls(
            url=env["KEYCLOAK_URL"],
            ca=Path(env["KEYCLOAK_CA"]),
            state=Path(env["KEYCLOAK_CLUSTER_STATE"]),
            admin_username=env["KEYCLOAK_ADMIN_USERNAME"],
            admin_password=env["KEYCLOAK_ADMIN_PASSWORD"],
        )

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    # --- nodes (PID files and logs of the state directory)

    def java_pid(self, node: int) -> int | None:
        """The JVM of node ``node`` (the child of the ``kc.sh`` whose PID the script keeps)."""
        try:
            parent = int((self.state / f"kc{node}.pid").read_text().strip())
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except (OSError, ValueError):
            return None
        for child in children:
            if Path(f"/proc/{child}/comm").read_text().strip() == "java":
                return int(child)
        return None

    def coordinator(self) -> int:
        """The node that is the JGroups coordinator, from Keycloak's discovery table: the
        freshest ``jgroups_ping`` row with ``coord`` set gives the coordinator's JGroups address,
        and the JVM listening there is one of the nodes. (Logs are no guide: a node's log is
        rewritten on each start.)"""
        dsn = _postgres_url().rsplit("/", 1)[0] + "/keycloak_cluster"
        with psycopg.connect(dsn) as connection:
            row = connection.execute(
                "SELECT ip FROM jgroups_ping WHERE coord ORDER BY last_update DESC LIMIT 1"
            ).fetchone()
        assert row, "no coordinator in jgroups_ping"
        port = row[0].rsplit(":", 1)[1]
        listeners = subprocess.run(
            ["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, check=True
        ).stdout
        for node in NODES:
            if f"pid={self.java_pid(node)}," in listeners:
                return node
        raise AssertionError(f"the coordinator at {row[0]} is neither node: {listeners}")

    def kill(self, node: int) -> float:
        """``kill -9`` node ``node``'s JVM; returns the monotonic time of the kill."""
        pid = self.java_pid(node)
        assert pid, f"kc{node} is not running"
        os.kill(pid, signal.SIGKILL)
        return time.monotonic()

    def haproxy(self, command: str) -> str:
        """One command on HAProxy's admin socket (e.g. ``disable server keycloak_nodes/kc2``)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(self.state / "haproxy.sock"))
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    @contextmanager
    def only_node(self, node: int) -> Iterator[None]:
        """HAProxy sends to node ``node`` only (the other stays in the cluster, idle)."""
        other = [n for n in NODES if n != node]
        servers = [f"keycloak_nodes/kc{n}" for n in other] + [
            f"keycloak_live/kc{n}-live" for n in other
        ]
        for server in servers:
            self.haproxy(f"disable server {server}")
        try:
            yield
        finally:
            for server in servers:
                self.haproxy(f"enable server {server}")


def _postgres_url() -> str:
    out = subprocess.run(
        [str(ROOT / "deploy" / "local" / "postgres.sh"), "env"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return next(
        line.split("=", 1)[1] for line in out.splitlines() if line.startswith("POSTGRES_URL=")
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (/proc/PID/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- a realm of test people


@dataclasses.dataclass(frozen=True)
class LoginRealm:
    """A throwaway realm with ``people`` users and a confidential client allowing password
    grants; made with the admin REST API through the load balancer, deleted by :meth:`drop`."""

    cluster: KeycloakCluster
    name: str
    secret: str = dataclasses.field(repr=False)
    people: tuple[str, ...]
    password: str = dataclasses.field(repr=False)

    @classmethod
    def create(cls, cluster: KeycloakCluster, people: int) -> LoginRealm:
        name = f"failover-{secrets.token_hex(4)}"
        secret, password = secrets.token_urlsafe(24), secrets.token_urlsafe(16)
        users = [f"person-{i:03d}" for i in range(people)]
        representation = {
            "realm": name,
            "enabled": True,
            "clients": [
                {
                    "clientId": CLIENT_ID,
                    "enabled": True,
                    "publicClient": False,
                    "secret": secret,
                    "directAccessGrantsEnabled": True,
                    "standardFlowEnabled": False,
                    # Keycloak 26.7 answers introspection only to a client in the audience.
                    "protocolMappers": [
                        {
                            "name": "audience",
                            "protocol": "openid-connect",
                            "protocolMapper": "oidc-audience-mapper",
                            "config": {
                                "included.client.audience": CLIENT_ID,
                                "access.token.claim": "true",
                                "introspection.token.claim": "true",
                            },
                        }
                    ],
                }
            ],
            "users": [
                {
                    "username": user,
                    "enabled": True,
                    "email": f"{user}@example.org",
                    "emailVerified": True,
                    "firstName": "Test",
                    "lastName": user,
                    "credentials": [{"type": "password", "value": password, "temporary": False}],
                }
                for user in users
            ],
        }
        realm = cls(cluster, name, secret, tuple(users), password)
        with realm._admin() as admin:
            admin.post("/admin/realms", json=representation).raise_for_status()
        return realm

    @contextmanager
    def _admin(self) -> Iterator[httpx.Client]:
        c = self.cluster
        with httpx.Client(base_url=c.url, verify=c.tls(), timeout=60) as client:
            token = client.post(
                "/realms/master/protocol/openid-connect/token",
                data={
                    "grant_type": "password",
                    "client_id": "admin-cli",
                    "username": c.admin_username,
                    "password": c.admin_password,
                },
            )
            token.raise_for_status()
            client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            yield client

    def drop(self) -> None:
        with self._admin() as admin:
            admin.delete(f"/admin/realms/{self.name}").raise_for_status()

    @property
    def oidc(self) -> str:
        return f"{self.cluster.url}/realms/{self.name}/protocol/openid-connect"

    def client(self, timeout: float = 10) -> httpx.Client:
        """A client that opens a new connection per request (no keep-alive), like a new person."""
        return httpx.Client(
            verify=self.cluster.tls(),
            timeout=timeout,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def token(self, http: httpx.Client, **form: str) -> httpx.Response:
        form = {"client_id": CLIENT_ID, "client_secret": self.secret, **form}
        return http.post(f"{self.oidc}/token", data=form)

    def login(self, http: httpx.Client, user: str) -> httpx.Response:
        return self.token(
            http, grant_type="password", username=user, password=self.password, scope="openid"
        )

    def refresh(self, http: httpx.Client, refresh_token: str) -> httpx.Response:
        return self.token(http, grant_type="refresh_token", refresh_token=refresh_token)

    def introspect(self, http: httpx.Client, token: str) -> dict[str, Any]:
        """RFC 7662 introspection, authenticated as the client."""
        answer = http.post(
            f"{self.oidc}/token/introspect", data={"token": token}, auth=(CLIENT_ID, self.secret)
        )
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def userinfo(self, http: httpx.Client, access_token: str) -> httpx.Response:
        return http.get(
            f"{self.oidc}/userinfo", headers={"Authorization": f"Bearer {access_token}"}
        )


# --- a stream of logins


@dataclasses.dataclass(frozen=True)
class Attempt:
    start: float  # monotonic
    end: float
    ok: bool
    error: str  # "" when ok: the status or the exception's class


@dataclasses.dataclass(frozen=True)
class Login:
    first: Attempt
    retry: Attempt | None

    @property
    def ok(self) -> bool:
        return self.first.ok or (self.retry is not None and self.retry.ok)


def _attempt(realm: LoginRealm, http: httpx.Client, user: str) -> Attempt:
    start = time.monotonic()
    try:
        answer = realm.login(http, user)
    except httpx.TransportError as exc:  # connection refused/reset, TLS cut, timeout
        return Attempt(start, time.monotonic(), ok=False, error=type(exc).__name__)
    ok = answer.status_code == 200 and "access_token" in answer.json()
    return Attempt(start, time.monotonic(), ok=ok, error="" if ok else str(answer.status_code))


#: A client's pause before its one retry. Retried at once, a login cut by the kill can land on
#: the dying node again: its listening socket still completes handshakes until the kernel has
#: torn the process down, and HAProxy's redispatch only helps once connections are refused
#: (seen: 1 retry of 3 lost that way). One second is an ordinary first back-off step.
RETRY_DELAY_S = 1.0


def login_with_retry(realm: LoginRealm, http: httpx.Client, user: str) -> Login:
    """One login; retried once, after :data:`RETRY_DELAY_S`, on a connection error, a timeout
    or a 5xx (not on a 4xx: a wrong password stays wrong)."""
    first = _attempt(realm, http, user)
    if first.ok or (first.error.isdigit() and int(first.error) < 500):
        return Login(first, None)
    time.sleep(RETRY_DELAY_S)
    return Login(first, _attempt(realm, http, user))


class LoginStream:
    """``threads`` threads logging people in back to back until :meth:`stop`."""

    def __init__(self, realm: LoginRealm, threads: int) -> None:
        self.realm = realm
        self.logins: list[Login] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)
        ]

    def _run(self, index: int) -> None:
        people = self.realm.people
        i = index
        with self.realm.client() as http:
            while not self._stop.is_set():
                login = login_with_retry(self.realm, http, people[i % len(people)])
                with self._lock:
                    self.logins.append(login)
                i += len(self._threads)

    def __enter__(self) -> LoginStream:
        self.started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        self.stopped = time.monotonic()

    def summary(self, killed_at: float | None = None) -> dict[str, Any]:
        """Counts, rate, and the window of first attempts that failed (seconds; from the
        start of the first failing attempt to the end of the last, and relative to the kill)."""
        logins = list(self.logins)
        failed_first = [x.first for x in logins if not x.first.ok]
        seconds = self.stopped - self.started
        result: dict[str, Any] = {
            "logins": len(logins),
            "seconds": round(seconds, 2),
            "logins_per_s": round(len(logins) / seconds, 2),
            "failed_first_attempt": len(failed_first),
            "failed_after_retry": sum(not x.ok for x in logins),
            "errors": sorted({a.error for a in failed_first}),
            "error_window_s": 0.0,
        }
        if killed_at is not None:
            result["logins_ok_started_after_kill"] = sum(
                x.ok and x.first.start > killed_at for x in logins
            )
        took = sorted(x.first.end - x.first.start for x in logins if x.first.ok)
        if took:
            result["latency_ms_p50"] = round(1000 * took[len(took) // 2])
            result["latency_ms_p95"] = round(1000 * took[int(len(took) * 0.95)])
        if failed_first:
            start = min(a.start for a in failed_first)
            end = max(a.end for a in failed_first)
            result["error_window_s"] = round(end - start, 2)
            if killed_at is not None:
                result["errors_from_s_after_kill"] = round(start - killed_at, 2)
                result["errors_until_s_after_kill"] = round(end - killed_at, 2)
        return result
