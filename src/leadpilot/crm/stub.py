"""A loopback stand-in for the few HubSpot, Salesforce and Slack endpoints leadpilot calls,
so the official client libraries run unchanged against it (``leadpilot demo --crm-stub``
and the tests). Not a CRM: it keeps records in memory and answers only these calls.

Shapes follow the vendors' public documentation:
- HubSpot CRM v3 contacts (https://developers.hubspot.com/docs-beta/crm/contacts):
  ``GET /crm/v3/objects/contacts/{id}?properties=a,b`` answers ``{"id", "properties",
  "createdAt", "updatedAt", "archived"}``; ``PATCH`` the same path with ``{"properties":
  {...}}`` answers the updated object; errors are ``{"status": "error", "message",
  "category", "correlationId"}``; a rate limit is HTTP 429 with ``Retry-After``.
- Salesforce REST API, sObject Rows: ``PATCH /services/data/vXX.X/sobjects/Lead/{id}``
  with the fields answers 204 No Content; ``GET`` answers the record with ``attributes``.
  Salesforce is served over TLS (simple-salesforce always builds ``https://`` URLs), with a
  self-signed certificate for 127.0.0.1 that the test's requests session trusts.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import socketserver
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509  # a dependency of simple-salesforce
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["Call", "CrmStub", "SmtpStub", "StubServer", "self_signed"]


@dataclass
class Call:
    """One request the stub received."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    authorization: str | None
    ok: bool = True


@dataclass
class CrmStub:
    """State shared with the handler: records, scripted failures, every call seen."""

    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    sf_leads: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Answers to the next write calls, in order: (status, headers); empty = success.
    write_failures: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    # Salesforce query results: Lead rows (with ConvertedOpportunity), and per Lead id the
    # CreatedDate of its Tasks and StartDateTime of its Events.
    sf_records: dict[str, dict[str, Any]] = field(default_factory=dict)
    sf_tasks: dict[str, list[str]] = field(default_factory=dict)
    sf_events: dict[str, list[str]] = field(default_factory=dict)
    owner_updateable: bool = True  # Salesforce describe: may this user set Lead.OwnerId?
    lock: threading.Lock = field(default_factory=threading.Lock)

    def slack(self) -> list[Any]:
        """The Slack messages received."""
        return [c.body for c in self.calls if c.method == "POST" and c.path.startswith("/slack/")]

    def writes(self, *, ok: bool = True) -> list[Call]:
        """The PATCH calls that succeeded (``ok``) or were answered with a failure."""
        return [c for c in self.calls if c.method == "PATCH" and c.ok == ok]


def _handler(stub: CrmStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            """Quiet: the caller inspects ``stub.calls``."""

        def _send(
            self, status: int, body: Any = None, headers: dict[str, str] | None = None
        ) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _call(self) -> Call:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            call = Call(
                self.command,
                parts.path,
                parse_qs(parts.query),
                json.loads(raw) if raw else None,
                self.headers.get("Authorization"),
            )
            with stub.lock:
                stub.calls.append(call)
            return call

        def do_GET(self) -> None:
            call = self._call()
            segments = call.path.strip("/").split("/")
            if call.path.rstrip("/") in ("/crm/v3/objects/contacts", "/crm/v3/owners"):
                self._send(200, {"results": []})  # a page: {"results", "paging"?}
                return
            if call.path.endswith("/sobjects/Lead/describe"):
                # sObject Describe: object flags and one entry per field.
                self._send(
                    200,
                    {
                        "name": "Lead",
                        "updateable": True,
                        "fields": [
                            {"name": "OwnerId", "updateable": stub.owner_updateable},
                            {"name": "Email", "updateable": True},
                        ],
                    },
                )
                return
            if call.path.rstrip("/").endswith("/query"):
                self._soql(call.query["q"][0])
                return
            if call.path.startswith("/crm/v3/objects/contacts/"):
                contact = stub.contacts.get(segments[-1])
                if contact is None:
                    self._send(
                        404,
                        {
                            "status": "error",
                            "message": "resource not found",
                            "category": "OBJECT_NOT_FOUND",
                            "correlationId": "c-1",
                        },
                    )
                    return
                # ``properties`` repeated (what the client sends) or comma-separated.
                wanted = {p for v in call.query.get("properties", []) for p in v.split(",")}
                props = {k: v for k, v in contact.items() if k in wanted}
                self._send(
                    200,
                    {
                        "id": segments[-1],
                        "properties": props,
                        "createdAt": "2026-03-02T14:59:00Z",
                        "updatedAt": "2026-03-02T14:59:00Z",
                        "archived": False,
                    },
                )
                return
            self._send(404, {"status": "error", "message": "no such endpoint"})

        def do_POST(self) -> None:
            # A Slack incoming webhook: answers 200 "ok" (Slack's "Sending messages using
            # incoming webhooks" guide).
            call = self._call()
            if call.path == "/crm/v3/objects/contacts/search":
                self._search(call.body)
                return
            if call.path.startswith("/slack/"):
                body = b"ok"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self._send(404, {"status": "error", "message": "no such endpoint"})

        def _soql(self, soql: str) -> None:
            """SOQL query: the two shapes leadpilot sends (changed Leads; first Task / Event
            per Lead), answering ``{"totalSize", "done", "records"}``."""
            if " FROM Lead" in soql:
                found = re.search(r"LastModifiedDate >= (\S+)", soql)
                since = _sf_time(found.group(1) if found else "1970-01-01T00:00:00Z")
                rows = sorted(
                    (
                        {"attributes": {"type": "Lead"}, **r}
                        for r in stub.sf_records.values()
                        if _sf_time(r["LastModifiedDate"]) >= since
                    ),
                    key=lambda r: _sf_time(r["LastModifiedDate"]),
                )
            else:
                source = stub.sf_tasks if " FROM Task " in soql else stub.sf_events
                ids = re.findall(r"'([A-Za-z0-9]+)'", soql)
                rows = [
                    {
                        "attributes": {"type": "AggregateResult"},
                        "WhoId": i,
                        "First": min(source[i], key=_sf_time),
                    }
                    for i in ids
                    if source.get(i)
                ]
            self._send(200, {"totalSize": len(rows), "done": True, "records": rows})

        def _search(self, body: dict[str, Any]) -> None:
            """CRM search: one ``lastmodifieddate GTE`` filter, sorted ascending, paged by
            ``after`` (an offset), answering ``{"total", "results", "paging"?}``."""
            since = int(body["filterGroups"][0]["filters"][0]["value"])
            wanted = set(body.get("properties") or [])

            def modified(props: dict[str, Any]) -> int:
                stamp = dt.datetime.fromisoformat(str(props["lastmodifieddate"]))
                return int(stamp.timestamp() * 1000)

            found = sorted(
                (
                    (modified(p), cid, p)
                    for cid, p in stub.contacts.items()
                    if "lastmodifieddate" in p and modified(p) >= since
                ),
                key=lambda t: (t[0], t[1]),
            )
            start = int(body.get("after") or 0)
            limit = int(body.get("limit") or 10)
            page = found[start : start + limit]
            answer: dict[str, Any] = {
                "total": len(found),
                "results": [
                    {
                        "id": cid,
                        "properties": {k: v for k, v in p.items() if k in wanted},
                        "createdAt": "2026-03-02T14:59:00Z",
                        "updatedAt": p["lastmodifieddate"],
                        "archived": False,
                    }
                    for _, cid, p in page
                ],
            }
            if start + limit < len(found):
                answer["paging"] = {"next": {"after": str(start + limit)}}
            self._send(200, answer)

        def do_PATCH(self) -> None:
            call = self._call()
            with stub.lock:
                failure = stub.write_failures.pop(0) if stub.write_failures else None
            if failure is not None:
                status, headers = failure
                call.ok = False
                if "/sobjects/" in call.path:
                    self._send(
                        status, [{"errorCode": "SERVER_UNAVAILABLE", "message": "busy"}], headers
                    )
                else:
                    self._send(
                        status,
                        {
                            "status": "error",
                            "message": "try later",
                            "category": "RATE_LIMITS",
                            "correlationId": "c-2",
                        },
                        headers,
                    )
                return
            segments = call.path.strip("/").split("/")
            if call.path.startswith("/crm/v3/objects/contacts/"):
                contact = stub.contacts.setdefault(segments[-1], {})
                contact.update(call.body["properties"])
                self._send(
                    200,
                    {
                        "id": segments[-1],
                        "properties": call.body["properties"],
                        "createdAt": "2026-03-02T14:59:00Z",
                        "updatedAt": "2026-03-02T15:00:00Z",
                        "archived": False,
                    },
                )
                return
            if "/sobjects/Lead/" in call.path:
                stub.sf_leads.setdefault(segments[-1], {}).update(call.body)
                self._send(204)
                return
            self._send(404, [{"errorCode": "NOT_FOUND", "message": "no such endpoint"}])

    return Handler


def _sf_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 (the certificate is its own CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "stub.crt", folder / "stub.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class StubServer:
    """Serve ``stub`` on 127.0.0.1 (TLS when a certificate is given) in a thread."""

    def __init__(self, stub: CrmStub, tls: tuple[Path, Path] | None = None) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
        self.scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> StubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpStub:
    """A minimal SMTP server on 127.0.0.1 (RFC 5321 commands HELO/EHLO, MAIL, RCPT, DATA,
    QUIT; no TLS): keeps each message's recipients and text; ``refuse`` answers the next
    DATA with 451 (a temporary failure) that many times."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []
        self.refuse = 0
        stub = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 stub ESMTP\r\n")
                rcpt: list[str] = []
                while line := self.rfile.readline():
                    verb = line[:4].upper()
                    if verb in (b"HELO", b"EHLO"):
                        self.wfile.write(b"250 stub\r\n")
                    elif verb == b"MAIL":
                        rcpt = []
                        self.wfile.write(b"250 ok\r\n")
                    elif verb == b"RCPT":
                        rcpt.append(line.decode().split(":", 1)[1].strip().strip("<>"))
                        self.wfile.write(b"250 ok\r\n")
                    elif verb == b"DATA":
                        self.wfile.write(b"354 go on\r\n")
                        body = []
                        while (part := self.rfile.readline()) not in (b".\r\n", b""):
                            body.append(part.decode())
                        if stub.refuse:
                            stub.refuse -= 1
                            self.wfile.write(b"451 try again later\r\n")
                        else:
                            stub.messages.append((rcpt, "".join(body)))
                            self.wfile.write(b"250 queued\r\n")
                    elif verb == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 ok\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SmtpStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
