"""Real local receivers for notifications: an SMTP server (aiosmtpd) and an HTTP(S) webhook
receiver, both on 127.0.0.1, recording what they get."""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fakes.server import FakeServer


def free_port() -> int:
    """A port nothing listens on (bound, then released): a closed port for failing channels."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@dataclass
class Mailbox:
    port: int
    messages: list[Message] = field(default_factory=list)

    def url(self) -> str:
        return f"mailto://127.0.0.1:{self.port}?from=ledger@example.com&to=ops@example.com"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@dataclass
class Webhook(FakeServer):
    received: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)  # with the query string
    content_types: list[str] = field(default_factory=list)

    def url(self, path: str = "/hook/s3cr3t-t0ken-abcdef") -> str:  # type: ignore[override]
        return f"{self.base_url}{path}"


@contextmanager
def webhook_server(*, reply: bytes = b"", delay: float = 0.0, tls: Path | None = None) -> Iterator[Webhook]:
    """Record each POST's JSON body; answer 200 with `reply` after `delay` seconds; over TLS
    with the certificate and key in the PEM file `tls` (see `self_signed`) when given."""
    hook = Webhook()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            time.sleep(delay)
            with lock:
                hook.received.append(body)
                hook.paths.append(self.path)
                hook.content_types.append(self.headers.get("Content-Type", ""))
            self.send_response(200)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    context = None
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls)
    hook.listen(Handler, tls=context)
    with hook:
        yield hook


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (the certificate, to trust, as PEM; the
    certificate and its key, for the server, as PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    where = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(where, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    trust, both = folder / "cert.pem", folder / "server.pem"
    trust.write_bytes(cert_pem)
    both.write_bytes(cert_pem + key_pem)
    return trust, both
