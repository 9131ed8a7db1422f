"""`smgov serve` (every flow on its schedule, one machine), `smgov api` (the HR intake, SCIM and
the web door) and `smgov demo`; and stopping what they started."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from models.errors import CheckFailed
from smgov.cli.common import T, command, lang, open_engine, quiet_prefect
from smgov.config import load_settings

root = typer.Typer()  # smgov serve, smgov api, smgov demo


@command(root, "serve", example="smgov serve")
def serve() -> None:
    """Run every flow on its schedule and its event triggers (one machine); Ctrl-C stops it."""
    quiet_prefect()
    settings = load_settings()
    open_engine(settings).dispose()
    from flows.serve import serve_all

    try:
        serve_all(settings)
    except RuntimeError as exc:
        raise CheckFailed(f"serve: {exc}") from exc
    finally:
        stop_children()


@command(root, "api", example="smgov api --host 0.0.0.0 --port 8000")
def api(
    host: Annotated[
        str,
        typer.Option(
            "--host", metavar="ADDRESS", help="The address to listen on (0.0.0.0: every one)."
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option("--port", metavar="PORT", min=1, max=65535, help="The TCP port to listen on."),
    ] = 8000,
) -> None:
    """Serve the HR intake webhook (POST /hr/events), SCIM 2.0 (/scim/v2, with SMGOV_SCIM_TOKEN)
    and the web door (pages, /verify)."""
    import uvicorn

    from smgov.api import create_app
    from smgov.scim import scim_token

    quiet_prefect()
    settings = load_settings()
    scim_token(settings)  # a short SCIM token is refused before anything starts
    open_engine(settings).dispose()
    import signal

    def stopped(_signum: int, _frame: Any) -> None:
        raise SystemExit(0)

    # uvicorn shuts down on SIGTERM or SIGINT, then raises the signal again: to this handler,
    # so that what this process started is stopped too (not left re-parented to PID 1).
    signal.signal(signal.SIGTERM, stopped)

    class Announced(uvicorn.Server):
        """uvicorn's server, which says where it listens once it does (quiet otherwise: the
        log level is `warning`)."""

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                typer.echo(
                    T(
                        lang(),
                        "smgov api: listening on {url} (the HR intake POST /hr/events, SCIM "
                        "/scim/v2, the web pages /); Ctrl-C stops it",
                        url=f"http://{host}:{port}",
                    ),
                    err=True,
                )

    try:
        config = uvicorn.Config(create_app(settings), host=host, port=port, log_level="warning")
        Announced(config).run()
    finally:
        stop_children()


@command(root, "demo", example="smgov demo --home ./smgov-demo")
def demo(
    home: Annotated[
        str,
        typer.Option(
            "--home",
            metavar="DIR",
            help="The demo's own home: its database, mail folder and keys (never the "
            "configured ones); a home whose database holds data is refused.",
        ),
    ] = "./smgov-demo",
) -> None:
    """Tell the whole story on a fictional organization, in its own home and database."""
    from smgov.demo import run_demo

    run_demo(home)


def _children(pid: int) -> list[int]:
    """The processes `pid` started that are still running (Linux /proc; elsewhere none)."""
    import os
    from pathlib import Path

    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found.extend(int(x) for x in task.read_text().split())
        except OSError:
            continue
    return sorted(set(found) - {os.getpid()})


def stop_children(grace: float = 10.0) -> None:
    """Stop every process this one started, and theirs (Prefect's temporary server, flow runs):
    SIGTERM, then SIGKILL after `grace` seconds. None is left re-parented to PID 1."""
    import contextlib
    import os
    import signal
    import time

    tree: list[int] = []
    todo = _children(os.getpid())
    while todo:
        pid = todo.pop()
        if pid not in tree:
            tree.append(pid)
            todo.extend(_children(pid))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in tree:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                while os.waitpid(-1, os.WNOHANG)[0]:
                    pass
            if not any(Path(f"/proc/{pid}").exists() for pid in tree):
                return
            time.sleep(0.1)
