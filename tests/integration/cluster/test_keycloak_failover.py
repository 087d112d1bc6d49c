"""kill -9 of a Keycloak node during a stream of logins through HAProxy (issue 20, item 4).

The node killed is the JGroups coordinator: the harder case, since Keycloak's split-brain check
then holds the survivor not ready for about a minute (deploy/cluster/README.md, Findings) and
HAProxy has to fall back to live nodes. What must hold, as the issue states it:

* logins go on through the other node: no login fails after one client retry (after a 1 s
  pause, keycloak_cluster.RETRY_DELAY_S), and first attempts fail for at most 5 s (the issue's target; measured with HAProxy's 1 s checks);
* sessions survive: sessions opened before the kill still refresh, and their tokens are still
  accepted by introspection (RFC 7662) and userinfo (OIDC Core §5.3);
* the node comes back (``up``) and the cluster has two members again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest

from tests.integration.cluster.keycloak_cluster import (
    KeycloakCluster,
    LoginRealm,
    LoginStream,
    script,
)

SESSIONS = 12  # people signed in before the kill
THREADS = 4  # concurrent logins in the stream
BEFORE_KILL_S = 4.0
AFTER_KILL_S = 15.0
ERROR_WINDOW_S = 5.0


@pytest.fixture
def realm(keycloak_cluster: KeycloakCluster) -> Iterator[LoginRealm]:
    made = LoginRealm.create(keycloak_cluster, people=SESSIONS)
    yield made
    made.drop()


def _sign_in(realm: LoginRealm) -> list[dict[str, str]]:
    with realm.client() as http:
        answers = [realm.login(http, person) for person in realm.people]
    assert [a.status_code for a in answers] == [200] * len(answers)
    return [a.json() for a in answers]


def _assert_sessions_alive(realm: LoginRealm, tokens: list[dict[str, str]]) -> None:
    with realm.client() as http:
        for token in tokens:
            assert realm.introspect(http, token["access_token"])["active"] is True
            assert realm.userinfo(http, token["access_token"]).status_code == 200
            refreshed = realm.refresh(http, token["refresh_token"])
            assert refreshed.status_code == 200, refreshed.text
            assert realm.introspect(http, refreshed.json()["access_token"])["active"] is True


def test_logins_and_sessions_survive_kill_of_the_coordinator(
    keycloak_cluster: KeycloakCluster,
    realm: LoginRealm,
    record_property: Callable[[str, object], None],
) -> None:
    cluster = keycloak_cluster
    sessions = _sign_in(realm)
    victim = cluster.coordinator()
    try:
        with LoginStream(realm, THREADS) as stream:
            time.sleep(BEFORE_KILL_S)
            killed_at = cluster.kill(victim)
            time.sleep(AFTER_KILL_S)
        summary = {"killed": f"kc{victim} (coordinator)", **stream.summary(killed_at)}
        record_property("keycloak_failover", json.dumps(summary))
        print("keycloak failover:", json.dumps(summary))

        # The stream ran through the kill: logins started after it and went through.
        assert summary["logins_ok_started_after_kill"] >= THREADS, summary
        assert summary["failed_after_retry"] == 0, summary
        assert summary["error_window_s"] <= ERROR_WINDOW_S, summary
        _assert_sessions_alive(realm, sessions)
    finally:
        up = script("up")
    assert up.returncode == 0, up.stderr[-4000:]
    status = script("status", timeout=60)
    assert status.returncode == 0, status.stdout
    assert "cluster formed: 2 members" in status.stdout
    assert status.stdout.count("cluster view: 2 members") == 2, status.stdout
    _assert_sessions_alive(realm, sessions)
