"""One Prefect server for the whole test session (facts.md: far faster than a temporary server per
flow run). Flows run in-process and in subprocesses against it through PREFECT_API_URL. The
server is the product's own launcher (flows/serve.py `local_server`), as `smgov serve` starts it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from flows.serve import free_port, local_server

__all__ = ["free_port", "start"]


def start(home: Path, extra: dict[str, str] | None = None) -> Iterator[str]:
    """Start `prefect server start` in its own process group; yield its API URL; stop it."""
    with local_server(home, extra) as url:
        yield url
