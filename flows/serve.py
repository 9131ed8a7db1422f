"""`smgov serve`: every flow on its schedule and its event triggers, for one machine.

Prefect's temporary server runs no scheduler, so `serve` uses the Prefect server named by
PREFECT_API_URL, or starts a local one (`prefect server start` on 127.0.0.1, its database under
SMGOV_HOME) and stops it on exit. The schedules are the ones prefect.yaml deploys.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from models.settings import Settings

REMINDERS_CRON = "0 6 * * *"
REASSESSMENT_CRON = "30 5 * * *"
TIMEZONE = "Europe/Zurich"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=3) as answer:  # noqa: S310
            return bool(answer.status == 200)
    except OSError:
        return False


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def local_server(home: Path, extra: dict[str, str] | None = None) -> Iterator[str]:
    """`prefect server start` on a free loopback port, its database and log under `home`, in its
    own process group (stopped whole on exit: SIGTERM, then SIGKILL after 30 s); yields its API
    URL once it answers. `smgov serve`, the test session and the benchmark all start it here."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        **(extra or {}),
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_UI_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL", None)  # the server itself never talks to another one
    prefect = Path(sys.executable).parent / "prefect"
    log_path = home / "server.log"
    log = log_path.open("ab")
    proc = subprocess.Popen(  # noqa: S603 (our own interpreter's prefect, fixed arguments)
        [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while not _answers(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the local Prefect server did not start; see {log_path}")
            time.sleep(0.5)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@contextlib.contextmanager
def prefect_server(settings: Settings) -> Iterator[str]:
    """The Prefect API to serve against: PREFECT_API_URL if it answers, else a local server
    started here (its database under SMGOV_HOME) and stopped, with its whole process group, on
    exit."""
    given = os.environ.get("PREFECT_API_URL")
    if given:
        if not _answers(given):
            raise RuntimeError(f"PREFECT_API_URL={given} does not answer")
        yield given
        return
    with local_server(settings.home_dir / "prefect-server") as url:
        os.environ["PREFECT_API_URL"] = url
        yield url


def deployments() -> list[Any]:
    """The same deployments prefect.yaml declares, for `serve()`."""
    from prefect.events import DeploymentEventTrigger
    from prefect.schedules import Cron

    from flows.approval import approval
    from flows.inventory import inventory
    from flows.reassessment import reassessment
    from flows.reminders import reminders
    from flows.separation import separation

    reminders_cron = os.environ.get("SMGOV_SERVE_REMINDERS_CRON", REMINDERS_CRON)
    return [
        reminders.to_deployment(
            name="reminders-daily",
            schedule=Cron(reminders_cron, timezone=TIMEZONE, slug="reminders-daily"),
        ),
        reassessment.to_deployment(
            name="reassessment-daily",
            schedule=Cron(REASSESSMENT_CRON, timezone=TIMEZONE, slug="reassessment-daily"),
        ),
        separation.to_deployment(
            name="separation-on-hr-event",
            triggers=[
                DeploymentEventTrigger(
                    expect={"hr.staff.separated", "hr.staff.reassigned"},
                    match={"prefect.resource.id": "hr.staff.*"},
                    parameters={
                        "as_of": "{{ event.payload.as_of }}",
                        "event_id": "{{ event.payload.event_id }}",
                    },
                )
            ],
        ),
        inventory.to_deployment(name="inventory"),
        approval.to_deployment(name="approval"),
    ]


def serve_all(settings: Settings) -> None:
    """Serve every deployment until SIGTERM or Ctrl-C; then stop what was started here."""
    from prefect import serve

    def stop(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with prefect_server(settings) as url, temporary_settings({PREFECT_API_URL: url}):
        sys.stderr.write(f"smgov serve: flows served against {url}\n")
        sys.stderr.flush()
        try:
            with contextlib.suppress(KeyboardInterrupt):
                serve(*deployments(), print_starting_message=False)
        finally:
            # the logs and events of runs stopped in flight go to the server before it stops,
            # however serve ended: left for exit, Prefect retried a stopped server for 80 s
            from prefect.events.worker import EventsWorker
            from prefect.logging.handlers import APILogWorker

            APILogWorker.drain_all(timeout=10, at_exit=False)
            EventsWorker.drain_all(timeout=10, at_exit=False)
