"""Readiness: probe each dependency concurrently, report status and latency, decide 200 or 503."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from anbao.web.metrics import Metrics

Probe = Callable[[], Awaitable[None]]


@dataclasses.dataclass(frozen=True, slots=True)
class Dependency:
    name: str
    probe: Probe
    required: bool = True


class Readiness:
    def __init__(
        self, dependencies: list[Dependency], metrics: Metrics, *, timeout: float = 3.0
    ) -> None:
        self.dependencies = dependencies
        self._metrics = metrics
        self._timeout = timeout

    async def check(self) -> tuple[bool, dict[str, Any]]:
        results = await asyncio.gather(*(self._run(d) for d in self.dependencies))
        ready = all(r["status"] == "up" or not r["required"] for r in results)
        checks = {d.name: r for d, r in zip(self.dependencies, results, strict=True)}
        return ready, {"status": "ready" if ready else "not_ready", "checks": checks}

    async def _run(self, dependency: Dependency) -> dict[str, Any]:
        started = time.perf_counter()
        error: str | None = None
        try:
            await asyncio.wait_for(dependency.probe(), self._timeout)
        except TimeoutError:
            error = f"no answer within {self._timeout:g}s"
        except Exception as exc:  # noqa: BLE001 - any failure means "down"; only its kind is reported
            error = str(getattr(exc, "detail", "")) or type(exc).__name__
        latency = time.perf_counter() - started
        self._metrics.dependency_up.labels(dependency.name).set(0 if error else 1)
        self._metrics.dependency_latency.labels(dependency.name).set(latency)
        result: dict[str, Any] = {
            "status": "down" if error else "up",
            "required": dependency.required,
            "latency_ms": round(latency * 1000, 1),
        }
        if error:
            result["error"] = error
        return result


def keycloak_probe(issuer: str, client: httpx.AsyncClient) -> Probe:
    """Keycloak is ready for Anbao when the realm's discovery document is served."""
    url = issuer + "/.well-known/openid-configuration"

    async def probe() -> None:
        response = await client.get(url)
        if response.status_code != 200:  # noqa: PLR2004 - HTTP OK
            raise RuntimeError(f"realm discovery answered HTTP {response.status_code}")

    return probe


def blocking_probe(ping: Callable[[], None]) -> Probe:
    """Run a synchronous client's ping off the event loop."""

    async def probe() -> None:
        await asyncio.to_thread(ping)

    return probe
