"""One Prefect server for the whole test session (facts.md: far faster than a temporary server per
flow run). Flows run in-process and in subprocesses against it through PREFECT_API_URL. The
server is the product's own launcher (flows/serve.py `local_server`), as `smgov serve` starts it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from flows.serve import free_port, local_server

__all__ = ["PREFECT", "ROOT", "cli", "free_port", "start"]

#: the repository (prefect.yaml's folder) and this interpreter's `prefect` command
ROOT = Path(__file__).resolve().parent.parent
PREFECT = str(Path(sys.executable).parent / "prefect")


def cli(*args: str, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """`prefect ARGS` in the repository, with `env` as its whole environment."""
    return subprocess.run(
        [PREFECT, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start(home: Path, extra: dict[str, str] | None = None) -> Iterator[str]:
    """Start `prefect server start` in its own process group; yield its API URL; stop it."""
    with local_server(home, extra) as url:
        yield url
