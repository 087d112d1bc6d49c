"""Electronic seals (GB/T 38540-2020), all in one room: format, registry, seal CA, time-stamps.

Why a folder of ``crypto`` and not a package of its own: a seal is a recipe over the SM2/SM3
primitives and ``crypto.pki``, and the house style allows no new top-level package. Its
sub-rooms: ``format/`` (encode, make, sign, verify seals and OFD documents; framework-free),
``registry/`` (the lifecycle of an organisation's seals in a database), ``tsa/`` (RFC 3161
time-stamping with SM2), the seal CA (re-exported here) and ``resources`` (``POST
/seals/verify``, Falcon, imported by module). Nothing here imports another domain package:
identity and audit arrive through ports filled in by the composition root.
"""

from crypto.seals.ca import (
    CaConfig,
    CaEntity,
    CaRepository,
    CaRole,
    MemoryCaRepository,
    SealCa,
    SealCaError,
)

__all__ = [
    "CaConfig",
    "CaEntity",
    "CaRepository",
    "CaRole",
    "MemoryCaRepository",
    "SealCa",
    "SealCaError",
]
