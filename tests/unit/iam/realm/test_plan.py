"""The planner: idempotent, touches only what the file manages, deletes only with prune."""

from __future__ import annotations

import copy

from iam.realm.load import load_realm_text
from iam.realm.plan import plan
from iam.realm.render import render
from iam.realm.service import converge

TEXT = """\
realm: demo
roles:
  - {name: marker}
  - {name: admin, description: Admin, composites: [marker]}
client_scopes:
  - name: api
    realm_default: default
    mappers:
      - {name: aud, type: oidc-audience-mapper, config: {included.custom.audience: api}}
identity_providers:
  - alias: partner
    config: {clientId: broker, clientSecret: s3cret, issuer: https://idp.test}
"""


def desired():
    return render(load_realm_text(TEXT))


def live_copy():
    """A live state equal to the file, plus what Keycloak adds on its own."""
    state = copy.deepcopy(desired())
    state["realm"]["demo"].update({"id": "x", "notManaged": 1})
    state["identity_provider"]["partner"]["config"].update(
        {"clientSecret": "**********", "syncMode": "LEGACY"}
    )
    state["client_scope"]["api"]["mappers"]["aud"]["config"]["extra.key"] = "kc-default"
    state["role"]["offline_access"] = {"description": "", "composites": [], "_protected": True}
    return state


def test_equal_states_plan_nothing():
    assert plan(desired(), live_copy(), prune=False) == []
    assert plan(desired(), live_copy(), prune=True) == []


def test_missing_objects_are_created_in_kind_order():
    live = live_copy()
    del live["role"]["admin"], live["identity_provider"]["partner"]
    changes = plan(desired(), live, prune=False)
    assert [(c.op, c.kind, c.name) for c in changes] == [
        ("create", "role", "admin"),
        ("create", "identity_provider", "partner"),
    ]


def test_a_drifted_setting_is_an_update_naming_the_field():
    live = live_copy()
    live["realm"]["demo"]["ssoSessionIdleTimeout"] = 7200
    (change,) = plan(desired(), live, prune=False)
    assert (change.op, change.kind, change.name) == ("update", "realm", "demo")
    assert [(f.field, f.before, f.after) for f in change.fields] == [
        ("ssoSessionIdleTimeout", 7200, 1800)
    ]
    assert change.lines()[1] == "    ssoSessionIdleTimeout: 7200 -> 1800"


def test_extras_are_reported_and_deleted_only_with_prune():
    live = live_copy()
    live["role"]["stray"] = {"description": "", "composites": []}
    live["client"]["app"] = {"_protected": True}
    kept = plan(desired(), live, prune=False)
    assert [(c.op, c.name) for c in kept] == [("extra", "stray")]
    assert not kept[0].mutates
    pruned = plan(desired(), live, prune=True)
    assert [(c.op, c.name) for c in pruned] == [("delete", "stray")]


def test_nested_extras_survive_without_prune():
    live = live_copy()
    live["role"]["admin"]["composites"] = ["marker", "granted-by-hand"]
    live["client_scope"]["api"]["mappers"]["hand-made"] = {"protocolMapper": "x", "config": {}}
    assert plan(desired(), live, prune=False) == []
    changes = plan(desired(), live, prune=True)
    fields = {(c.name, f.field): f.after for c in changes for f in c.fields}
    assert fields[("admin", "composites")] == ["marker"]
    assert "hand-made" not in fields[("api", "mappers")]


def test_a_masked_secret_is_not_a_difference_but_other_config_is():
    live = live_copy()
    live["identity_provider"]["partner"]["config"]["issuer"] = "https://other.test"
    (change,) = plan(desired(), live, prune=False)
    (field,) = change.fields
    assert field.field == "config"
    assert field.before == {
        "clientId": "broker",
        "clientSecret": "**********",
        "issuer": "https://other.test",
    }
    assert field.after["issuer"] == "https://idp.test"
    assert field.after["clientSecret"] == "**********"


class MemoryRealmAdmin:
    """The RealmAdmin port over a state dict: applying a plan makes the state equal the file."""

    def __init__(self) -> None:
        self.realm = "demo"
        self.state = None
        self.applied = []

    def exists(self):
        return self.state is not None

    def create_realm(self):
        self.state = {k: {} for k in desired()}
        self.state["realm"]["demo"] = {}

    def read(self, desired_state):
        del desired_state
        return copy.deepcopy(self.state)

    def apply(self, change, desired_state, live):
        del live
        self.applied.append((change.op, change.kind, change.name))
        if change.op == "delete":
            del self.state[change.kind][change.name]
        elif change.op == "create":
            self.state[change.kind][change.name] = copy.deepcopy(
                desired_state[change.kind][change.name]
            )
        else:
            self.state[change.kind][change.name].update({f.field: f.after for f in change.fields})


def test_converge_is_idempotent_and_dry_run_changes_nothing():
    spec = load_realm_text(TEXT)
    port = MemoryRealmAdmin()
    dry = converge(spec, port, dry_run=True, prune=False)
    assert not dry.applied
    assert port.state is None
    assert ("create", "role", "admin") in [(c.op, c.kind, c.name) for c in dry.changes]
    first = converge(spec, port, dry_run=False, prune=False)
    assert first.mutations
    assert port.applied
    second = converge(spec, port, dry_run=False, prune=False)
    assert second.changes == ()
    assert second.lines() == ["realm demo: no changes"]


def test_the_printed_diff_never_shows_a_secret():
    live = live_copy()
    live["identity_provider"]["partner"]["config"]["clientSecret"] = "old-secret"
    (change,) = plan(desired(), live, prune=False)
    text = "\n".join(change.lines())
    assert "config:" in text
    assert "s3cret" not in text
    assert "old-secret" not in text
    assert '"clientSecret": "**********"' in text
