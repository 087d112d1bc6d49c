"""The pySigma processing pipeline ``anbao``: one field vocabulary for community rules and ours.

Anbao's audit documents use ECS 8.x names (``audit.model.FIELDS``); Sigma rules in the wild use
ECS, generic web-server names (``cs-uri-stem``, ``sc-status``) or the raw field names of a
Keycloak event (``type``, ``ipAddress``, ``details.username``). This pipeline maps all of them to
the names the audit store really has, so one rule text works in both engines (the streaming
matcher reads the mapped names from the document; the Elasticsearch backend puts them in the
query). Keycloak specifics that ECS has no field for live under ``labels.keycloak_*`` (see
``anbao.wiring.audit.RecorderEventSink``); the Keycloak event type (``LOGIN_ERROR``,
``REMOVE_TOTP``…) is ``labels.keycloak_type``.

Applied only to rules whose logsource is ``product: anbao`` or ``product: keycloak`` (pySigma
``LogsourceCondition``), so a Windows rule passed by mistake is left untouched (and then finds
no fields).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldMappingTransformation

from audit.model import FIELDS, FieldType

#: Products whose rules this pipeline maps (Sigma ``logsource.product``).
PRODUCTS: Final = ("anbao", "keycloak")

#: Alternative field name -> Anbao audit field. ECS names that Anbao stores as is need no entry.
FIELD_MAP: Final[Mapping[str, str]] = {
    # ECS / common aliases
    "client.ip": "source.ip",
    "client.address": "source.ip",
    "source.address": "source.ip",
    "src_ip": "source.ip",
    "c-ip": "source.ip",
    "user": "user.name",
    "username": "user.name",
    "user.target.name": "resource.name",
    "url.original": "url.path",
    "cs-uri-stem": "url.path",
    "cs-method": "http.request.method",
    "sc-status": "http.response.status_code",
    "c-useragent": "user_agent.original",
    "organization.id": "organization.path",
    "message": "event.reason",
    # Keycloak event representation (``/admin/realms/{realm}/events``, admin-events)
    "type": "labels.keycloak_type",
    "keycloak.type": "labels.keycloak_type",
    "ipAddress": "source.ip",
    "userId": "user.id",
    "details.username": "user.name",
    "clientId": "labels.keycloak_client_id",
    "keycloak.client_id": "labels.keycloak_client_id",
    "realmId": "labels.keycloak_realm",
    "keycloak.realm": "labels.keycloak_realm",
    "error": "event.reason",
    "resourceType": "labels.keycloak_resource_type",
    "keycloak.resource_type": "labels.keycloak_resource_type",
    "resourcePath": "labels.keycloak_resource_path",
    "keycloak.resource_path": "labels.keycloak_resource_path",
    "operationType": "labels.keycloak_operation",
}


def anbao_pipeline() -> ProcessingPipeline:
    """The ``anbao`` pipeline (priority 10: runs before any backend pipeline)."""
    conditions = [LogsourceCondition(product=p) for p in PRODUCTS]
    mapping: dict[str | None, str | list[str]] = dict(FIELD_MAP.items())
    return ProcessingPipeline(
        name="anbao",
        priority=10,
        items=[
            ProcessingItem(
                identifier="anbao_field_mapping",
                transformation=FieldMappingTransformation(mapping),
                rule_conditions=list(conditions),
                rule_condition_linking=any,
            ),
        ],
    )


def elasticsearch_pipeline() -> ProcessingPipeline:
    """Backend pipeline of the scheduled engine: text fields are matched on their ``.keyword``
    sub-field (the audit index template gives every text field one), so a Sigma value compares
    with the whole stored value, as Sigma specifies, instead of with analysed words
    (``event.reason: seal_forbidden`` must not match ``seal_state_conflict``)."""
    keyword: dict[str | None, str | list[str]] = {
        name: f"{name}.keyword" for name, spec in FIELDS.items() if spec.type is FieldType.TEXT
    }
    return ProcessingPipeline(
        name="anbao-elasticsearch",
        priority=20,
        items=[
            ProcessingItem(
                identifier="anbao_text_as_keyword",
                transformation=FieldMappingTransformation(keyword),
            )
        ],
    )


__all__ = ["FIELD_MAP", "PRODUCTS", "anbao_pipeline", "elasticsearch_pipeline"]
