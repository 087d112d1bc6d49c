"""The event stores behind the :class:`audit.ports.AuditStore` port: SQLite or Elasticsearch.

A room of its own because a store is a deployment choice (``audit.store = sqlite |
elasticsearch``), not a capability: everything above the port works the same on either. Each
store is imported by module by the composition root (``audit.stores.sqlite``,
``audit.stores.elasticsearch``), so the embedded deployment never loads the Elasticsearch
client; nothing is re-exported.
"""

__all__: list[str] = []
