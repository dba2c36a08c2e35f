"""FAKE InfluxDB 2.x — a loopback HTTP server that imitates the few InfluxDB 2.x endpoints `vigie influx
setup` and the InfluxQL read path touch. It is NOT InfluxDB: no InfluxDB 2.x can run on our machines
(test-lab.md §5a), so this fake only lets the tests check the requests Vigie builds and how it reads
the answers. Its answers follow the InfluxDB 2.x API reference (`/api/v2/orgs`, `/api/v2/buckets`,
`/api/v2/dbrps`, v1-compatible `/query`); what the real server does beyond that is not tested here.

- `/ping` → 204 with `X-Influxdb-Version: 2.7.10`;
- every other path needs `Authorization: Token <token>` (401 `unauthorized` otherwise);
- `/query` answers an empty result for a mapped database and 404 "no dbrp mapping found" otherwise.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class FakeInfluxDB2State:
    token: str = "good-token"
    orgs: dict[str, str] = field(default_factory=lambda: {"noc": "0a1b2c3d4e5f6071"})  # name → id
    buckets: dict[str, str] = field(default_factory=lambda: {"vigie": "b0b1b2b3b4b5b6b7"})  # name → id
    dbrps: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, list[str]], Any, str | None]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    state: FakeInfluxDB2State

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw and self.headers.get("Content-Type", "").startswith("application/json") else None
        auth = self.headers.get("Authorization")
        self.state.requests.append((method, url.path, query, body, auth))
        if url.path == "/ping":
            return self._send(204, headers={"X-Influxdb-Version": "2.7.10", "X-Influxdb-Build": "OSS"})
        if auth != f"Token {self.state.token}":
            return self._send(401, {"code": "unauthorized", "message": "unauthorized access"})
        if url.path == "/api/v2/orgs" and method == "GET":
            name = query.get("org", [""])[0]
            if name not in self.state.orgs:
                return self._send(404, {"code": "not found", "message": f'organization name "{name}" not found'})
            return self._send(200, {"orgs": [{"id": self.state.orgs[name], "name": name}]})
        if url.path == "/api/v2/buckets" and method == "GET":
            name = query.get("name", [""])[0]
            found = [{"id": i, "name": n} for n, i in self.state.buckets.items() if n == name]
            return self._send(200, {"buckets": found})
        if url.path == "/api/v2/dbrps" and method == "GET":
            db = query.get("db", [None])[0]
            return self._send(200, {"content": [m for m in self.state.dbrps if db is None or m["database"] == db]})
        if url.path == "/api/v2/dbrps" and method == "POST":
            assert body is not None
            mapping = {**body, "id": f"d{len(self.state.dbrps):015x}", "virtual": False}
            self.state.dbrps.append(mapping)
            return self._send(201, mapping)
        if url.path == "/query":
            db = query.get("db", [""])[0]
            rp = query.get("rp", [""])[0]
            if not any(m["database"] == db for m in self.state.dbrps):
                message = f'no dbrp mapping found for database "{db}" and retention policy "{rp}"'
                return self._send(404, {"code": "not found", "message": message})
            return self._send(200, {"results": [{"statement_id": 0}]})
        return self._send(404, {"code": "not found", "message": "path not found"})

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")


@contextmanager
def fake_influxdb2(state: FakeInfluxDB2State | None = None) -> Iterator[tuple[str, FakeInfluxDB2State]]:
    """Serve the fake on 127.0.0.1 (a free port); yields (base URL, state)."""
    st = state or FakeInfluxDB2State()
    handler = type("FakeInfluxDB2Handler", (_Handler,), {"state": st})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", st
    finally:
        server.shutdown()
        server.server_close()
