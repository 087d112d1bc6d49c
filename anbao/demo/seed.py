"""``anbao dev seed``: a populated development platform, through the platform's own services.

The org tree and the people go through :class:`iam.orgs.service.OrgService` (as the operator),
the app through :class:`iam.apps.service.AppService` (owned by the demo developer), so every
rule those services enforce (GB/T 2260 placement, credit codes, bindings, OTP for
administrators) holds for the demo data too. Only the people's fixed development credentials are
set directly with the Keycloak admin client (there is no API that sets a chosen password).

Idempotent: what exists is left as it is (a person's password is never reset, the seal KEK never
replaced: seals made with it must stay usable), and the report says what was created.
Refused in production.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from anbao.demo import data, samples
from anbao.settings import Environment, Settings
from audit.integrity.setup import load_signing_key
from crypto.keystore import KekRing
from crypto.pki import issue_certificate, make_root_ca, parse_name
from crypto.sm2 import PrivateKey
from iam.apps.model import parse_registration
from iam.apps.service import AppService
from iam.errors import Conflict
from iam.orgs.keycloak import KeycloakOrgDirectory
from iam.orgs.model import OrgNode, Person, PersonDraft
from iam.orgs.service import OrgService
from iam.tokens.model import Principal

OPERATOR = "anbao-dev-seed"


class DemoRefused(Exception):
    """Demo data is for development: production settings refuse it (exit 2 at the CLI)."""


@dataclasses.dataclass
class SeedReport:
    """One line per thing seeded: ``created …`` or ``exists  …``."""

    lines: list[str] = dataclasses.field(default_factory=list)
    created: int = 0

    def note(self, made: bool, what: str) -> None:
        self.lines.append(("created " if made else "exists  ") + what)
        self.created += made


@dataclasses.dataclass(frozen=True)
class DemoFiles:
    """Where the development keys, settings and samples live: ``data_dir``/demo."""

    root: Path

    @property
    def config(self) -> Path:
        """Settings that turn seals and report sign-off on (``ANBAO_CONFIG``)."""
        return self.root / "anbao.toml"

    @property
    def report_key(self) -> Path:
        return self.root / "report-signing-key.pem"

    @property
    def report_cert(self) -> Path:
        """The report key's certificate (its subject is printed in the report's signature block)."""
        return self.root / "report-signing-cert.pem"

    @property
    def seal_picture(self) -> Path:
        return self.root / "seal.png"

    @property
    def samples(self) -> Path:
        return self.root / "samples"


def demo_files(settings: Settings) -> DemoFiles:
    return DemoFiles(Path(settings.data_dir) / "demo")


def refuse_production(settings: Settings) -> None:
    if settings.environment is Environment.PRODUCTION:
        raise DemoRefused("demo data is for development only; refused: environment is production")


def seed(settings: Settings, directory: KeycloakOrgDirectory, apps: AppService) -> SeedReport:
    """Seed the realm of ``directory`` and ``apps``, and ``data_dir``/demo."""
    refuse_production(settings)
    report = SeedReport()
    orgs = OrgService(directory, operator=True)
    nodes: dict[str, OrgNode] = {}
    for spec in data.NODES:
        nodes[spec.key] = _node(orgs, spec, nodes, report)
    people = {p.username: _person(orgs, directory, p, nodes, report) for p in data.PEOPLE}
    _app(apps, people[data.APP.owner], report)
    _files(settings, report)
    return report


def _node(
    orgs: OrgService, spec: data.DemoNode, nodes: dict[str, OrgNode], report: SeedReport
) -> OrgNode:
    found = orgs.directory.find_node(spec.code)
    if found is None:
        parent = nodes[spec.parent].id if spec.parent else None
        found = orgs.create_node(
            OPERATOR, parent_id=parent, kind=spec.kind, code=spec.code, name=spec.name
        )
        report.note(True, f"org node {spec.code} {spec.name}")
    else:
        report.note(False, f"org node {spec.code} {found.name}")
    return found


def _person(
    orgs: OrgService,
    directory: KeycloakOrgDirectory,
    spec: data.DemoPerson,
    nodes: dict[str, OrgNode],
    report: SeedReport,
) -> Person:
    person = directory.find_person(spec.username)
    made = person is None
    if person is None:
        draft = PersonDraft(
            spec.username, spec.family_name, spec.given_name, f"{spec.username}@example.test"
        )
        person = orgs.create_person(OPERATOR, draft, [nodes[spec.member_of].id])
        # Credentials before the role: an administrator with an authenticator already is not
        # sent to OTP enrolment (iam.orgs.keycloak requires it of administrators without one).
        _set_credentials(directory, person)
    bind = nodes[spec.bound_to] if spec.bound_to else None
    if spec.role not in person.roles or (bind is not None and person.admin_node != bind.id):
        person = orgs.grant_role(OPERATOR, person.id, spec.role, bind.id if bind else None)
        made = True
    report.note(made, f"person {spec.username} ({spec.role})")
    return person


def _set_credentials(directory: KeycloakOrgDirectory, person: Person) -> None:
    """The fixed development password (not temporary) and authenticator (RFC 6238)."""
    admin, uid = directory.admin, person.id
    admin.request(
        "PUT",
        f"/users/{uid}/reset-password",
        json={"type": "password", "value": data.PASSWORD, "temporary": False},
    )
    user = admin.json(f"/users/{uid}")
    user["credentials"] = [
        {
            "type": "otp",
            "userLabel": "anbao dev seed",
            "secretData": json.dumps({"value": data.OTP_SECRET}),
            "credentialData": json.dumps(
                {
                    "subType": "totp",
                    "digits": 6,
                    "counter": 0,
                    "period": 30,
                    "algorithm": "HmacSHA1",
                }
            ),
        }
    ]
    admin.request("PUT", f"/users/{uid}", json=user)


def _app(apps: AppService, owner: Person, report: SeedReport) -> None:
    app = data.APP
    caller = Principal(
        subject=owner.id,
        username=owner.username,
        client_id=OPERATOR,
        roles=frozenset({"app-developer"}),
        scopes=frozenset(),
        acr="",
        org_path=owner.org_path,
        expires_at=2**62,
        claims={},
    )
    registration = parse_registration(
        {
            "client_id": app.client_id,
            "name": app.name,
            "type": "public",
            "redirect_uris": [app.redirect_uri],
            "roles": [app.role],
        }
    )
    try:
        apps.register(caller, registration)
        made = True
    except Conflict:  # seeded before, or registered by hand (then it keeps its owner)
        made = False
    report.note(made, f"app {app.client_id} (role {app.role}, owner {owner.username})")


def _files(settings: Settings, report: SeedReport) -> None:
    files = demo_files(settings)
    files.samples.mkdir(parents=True, exist_ok=True)
    made = not files.report_key.exists()
    key = load_signing_key(files.report_key, "", create=True)
    report.note(made, f"report signing key {files.report_key}")
    made = not files.report_cert.exists()
    if made:
        files.report_cert.write_bytes(_report_certificate(key))
    report.note(made, f"report signing certificate {files.report_cert}")
    made = not files.config.exists()
    if made:
        _write_secret(files.config, _config(files))
    report.note(made, f"settings {files.config} (seals and report sign-off on)")
    font = settings.compliance.pdf_font_file
    picture = samples.seal_png("昆明市五华区数据局", "电子印章演示", font)
    report.note(_write_once(files.seal_picture, picture), f"seal picture {files.seal_picture}")
    for name, (title, lines) in data.SAMPLE_DOCUMENTS.items():
        path = files.samples / name
        report.note(_write_once(path, samples.text_ofd(title, lines)), f"sample OFD {path}")


def _config(files: DemoFiles) -> str:
    kek = KekRing.generate_entry("demo")
    return (
        "# Written by `anbao dev seed`: development keys only, never for production.\n"
        "[seals]\nenabled = true\n"
        f"kek = {json.dumps(kek)}\n\n"
        "[compliance]\n"
        f"signing_key_file = {json.dumps(str(files.report_key))}\n"
        f"signing_cert_file = {json.dumps(str(files.report_cert))}\n"
        f"system_name = {json.dumps(data.REPORT_COVER.system_name, ensure_ascii=False)}\n"
        f"organisation = {json.dumps(data.REPORT_COVER.organisation, ensure_ascii=False)}\n"
        f"mlps_level = {data.REPORT_COVER.mlps_level}\n"
        f"filing_number = {json.dumps(data.REPORT_COVER.filing_number)}\n"
    )


def _report_certificate(key: PrivateKey) -> bytes:
    """A development certificate for the report key, issued by a throw-away demo CA whose key
    is not kept (so nothing else can be issued under it): the signature block shows a subject,
    serial and issuer as a real deployment's would."""
    now = datetime.now(UTC)
    ca_key = PrivateKey.generate()
    ca = make_root_ca(ca_key, parse_name(data.REPORT_COVER.ca_subject), now=now, days=3650)
    cert = issue_certificate(ca, ca_key, subject=parse_name(data.REPORT_COVER.officer_subject),
                             public_key=key.public_key().to_bytes(), now=now, days=730,
                             key_usage=frozenset({"digital_signature", "non_repudiation"}))  # fmt: skip
    return cert.pem()


def _write_secret(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def _write_once(path: Path, content: bytes) -> bool:
    """Writes ``content`` unless the file exists; True when written."""
    if path.exists():
        return False
    path.write_bytes(content)
    return True
