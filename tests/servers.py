"""Real local servers for the test suite: an SMTP server and an HTTPS endpoint.

Both listen on 127.0.0.1 only, on a port chosen by the OS when the object is
created. Both can be stopped and started again on the same port, which is how
tests simulate an outage of the mail relay or of the webhook receiver.

Nothing here is a mock: smgov (and apprise underneath it) talk to these servers
over real sockets, with real SMTP (including AUTH PLAIN/LOGIN) and real TLS.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email
import email.policy
import errno
import http.server
import ipaddress
import json as jsonlib
import logging
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from email.message import EmailMessage, Message
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["HTTPSEndpoint", "Received", "ReceivedPost", "SMTPServer", "start_api"]

log = logging.getLogger(__name__)

HOST = "127.0.0.1"

# How long start() keeps retrying when the port is still held (e.g. TIME_WAIT).
_BIND_RETRY_SECONDS = 5.0

T = TypeVar("T")


def _free_port(host: str = HOST) -> int:
    """Ask the OS for a port that is free right now on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start_api(
    env: dict[str, str], log: Path, *, wait: float = 60.0, public: bool = False
) -> tuple[subprocess.Popen[bytes], int]:
    """`smgov api` as a user starts it, on a free loopback port, in a session of its own, its
    output to `log` (a file: a pipe nobody reads blocks it once full); returns the process and
    its port once /health answers. Another process may take the free port before the api binds
    it ("address already in use"): the api is then started again on another port, which is not
    what any test is about. `public`: its SMGOV_PUBLIC_URL is the address it listens on. Raises
    with the api's last output if it stops or does not answer within `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        port = _free_port()
        url = f"http://{HOST}:{port}"
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                [sys.executable, "-m", "smgov.cli", "api", "--port", str(port)],
                env={**env, "SMGOV_PUBLIC_URL": url} if public else env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        while proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):  # noqa: S310
                    return proc, port
            except OSError:
                if time.monotonic() > deadline:
                    proc.kill()
                    proc.wait()
                    break
                time.sleep(0.2)
        said = log.read_bytes()
        if b"address already in use" not in said or time.monotonic() > deadline:
            tail = said[-2000:].decode(errors="replace")
            raise RuntimeError(f"smgov api did not start (exit {proc.returncode}): {tail}")


def _bind_listening_socket(host: str, port: int) -> socket.socket:
    """Bind ``host:port`` with SO_REUSEADDR, retrying briefly while it is in use."""
    deadline = time.monotonic() + _BIND_RETRY_SECONDS
    while True:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            if exc.errno != errno.EADDRINUSE or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)
            continue
        return sock


def _wait_for(
    cond: threading.Condition, items: list[T], count: int, timeout: float, what: str
) -> list[T]:
    """Block until ``items`` holds at least ``count`` entries; return a copy."""
    with cond:
        if not cond.wait_for(lambda: len(items) >= count, timeout=timeout):
            raise TimeoutError(f"expected {count} {what} within {timeout}s, got {len(items)}")
        return list(items)


# --------------------------------------------------------------------------- SMTP


@dataclass(frozen=True)
class Received:
    """One message accepted by :class:`SMTPServer`."""

    mail_from: str
    rcpt_tos: list[str]
    subject: str
    message_id: str
    headers: Message
    body: str
    raw: bytes
    peer: str = ""  # the client's address and port: one per SMTP connection


def _text_body(msg: EmailMessage) -> str:
    """Decoded text of the text/plain part (else text/html), or '' if there is none."""
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        return str(part.get_content())
    except (LookupError, UnicodeError):
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _parse_message(envelope: Envelope, peer: Any = None) -> Received:
    raw = envelope.original_content or envelope.content or b""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return Received(
        mail_from=envelope.mail_from or "",
        rcpt_tos=list(envelope.rcpt_tos),
        subject=str(msg.get("Subject", "")),
        message_id=str(msg.get("Message-ID", "")),
        headers=msg,
        body=_text_body(msg),
        raw=raw,
        peer=f"{peer[0]}:{peer[1]}" if peer else "",
    )


class _Handler:
    """aiosmtpd handler: refuses configured recipients, records accepted messages."""

    def __init__(self, server: SMTPServer) -> None:
        self._server = server

    async def handle_RCPT(  # noqa: N802 - name fixed by aiosmtpd
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.lower() in self._server.refuse:
            return f"550 5.1.1 <{address}>: recipient refused"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - name fixed by aiosmtpd
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self._server._record(_parse_message(envelope, session.peer))
        return "250 2.0.0 Message accepted for delivery"


class _Connections:
    """The SMTP connections open now (counted in the server's loop), and a limit beyond which
    a new connection is greeted with 421 and closed, as a busy mail server does."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.open = 0
        self.refused = 0

    def enter(self) -> bool:
        if self.limit is not None and self.open >= self.limit:
            self.refused += 1
            return False
        self.open += 1
        return True


class _LimitedSMTP(SMTP):
    """aiosmtpd's SMTP session, counted in `_Connections` (refused beyond its limit)."""

    def __init__(self, handler: Any, connections: _Connections, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._connections = connections
        self._refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._connections.enter():
            self._refused = True
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(b"421 4.7.0 Too many connections, try again later\r\n")
            transport.close()
            return
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        self._connections.open -= 1
        super().connection_lost(error)


class _BoundController(Controller):
    """A threaded aiosmtpd Controller serving on a socket we bound ourselves."""

    def __init__(
        self,
        handler: _Handler,
        sock: socket.socket,
        connections: _Connections,
        **smtp_kwargs: Any,
    ) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **smtp_kwargs)
        self._sock = sock
        self._connections = connections

    def factory(self) -> SMTP:
        # aiosmtpd warns (UserWarning) on every connection when AUTH is required without
        # TLS. On loopback that is what we want, so require AUTH after construction.
        kwargs = dict(self.SMTP_kwargs)
        auth_required = bool(kwargs.pop("auth_required", False))
        smtpd = _LimitedSMTP(self.handler, self._connections, **kwargs)
        if auth_required:
            assert hasattr(smtpd, "_auth_required"), "aiosmtpd internals changed"
            smtpd._auth_required = True
        return smtpd

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self.loop.create_server(self._factory_invoker, sock=self._sock)


class SMTPServer:
    """A real SMTP server (aiosmtpd, threaded) on 127.0.0.1 at an OS-assigned port.

    ``auth``: when set, AUTH PLAIN/LOGIN is advertised and required before MAIL, and
    only that (user, password) is accepted. ``refuse``: recipients answered with 550 at
    RCPT (case-insensitive). ``on_message``: called with the running count after each
    accepted message has been recorded, in the server thread, *before* the client gets
    its 250 reply (so killing the client there leaves it unsure whether it was sent).
    ``max_connections``: beyond that many open connections a new one is greeted with
    ``421 4.7.0 Too many connections`` and closed (``refused_connections`` counts them).
    """

    def __init__(
        self,
        *,
        auth: tuple[str, str] | None = None,
        refuse: Iterable[str] = (),
        on_message: Callable[[int], None] | None = None,
        max_connections: int | None = None,
    ) -> None:
        self.auth = auth
        self.refuse = frozenset(a.lower() for a in refuse)
        self.on_message = on_message
        self._connections = _Connections(max_connections)
        self._host = HOST
        self._port = _free_port(self._host)
        self._messages: list[Received] = []
        self._cond = threading.Condition(threading.Lock())
        self._controller: _BoundController | None = None

    # -- properties ---------------------------------------------------------------
    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        return self._port

    @property
    def running(self) -> bool:
        return self._controller is not None

    @property
    def messages(self) -> list[Received]:
        """A snapshot of the messages accepted so far (kept across stop/start)."""
        with self._cond:
            return list(self._messages)

    @property
    def refused_connections(self) -> int:
        """How many connections were greeted with 421 (beyond ``max_connections``)."""
        return self._connections.refused

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        """Start listening (again) on the same host and port."""
        if self._controller is not None:
            return
        sock = _bind_listening_socket(self._host, self._port)
        kwargs: dict[str, Any] = {"ready_timeout": 5.0}
        if self.auth is not None:
            kwargs.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=False,  # loopback only
            )
        controller = _BoundController(_Handler(self), sock, self._connections, **kwargs)
        try:
            controller.start()
        except BaseException:
            controller.stop(no_assert=True)
            sock.close()
            raise
        self._controller = controller
        # start() proves the server up with a connection of its own: gone before a client counts
        deadline = time.monotonic() + _BIND_RETRY_SECONDS
        while self._connections.open and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop listening and drop open connections; recorded messages are kept."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- helpers --------------------------------------------------------------------
    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        """Wait until at least ``count`` messages were accepted; TimeoutError otherwise."""
        return _wait_for(self._cond, self._messages, count, timeout, "messages")

    def clear(self) -> None:
        """Forget the messages recorded so far."""
        with self._cond:
            self._messages.clear()

    def _authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        if self.auth is not None and isinstance(auth_data, LoginPassword):
            user, password = self.auth
            if auth_data.login == user.encode() and auth_data.password == password.encode():
                return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    def _record(self, message: Received) -> None:
        with self._cond:
            self._messages.append(message)
            count = len(self._messages)
            self._cond.notify_all()
        if self.on_message is not None:
            try:
                self.on_message(count)
            except Exception:
                log.exception("SMTPServer on_message callback failed")


# -------------------------------------------------------------------------- HTTPS


@dataclass(frozen=True)
class ReceivedPost:
    """One POST request received by :class:`HTTPSEndpoint`."""

    path: str  # request target as sent, including the query string
    headers: dict[str, str]
    body: bytes
    json: Any | None  # parsed body, or None when it is not JSON
    peer: str = ""  # the client's address and port: one per connection


def _self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for IP 127.0.0.1 / CN localhost; return paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.IPv4Address(HOST)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _RequestHandler(http.server.BaseHTTPRequestHandler):
    server_version = "smgov-test-https/1"
    timeout = 30  # a stuck client cannot hold a handler thread forever

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request logging to stderr."""

    def handle(self) -> None:
        if self._endpoint().keep_alive:
            self.protocol_version = "HTTP/1.1"  # the connection stays open between requests
        super().handle()

    def _endpoint(self) -> HTTPSEndpoint:
        return cast(_TLSHTTPServer, self.server).endpoint

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def do_POST(self) -> None:
        body = self._read_body()
        try:
            parsed: Any | None = jsonlib.loads(body) if body else None
        except ValueError:
            parsed = None
        endpoint = self._endpoint()
        status, delay = endpoint.status, endpoint.delay
        endpoint._record(
            ReceivedPost(
                path=self.path,
                headers=dict(self.headers.items()),
                body=body,
                json=parsed,
                peer=f"{self.client_address[0]}:{self.client_address[1]}",
            )
        )
        if delay > 0:
            time.sleep(delay)
        self._reply(status)

    def do_GET(self) -> None:
        self._reply(405)

    def _reply(self, status: int) -> None:
        payload = b"" if status in (204, 304) else jsonlib.dumps({"status": status}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if not self._endpoint().keep_alive:
            self.send_header("Connection", "close")
        self.end_headers()
        if payload:
            self.wfile.write(payload)


class _TLSHTTPServer(http.server.ThreadingHTTPServer):
    """ThreadingHTTPServer doing the TLS handshake in each request's own thread."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, sock: socket.socket, context: ssl.SSLContext, endpoint: HTTPSEndpoint):
        super().__init__(sock.getsockname()[:2], _RequestHandler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.server_address = sock.getsockname()[:2]
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]
        self.context = context
        self.endpoint = endpoint
        self.live: set[ssl.SSLSocket] = set()  # connections open now (kept alive, or in use)
        self.live_lock = threading.Lock()
        self.server_activate()

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(30)
        # replies go out at once (headers and body are two writes: Nagle would hold the second
        # until the client's delayed ACK, 40 ms, on a connection kept alive)
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except OSError:  # handshake failed, e.g. the client does not trust our cert
            return
        with self.live_lock:
            self.live.add(tls)
        try:
            super().finish_request(tls, client_address)
        finally:
            with self.live_lock:
                self.live.discard(tls)
            with contextlib.suppress(OSError):
                tls.shutdown(socket.SHUT_WR)
            tls.close()

    def drop_connections(self) -> None:
        """Close the connections still open (a kept-alive one would outlive a stop)."""
        with self.live_lock:
            live = list(self.live)
        for tls in live:
            with contextlib.suppress(OSError):
                tls.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("HTTPSEndpoint: error handling request from %s", client_address, exc_info=True)


class HTTPSEndpoint:
    """A real HTTPS server on 127.0.0.1 with a fresh self-signed certificate.

    Every POST is recorded in ``requests`` and answered with ``status`` (default 202)
    after sleeping ``delay`` seconds (default 0). Each connection serves one request, unless
    ``keep_alive`` (HTTP/1.1: the client may send more on it; ``stop()`` closes it). Clients
    trust it through
    ``cert_path`` (e.g. ``REQUESTS_CA_BUNDLE``). The certificate is created on the
    first start and reused after a restart; its temp dir is removed when the object
    is garbage-collected or at interpreter exit.
    """

    def __init__(self, *, status: int = 202, delay: float = 0.0, keep_alive: bool = False) -> None:
        self.status = status
        self.delay = delay
        self.keep_alive = keep_alive
        self._host = HOST
        self._port = _free_port(self._host)
        self._requests: list[ReceivedPost] = []
        self._cond = threading.Condition(threading.Lock())
        self._server: _TLSHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._cert_path: Path | None = None
        self._context: ssl.SSLContext | None = None

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"https://{self._host}:{self._port}"

    @property
    def cert_path(self) -> Path:
        """PEM file of the server certificate (available once started)."""
        if self._cert_path is None:
            raise RuntimeError("HTTPSEndpoint has not been started yet")
        return self._cert_path

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def requests(self) -> list[ReceivedPost]:
        """A snapshot of the POSTs received so far (kept across stop/start)."""
        with self._cond:
            return list(self._requests)

    def _ssl_context(self) -> ssl.SSLContext:
        if self._context is None:
            directory = Path(tempfile.mkdtemp(prefix="smgov-https-"))
            weakref.finalize(self, shutil.rmtree, directory, ignore_errors=True)
            cert_path, key_path = _self_signed_cert(directory)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert_path, key_path)
            self._cert_path, self._context = cert_path, context
        return self._context

    def start(self) -> None:
        """Start serving (again) on the same port."""
        if self._server is not None:
            return
        context = self._ssl_context()
        sock = _bind_listening_socket(self._host, self._port)
        try:
            server = _TLSHTTPServer(sock, context, self)
        except BaseException:
            sock.close()
            raise
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"HTTPSEndpoint:{self._port}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread

    def stop(self) -> None:
        """Stop listening; recorded requests are kept."""
        server, self._server = self._server, None
        thread, self._thread = self._thread, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.drop_connections()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def wait_for(self, count: int, timeout: float = 10) -> list[ReceivedPost]:
        """Wait until at least ``count`` POSTs were received; TimeoutError otherwise."""
        return _wait_for(self._cond, self._requests, count, timeout, "requests")

    def clear(self) -> None:
        """Forget the requests recorded so far."""
        with self._cond:
            self._requests.clear()

    def _record(self, post: ReceivedPost) -> None:
        with self._cond:
            self._requests.append(post)
            self._cond.notify_all()
