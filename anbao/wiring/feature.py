"""What one feature's wiring hands :func:`anbao.app.create_app`: built in full, nothing set on it
afterwards.

A wiring module builds its feature's services from settings and the parts it is given, and
returns them as a :class:`Feature`: the routes to add, the dependencies ``/readyz`` checks, and
its lifespan jobs. Threads and schedules start only in a lifespan job's ``process_startup``
(the ASGI lifespan), never while the app is built, so an app built for a test, an operator
command or the shipper child starts nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Protocol

from anbao.web.health import Dependency
from anbao.web.openapi import Api


class Lifespan(Protocol):
    """ASGI lifespan middleware (Falcon calls it at start-up and at shutdown)."""

    async def process_shutdown(self, scope: object, event: object) -> None: ...


def _no_routes(api: Api) -> None:
    del api


@dataclasses.dataclass(frozen=True, slots=True)
class Feature:
    name: str
    #: Adds the feature's routes (``resources.add_routes`` with the built services bound).
    routes: Callable[[Api], object] = _no_routes
    #: What ``/readyz`` checks for this feature (its stores).
    readiness: tuple[Dependency, ...] = ()
    #: Started and stopped with the ASGI lifespan, in this order.
    lifespan: tuple[Lifespan, ...] = ()


class OnShutdown:
    """Lifespan job that releases what a feature holds (pools, clients) at shutdown."""

    def __init__(self, close: Callable[[], object | Awaitable[object]]) -> None:
        self._close = close

    async def process_shutdown(self, scope: object, event: object) -> None:
        del scope, event
        done = self._close()
        if isinstance(done, Awaitable):
            await done
