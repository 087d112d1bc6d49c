"""The Helm chart operators deploy (deploy/helm/anbao) lints and renders what the docs promise.

helm is the real one, built from the Go module proxy by deploy/local/helm.sh (once per machine,
cached outside the repo). Rendered manifests are parsed and checked for what matters in
production: probes on /healthz and /readyz, a PodDisruptionBudget, secrets only by reference,
resources, the spool on a per-node volume, a locked-down container. The rendered anbao.toml is
loaded by Anbao's own settings loader, so a key the chart writes that Anbao does not know fails
here rather than at a node's start. The example operator resources (Keycloak Operator, ECK) are
parsed too.
"""

from __future__ import annotations

import dataclasses
import subprocess
import tomllib
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from anbao.settings import Environment, Settings, env_name
from tests.paths import ROOT

CHART = ROOT / "deploy" / "helm" / "anbao"
EXAMPLES = ROOT / "deploy" / "helm" / "examples"
PRODUCTION = EXAMPLES / "values-production.yaml"
Manifest = dict[str, Any]


def _versions() -> dict[str, str]:
    lines = (ROOT / "deploy" / "versions.env").read_text().splitlines()
    pairs = (line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    return {key: value.strip('"') for key, value in pairs}


@pytest.fixture(scope="module")
def helm() -> str:
    # First use on a fresh machine builds helm (a few minutes on two cores); later ones reuse it.
    out = subprocess.run(
        [str(ROOT / "deploy" / "local" / "helm.sh"), "path"],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _helm(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm, *args], capture_output=True, text=True, check=False, timeout=120, cwd=ROOT
    )


def _render(helm: str, *args: str) -> list[Manifest]:
    out = _helm(helm, "template", "anbao", str(CHART), "--namespace", "anbao", *args)
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def _one(docs: list[Manifest], kind: str) -> Manifest:
    found = [doc for doc in docs if doc["kind"] == kind]
    assert len(found) == 1, f"{kind}: {len(found)} rendered"
    return found[0]


@pytest.fixture(scope="module", params=["default", "production"])
def rendered(request: pytest.FixtureRequest, helm: str) -> list[Manifest]:
    return _render(helm, *(["-f", str(PRODUCTION)] if request.param == "production" else []))


def _container(docs: list[Manifest]) -> Manifest:
    containers = _one(docs, "StatefulSet")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["anbao"]
    return typing.cast(Manifest, containers[0])


@pytest.mark.parametrize("values", [[], ["-f", str(PRODUCTION)]], ids=["default", "production"])
def test_helm_lint_strict(helm: str, values: list[str]) -> None:
    out = _helm(helm, "lint", "--strict", str(CHART), *values)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 chart(s) failed" in out.stdout


def test_chart_app_version_is_the_package_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert chart["appVersion"] == project["version"]


def test_probes_hit_healthz_and_readyz(rendered: list[Manifest]) -> None:
    container = _container(rendered)
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    port = container["ports"][0]
    assert container["livenessProbe"]["httpGet"]["port"] == port["name"]
    assert container["command"] == ["anbao", "serve"]


def test_pod_disruption_budget_selects_the_nodes(rendered: list[Manifest]) -> None:
    pdb = _one(rendered, "PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["maxUnavailable"] == 1
    pods = _one(rendered, "StatefulSet")["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pods.items()


def test_secrets_only_by_reference(rendered: list[Manifest]) -> None:
    assert not [doc for doc in rendered if doc["kind"] == "Secret"]
    env = {item["name"]: item for item in _container(rendered)["env"]}
    for name in (
        "ANBAO_KEYCLOAK_CLIENT_SECRET",
        "ANBAO_KEYCLOAK_ADMIN_CLIENT_SECRET",
        "ANBAO_ELASTICSEARCH_PASSWORD",
        "ANBAO_CLUSTER_DATABASE_URL",
    ):
        assert set(env[name]) == {"name", "valueFrom"}, name
        assert set(env[name]["valueFrom"]["secretKeyRef"]) >= {"name", "key"}
    # Every secret setting of Anbao that reaches the pod comes from a Secret, never a value.
    secret_names = {env_name(name) for name in _secret_settings()}
    assert not [n for n, item in env.items() if n in secret_names and "value" in item]
    toml = _anbao_toml(rendered)
    assert not [name for name in _secret_settings() if _lookup(toml, name) is not None]
    for doc in rendered:  # no literal credential anywhere in what is applied
        assert "postgresql://" not in yaml.safe_dump(doc)


def test_resources_scale_with_workers(rendered: list[Manifest]) -> None:
    resources = _container(rendered)["resources"]
    workers = _anbao_toml(rendered)["server"]["workers"]
    requested = int(resources["requests"]["memory"].removesuffix("Mi"))
    limit = int(resources["limits"]["memory"].removesuffix("Mi"))
    assert resources["requests"]["cpu"]
    assert requested >= 200 * workers  # the RSS target per worker, plus the node's share
    assert limit > requested


def test_spool_on_a_volume_of_each_node(rendered: list[Manifest]) -> None:
    sts = _one(rendered, "StatefulSet")
    assert not [doc for doc in rendered if doc["kind"] == "Deployment"]
    claims = {t["metadata"]["name"]: t for t in sts["spec"]["volumeClaimTemplates"]}
    mounts = {m["name"]: m["mountPath"] for m in _container(rendered)["volumeMounts"]}
    toml = _anbao_toml(rendered)
    assert mounts["data"] == toml["data_dir"]
    assert "data" in claims
    assert claims["data"]["spec"]["accessModes"] == ["ReadWriteOnce"]
    # A returning node finds its volume: not deleted on scale-down; node_id is the pod's name.
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"] == "Retain"
    env = {item["name"]: item for item in _container(rendered)["env"]}
    node_id = env["ANBAO_CLUSTER_NODE_ID"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert node_id == "metadata.name"
    # <name>-<ordinal> stays within node_id's 32 characters.
    assert len(sts["metadata"]["name"]) <= 28


def test_container_locked_down(rendered: list[Manifest]) -> None:
    pod = _one(rendered, "StatefulSet")["spec"]["template"]["spec"]
    container = _container(rendered)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    assert writable == {"/tmp", "/var/lib/anbao"}  # noqa: S108 - the pod's emptyDir, not ours


def test_service_targets_the_nodes(rendered: list[Manifest]) -> None:
    services = {doc["metadata"]["name"]: doc for doc in rendered if doc["kind"] == "Service"}
    assert set(services) == {"anbao", "anbao-nodes"}
    assert services["anbao-nodes"]["spec"]["clusterIP"] == "None"
    assert _one(rendered, "StatefulSet")["spec"]["serviceName"] == "anbao-nodes"


def test_rendered_config_is_accepted_by_anbao(rendered: list[Manifest], tmp_path: Path) -> None:
    """anbao.toml plus the pod's environment (secrets stubbed) loads as production settings."""
    text = _one(rendered, "ConfigMap")["data"]["anbao.toml"]
    # The shared key files come from the mounted Secret: stand it up in a folder of ours.
    mounts = {m["mountPath"] for m in _container(rendered)["volumeMounts"]}
    keys_dir = "/etc/anbao/keys"
    assert keys_dir in mounts
    (tmp_path / "keys").mkdir()
    for name in ("audit-field-keys.json", "audit-sth-key.pem", "console-session.key"):
        assert f'"{keys_dir}/{name}"' in text
        (tmp_path / "keys" / name).write_text("stub")
    config = tmp_path / "anbao.toml"
    config.write_text(text.replace(keys_dir, str(tmp_path / "keys")))
    environ = {"ANBAO_CONFIG": str(config), "ANBAO_CLUSTER_NODE_ID": "anbao-0"}
    for item in _container(rendered)["env"]:
        if "secretKeyRef" in item.get("valueFrom", {}):
            name = item["name"]
            url = name.endswith("_DATABASE_URL")
            environ[name] = "postgresql://anbao:stub@db.invalid/anbao" if url else "stub"
    settings = Settings.load(environ)
    assert settings.environment is Environment.PRODUCTION
    assert settings.cluster.clustered
    assert settings.audit.spool_path.startswith("/var/lib/anbao/")
    assert settings.server.port == _container(rendered)["ports"][0]["containerPort"]


def test_several_nodes_need_the_cluster(helm: str) -> None:
    out = _helm(
        helm, "template", "anbao", str(CHART), "--set", "cluster.enabled=false"
    )  # replicaCount 2 by default
    assert out.returncode != 0
    assert "cluster.enabled" in out.stderr


def test_production_values_wire_eck_and_keycloak(helm: str) -> None:
    docs = _render(helm, "-f", str(PRODUCTION))
    toml = _anbao_toml(docs)
    assert toml["elasticsearch"]["url"].startswith("https://anbao-audit-es-http.")
    assert toml["elasticsearch"]["ca_file"] == "/etc/anbao/es-ca/ca.crt"
    volumes = {
        v["name"]: v for v in _one(docs, "StatefulSet")["spec"]["template"]["spec"]["volumes"]
    }
    assert volumes["es-ca"]["secret"]["secretName"] == "anbao-audit-es-http-certs-public"
    assert toml["keycloak"]["url"].startswith("https://")
    assert _one(docs, "NetworkPolicy")["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_example_operator_resources() -> None:
    versions = _versions()
    keycloak = list(_documents(EXAMPLES / "keycloak.yaml"))
    kc = next(doc for doc in keycloak if doc["kind"] == "Keycloak")
    assert kc["apiVersion"] == "k8s.keycloak.org/v2beta1"
    assert kc["spec"]["instances"] == 2
    assert kc["spec"]["image"].endswith(":" + versions["KEYCLOAK_VERSION"])
    assert {"usernameSecret", "passwordSecret"} <= set(kc["spec"]["db"])
    assert kc["spec"]["http"]["tlsSecret"]
    options = {o["name"]: o["value"] for o in kc["spec"]["additionalOptions"]}
    assert options["health-enabled"] == options["metrics-enabled"] == "true"
    search = list(_documents(EXAMPLES / "elasticsearch.yaml"))
    es = next(doc for doc in search if doc["kind"] == "Elasticsearch")
    assert es["apiVersion"] == "elasticsearch.k8s.elastic.co/v1"
    assert es["spec"]["version"] == versions["ELASTICSEARCH_VERSION"]
    assert sum(node_set["count"] for node_set in es["spec"]["nodeSets"]) == 3
    roles = yaml.safe_load(
        next(d for d in search if d["kind"] == "Secret")["stringData"]["roles.yml"]
    )
    assert set(roles) == {"anbao"}


def _documents(path: Path) -> Iterator[Manifest]:
    yield from (doc for doc in yaml.safe_load_all(path.read_text()) if doc)


def _anbao_toml(docs: list[Manifest]) -> dict[str, Any]:
    return tomllib.loads(_one(docs, "ConfigMap")["data"]["anbao.toml"])


def _secret_settings() -> list[str]:
    """Dotted names of every setting Anbao types as a secret."""
    hints = typing.get_type_hints(Settings)
    names = []
    for top in dataclasses.fields(Settings):
        section = hints[top.name]
        if dataclasses.is_dataclass(section):
            types = typing.get_type_hints(section)
            names += [
                f"{top.name}.{f.name}"
                for f in dataclasses.fields(section)
                if types[f.name].__name__ == "Secret"
            ]
    return names


def _lookup(toml: dict[str, Any], dotted: str) -> object:
    section, _, name = dotted.partition(".")
    return toml.get(section, {}).get(name)


def test_migration_job_runs_before_the_nodes(helm: str, tmp_path: Path) -> None:
    docs = _render(helm, "-f", str(PRODUCTION), "--set", "migrations.job.enabled=true")
    hooks = [d for d in docs if "helm.sh/hook" in d["metadata"].get("annotations", {})]
    assert {d["kind"] for d in hooks} == {"ConfigMap", "Job"}
    for hook in hooks:
        assert hook["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    job = next(d for d in hooks if d["kind"] == "Job")["spec"]["template"]["spec"]
    assert [c["command"] for c in job["containers"]] == [["anbao", "seal", "db", "upgrade"]]
    assert job["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
    # The nodes no longer migrate at start; the Job's copy of anbao.toml is the nodes' own.
    nodes = next(d for d in docs if d["kind"] == "ConfigMap" and d not in hooks)
    hook_config = next(d for d in hooks if d["kind"] == "ConfigMap")
    assert tomllib.loads(nodes["data"]["anbao.toml"])["seals"]["auto_migrate"] is False
    assert hook_config["data"] == nodes["data"]


@pytest.mark.parametrize(
    "setting",
    [
        "config.elasticsearch.password=x",
        "config.keycloak.client_secret=x",
        "config.cluster.database_url=postgresql://a:b@c/d",
        "secretEnv.ANBAO_SIEM_WEBHOOK_SECRET.secret=only-a-name",  # no key
    ],
)
def test_secret_values_are_refused(helm: str, setting: str) -> None:
    out = _helm(helm, "template", "anbao", str(CHART), "--set", setting)
    assert out.returncode != 0
    assert "schema" in out.stderr
