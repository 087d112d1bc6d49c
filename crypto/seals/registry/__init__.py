"""The seal registry: the lifecycle of issued e-seals, from application to revocation.

Why here and under this name: the house style allows no new top-level package, and ``crypto``
is where the seal recipes live; ``crypto.seals.format`` is the GB/T 38540 *format* (encode, make,
sign, verify), while this package is the *registry* of seals an organisation holds — a
database of applications and states, the CA and key store behind them, and who may do what.
It depends on ``crypto.seals.format``, ``crypto.seals.ca`` and ``crypto.keystore``, never the reverse,
and on no other domain package: identity arrives as an :class:`~.model.Actor` built by the
composition root, and audit events leave through the :class:`~.ports.AuditTrail` port.

States (issue 6 §3): applied → approved (approver ≠ applicant) → made → active ⇄ suspended
→ revoked, and expired once the validity window has passed.
"""
