"""SQLAlchemy adapters: seal records, wrapped keys and the CA's state in one database.

SQLite by default (development, single node), PostgreSQL in production through psycopg 3.
``replace`` is a compare-and-set on ``version``, so two admins acting on the same seal at
once cannot both win: the loser gets ``SealStateConflict`` and can re-read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from crypto.keystore_ports import WrappedKey
from crypto.pki import CertificateList, RevocationReason, RevokedCertificate
from crypto.pki.certificate import Certificate
from crypto.seals.ca import CaEntity, CaRole, SealCaError
from crypto.seals.registry import tables as t
from crypto.seals.registry.errors import SealDatabaseError, SealStateConflict
from crypto.seals.registry.model import Application, SealRecord, SealState


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _row_values(r: SealRecord) -> dict[str, Any]:
    a = r.application
    return {
        "id": r.id,
        "es_id": r.es_id,
        "state": r.state.value,
        "version": r.version,
        "org_path": a.org_path,
        "org_node_id": a.org_node_id,
        "org_name": a.org_name,
        "uscc": a.uscc,
        "name": a.name,
        "holders": list(a.holders),
        "picture_type": a.picture_type,
        "picture": a.picture,
        "width_mm": a.width_mm,
        "height_mm": a.height_mm,
        "valid_days": a.valid_days,
        "applicant": r.applicant,
        "applicant_name": r.applicant_name,
        "approver": r.approver,
        "maker": r.maker,
        "valid_start": r.valid_start,
        "valid_end": r.valid_end,
        "key_id": r.key_id,
        "cert_serial": r.cert_serial,
        "cert_der": r.cert_der,
        "seal_der": r.seal_der,
        "revoked_at": r.revoked_at,
        "revocation_reason": r.revocation_reason,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    }


def _record(row: sa.Row[Any]) -> SealRecord:
    m = row._mapping
    application = Application(
        org_path=m["org_path"],
        org_name=m["org_name"],
        uscc=m["uscc"],
        name=m["name"],
        holders=tuple(m["holders"]),
        picture_type=m["picture_type"],
        picture=bytes(m["picture"]),
        width_mm=m["width_mm"],
        height_mm=m["height_mm"],
        valid_days=m["valid_days"],
        org_node_id=m["org_node_id"],
    )
    return SealRecord(
        id=m["id"],
        es_id=m["es_id"],
        state=SealState(m["state"]),
        application=application,
        applicant=m["applicant"],
        applicant_name=m["applicant_name"],
        created_at=_aware(m["created_at"]),
        updated_at=_aware(m["updated_at"]),
        version=m["version"],
        approver=m["approver"],
        maker=m["maker"],
        valid_start=_utc(m["valid_start"]),
        valid_end=_utc(m["valid_end"]),
        key_id=m["key_id"],
        cert_serial=m["cert_serial"],
        cert_der=bytes(m["cert_der"]),
        seal_der=bytes(m["seal_der"]),
        revoked_at=_utc(m["revoked_at"]),
        revocation_reason=m["revocation_reason"],
    )


class _Sql:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def _run(self, statement: sa.Executable) -> sa.CursorResult[Any]:
        try:
            with self.engine.begin() as connection:
                return connection.execute(statement)
        except sa.exc.OperationalError as exc:
            raise SealDatabaseError("the seal registry database is unavailable") from exc

    def _rows(self, statement: sa.Executable) -> list[sa.Row[Any]]:
        try:
            with self.engine.connect() as connection:
                return list(connection.execute(statement))
        except sa.exc.OperationalError as exc:
            raise SealDatabaseError("the seal registry database is unavailable") from exc


class SqlSealRepository(_Sql):
    """``SealRepository`` on SQLAlchemy Core."""

    def add(self, record: SealRecord) -> None:
        """Insert."""
        try:
            self._run(sa.insert(t.seals).values(**_row_values(record)))
        except sa.exc.IntegrityError as exc:
            raise SealStateConflict("a seal with this id or esID exists") from exc

    def get(self, seal_id: str) -> SealRecord | None:
        """Look up by id."""
        rows = self._rows(sa.select(t.seals).where(t.seals.c.id == seal_id))
        return _record(rows[0]) if rows else None

    def replace(self, record: SealRecord, *, expected_version: int) -> None:
        """Compare-and-set on version."""
        values = _row_values(record)
        del values["id"]
        statement = (
            sa.update(t.seals)
            .where(t.seals.c.id == record.id, t.seals.c.version == expected_version)
            .values(**values)
        )
        if self._run(statement).rowcount != 1:
            raise SealStateConflict("the seal changed meanwhile; read it again")

    def find(
        self, *, org_prefix: str | None = None, state: SealState | None = None, limit: int = 100
    ) -> Sequence[SealRecord]:
        """Subtree and state filter, newest first."""
        statement = sa.select(t.seals).order_by(t.seals.c.created_at.desc()).limit(limit)
        if org_prefix is not None:
            escaped = org_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            statement = statement.where(
                sa.or_(
                    t.seals.c.org_path == org_prefix,
                    t.seals.c.org_path.like(escaped.rstrip("/") + "/%", escape="\\"),
                )
            )
        if state is not None:
            statement = statement.where(t.seals.c.state == state.value)
        return [_record(row) for row in self._rows(statement)]

    def ping(self) -> None:
        """SELECT 1."""
        self._rows(sa.select(sa.literal(1)))


class SqlWrappedKeys(_Sql):
    """``WrappedKeyRepository`` for the software key store."""

    def put(self, key: WrappedKey) -> None:
        """Upsert (delete + insert in one transaction: portable across dialects)."""
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    sa.delete(t.wrapped_keys).where(t.wrapped_keys.c.key_id == key.key_id)
                )
                connection.execute(
                    sa.insert(t.wrapped_keys).values(
                        key_id=key.key_id,
                        label=key.label,
                        kek_id=key.kek_id,
                        public_key=key.public_key,
                        blob=key.blob,
                        created_at=key.created_at,
                    )
                )
        except sa.exc.OperationalError as exc:
            raise SealDatabaseError("the seal registry database is unavailable") from exc

    def get(self, key_id: str) -> WrappedKey | None:
        """Look up."""
        rows = self._rows(sa.select(t.wrapped_keys).where(t.wrapped_keys.c.key_id == key_id))
        return self._key(rows[0]) if rows else None

    def delete(self, key_id: str) -> None:
        """Remove."""
        self._run(sa.delete(t.wrapped_keys).where(t.wrapped_keys.c.key_id == key_id))

    def all(self) -> Iterable[WrappedKey]:
        """Everything."""
        return [self._key(row) for row in self._rows(sa.select(t.wrapped_keys))]

    @staticmethod
    def _key(row: sa.Row[Any]) -> WrappedKey:
        m = row._mapping
        return WrappedKey(
            key_id=m["key_id"],
            label=m["label"],
            kek_id=m["kek_id"],
            public_key=bytes(m["public_key"]),
            blob=bytes(m["blob"]),
            created_at=_aware(m["created_at"]),
        )


class SqlCaRepository(_Sql):
    """``CaRepository`` for the seal CA."""

    def get_entity(self, role: CaRole) -> CaEntity | None:
        """Look up."""
        rows = self._rows(sa.select(t.ca_entities).where(t.ca_entities.c.role == role.value))
        if not rows:
            return None
        m = rows[0]._mapping
        return CaEntity(role, Certificate.load(bytes(m["cert_der"])), m["key_id"])

    def put_entity(self, entity: CaEntity) -> None:
        """Insert (a CA certificate is written once; a concurrent first start-up loses)."""
        try:
            self._run(
                sa.insert(t.ca_entities).values(
                    role=entity.role.value, cert_der=entity.certificate.der, key_id=entity.key_id
                )
            )
        except sa.exc.IntegrityError as exc:
            raise SealCaError("the seal CA is being set up concurrently; retry") from exc

    def add_revocation(self, issuer: CaRole, entry: RevokedCertificate) -> None:
        """First revocation of a serial stands."""
        serial = format(entry.serial_number, "x")
        found = self._rows(
            sa.select(t.ca_revocations.c.serial).where(
                t.ca_revocations.c.issuer == issuer.value, t.ca_revocations.c.serial == serial
            )
        )
        if found:
            return
        self._run(
            sa.insert(t.ca_revocations).values(
                issuer=issuer.value,
                serial=serial,
                revoked_at=entry.revoked_at,
                reason=entry.reason.value if entry.reason else "",
            )
        )

    def revocations(self, issuer: CaRole) -> list[RevokedCertificate]:
        """All entries, oldest first."""
        rows = self._rows(
            sa.select(t.ca_revocations)
            .where(t.ca_revocations.c.issuer == issuer.value)
            .order_by(t.ca_revocations.c.revoked_at)
        )
        return [
            RevokedCertificate(
                int(r._mapping["serial"], 16),
                _aware(r._mapping["revoked_at"]),
                RevocationReason(r._mapping["reason"]) if r._mapping["reason"] else None,
            )
            for r in rows
        ]

    def put_crl(self, issuer: CaRole, crl: CertificateList) -> None:
        """Keep the CRL with the highest number; an older or equal number is dropped."""
        number = crl.crl_number or 0
        where = t.ca_crls.c.issuer == issuer.value
        try:
            with self.engine.begin() as connection:
                current = connection.execute(
                    sa.select(t.ca_crls.c.crl_number).where(where).with_for_update()
                ).scalar()
                if current is None:
                    connection.execute(
                        sa.insert(t.ca_crls).values(
                            issuer=issuer.value, crl_number=number, crl_der=crl.der
                        )
                    )
                elif number > current:
                    connection.execute(
                        sa.update(t.ca_crls).where(where).values(crl_number=number, crl_der=crl.der)
                    )
        except sa.exc.IntegrityError:
            return  # a concurrent first CRL won; the caller re-checks what is stored

    def latest_crl(self, issuer: CaRole) -> CertificateList | None:
        """The stored CRL."""
        rows = self._rows(sa.select(t.ca_crls).where(t.ca_crls.c.issuer == issuer.value))
        return CertificateList.load(bytes(rows[0]._mapping["crl_der"])) if rows else None
