"""Recording: how a security-relevant fact becomes a durable event on its way to the store.

A room of its own because it is the request path: the middleware fills a small
:class:`RequestRecord`, the :class:`Recorder` appends it to the :class:`Spool` (one form, durable
per the fsync policy before the request is answered), and the :class:`Shipper` expands records
into ECS events and delivers them to the store exactly once. The Falcon middleware
(``audit.recording.middleware``) is imported by module, so importing this room loads no web
framework.
"""

from audit.recording.recorder import Recorder, current, install, record
from audit.recording.request_record import RequestRecord
from audit.recording.shipper import Shipper, spool_lock_holder
from audit.recording.spool import Spool
from audit.recording.spool_model import (
    Backpressure,
    FsyncPolicy,
    SpoolConfig,
    SpooledRecord,
    SpoolStats,
)

__all__ = [
    "Backpressure",
    "FsyncPolicy",
    "Recorder",
    "RequestRecord",
    "Shipper",
    "Spool",
    "SpoolConfig",
    "SpoolStats",
    "SpooledRecord",
    "current",
    "install",
    "record",
    "spool_lock_holder",
]
