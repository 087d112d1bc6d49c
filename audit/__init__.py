"""The tamper-evident audit trail: events, the durable pipeline, and the stores behind one port."""
