"""The InfluxDB read path: InfluxQL over the v1-compatible `/query` API (InfluxDB 1.x, 2.x with a DBRP
mapping, 3.x), plus `vigie influx setup` (the 2.x DBRP mapping) and actionable errors.

Why InfluxQL: it is the one query language InfluxDB 1.8+, 2.x and 3.x all answer (Flux is gone in 3.x),
and it is what the Grafana dashboards use, so the NOC and the claims read the same numbers the same way.

`InfluxReader` answers the reads of the central role with exactly the values `SqliteStore` gives on the
same points (tests/agent/test_influx_read.py proves it by comparing the statements built from both):

- `state_intervals(service, source, until_ms)`: the `vigie_state` changes of a service as half-open
  intervals. It reads only a window (`lookback_s`, 200 days by default: VGA's GTD looks six months back)
  plus the one change before it, the state the window opens in, and the first change at or after
  `until_ms`, which closes the last one;
- `last_heartbeats()`, `samples(...)`, `sample_times(...)`, `outages(...)`, `latest_statement(...)`,
  `count(...)`, `exclusions(...)`.

Every query goes out with `epoch=ms` (integer millisecond timestamps, the schema's precision) and
`chunked=true` (a month of 30-s samples is one series of ~90,000 rows; the chunks are merged here).

Authentication: the token goes in `Authorization: Token …` (InfluxDB 2.x/3.x v1 API; an InfluxDB 1.x
without auth ignores it). A 1.x with auth takes `username`/`password` (sent as `u`/`p`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from agent.store import schema
from agent.store.schema import (
    EXCLUSION,
    GTR,
    HEARTBEAT,
    OUTAGE,
    PROBE,
    STATE,
    STATEMENT,
    STATEMENT_TAGS,
    FieldValue,
    Record,
)
from agent.store.sqlite import Interval

DAY_S = 86_400
# What a statement needs: the month and a day's margin, and for VGA the six months of its GTD (VGA 5.3);
# the state in force at the window's start is read too.
DEFAULT_LOOKBACK_S = 200 * DAY_S


class InfluxError(RuntimeError):
    """A failure of the store, with what to run or change (`hint`)."""

    def __init__(self, message: str, hint: str, status: int | None = None) -> None:
        super().__init__(f"{message} — {hint}")
        self.message = message
        self.hint = hint
        self.status = status


# --- InfluxQL text ------------------------------------------------------------------------------------------


def ident(name: str) -> str:
    """A double-quoted InfluxQL identifier (measurement, tag or field name)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(value: str) -> str:
    """A single-quoted InfluxQL string literal (tag values in WHERE)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def where(tags: dict[str, str], since_ms: int | None = None, until_ms: int | None = None) -> str:
    """`WHERE` clause: tag equalities and the half-open time range [since, until)."""
    terms = [f"{ident(k)} = {literal(v)}" for k, v in sorted(tags.items())]
    if since_ms is not None:
        terms.append(f"time >= {int(since_ms)}ms")
    if until_ms is not None:
        terms.append(f"time < {int(until_ms)}ms")
    return (" WHERE " + " AND ".join(terms)) if terms else ""


# --- results ------------------------------------------------------------------------------------------------


@dataclass
class Series:
    name: str
    tags: dict[str, str]
    columns: list[str]
    values: list[list[Any]] = field(default_factory=list)

    def rows(self) -> Iterator[dict[str, Any]]:
        for v in self.values:
            yield {**self.tags, **dict(zip(self.columns, v, strict=False))}


def _merge(chunks: Iterable[dict[str, Any]]) -> list[list[Series]]:
    """Results of a (chunked) /query answer: one list of series per statement, partial series joined."""
    out: dict[int, dict[tuple[str, str], Series]] = {}
    for chunk in chunks:
        if "error" in chunk:
            raise _query_error(str(chunk["error"]))
        for result in chunk.get("results", []):
            if "error" in result:
                raise _query_error(str(result["error"]))
            by_key = out.setdefault(int(result.get("statement_id", 0)), {})
            for s in result.get("series", []) or []:
                tags = {k: v for k, v in (s.get("tags") or {}).items() if v != ""}
                key = (s["name"], json.dumps(tags, sort_keys=True))
                if key in by_key:
                    by_key[key].values.extend(s.get("values", []))
                else:
                    by_key[key] = Series(s["name"], tags, list(s["columns"]), list(s.get("values", [])))
    if not out:
        return []
    return [list(out.get(i, {}).values()) for i in range(max(out) + 1)]


_DB_NOT_FOUND = re.compile(r"database not found|no dbrp mapping|dbrp|bucket .* not found", re.IGNORECASE)


def _query_error(text: str, status: int | None = None) -> InfluxError:
    if _DB_NOT_FOUND.search(text):
        return InfluxError(
            f"InfluxDB has no database for this query ({text.strip()})",
            "InfluxDB 2.x: run `vigie influx setup CONFIG` once to map the bucket to an InfluxQL database "
            "(DBRP); InfluxDB 1.x: CREATE DATABASE <bucket>; check store.bucket in the config",
            status,
        )
    return InfluxError(
        f"InfluxQL query failed: {text.strip()[:300]}", "this is a bug in Vigie's query: report it", status
    )


def explain_http(status: int, body: str, url: str, what: str) -> InfluxError:
    """An HTTP error of InfluxDB (read or write) as an actionable error."""
    text = body.strip()[:300]
    if status in (401, 403):
        return InfluxError(
            f"InfluxDB at {url} refuses the token for {what} (HTTP {status}: {text})",
            "check store.token (the env variable or file it names) and that the token has read and write "
            "permission on store.bucket in store.org",
            status,
        )
    if "field type conflict" in text:
        return InfluxError(
            f"InfluxDB refused points of a field whose type changed (HTTP {status}: {text})",
            "a field keeps one type forever (agent/store/schema.py): write the new values under a new field "
            "name, or drop the measurement's old shard/series; the other points were written",
            status,
        )
    if status == 404 or _DB_NOT_FOUND.search(text):
        return InfluxError(
            f"InfluxDB at {url}: {what} found no bucket/database (HTTP {status}: {text})",
            "check store.org and store.bucket; for InfluxQL reads on InfluxDB 2.x run `vigie influx setup CONFIG` "
            "(DBRP mapping); InfluxDB 1.x before 1.8 has no v2 write API: upgrade to 1.8+",
            status,
        )
    return InfluxError(f"InfluxDB at {url}: {what} failed (HTTP {status}: {text})", "see the InfluxDB log", status)


def unreachable(url: str, exc: Exception) -> InfluxError:
    return InfluxError(
        f"cannot reach InfluxDB at {url} ({type(exc).__name__}: {exc})",
        "check store.url (scheme, host, port) and that InfluxDB is running and reachable from this host; "
        "the agent keeps the data in its spool meanwhile",
    )


# --- the client ---------------------------------------------------------------------------------------------


class InfluxQL:
    """A minimal client of the v1 API: `/query` (InfluxQL, all versions) and `/write` (1.x line protocol)."""

    def __init__(
        self,
        url: str,
        database: str,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        retention_policy: str | None = None,
        timeout_s: float = 30.0,
        chunk_size: int = 10_000,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.retention_policy = retention_policy
        self.chunk_size = chunk_size
        headers = {"Authorization": f"Token {token}"} if token else {}
        self._auth = {"u": username, "p": password} if username else {}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s, transport=transport)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> InfluxQL:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _params(self, **extra: str) -> dict[str, str]:
        params: dict[str, str] = {"db": self.database, **{k: v for k, v in self._auth.items() if v}}
        if self.retention_policy:
            params["rp"] = self.retention_policy
        params.update(extra)
        return params

    def query(self, q: str | Sequence[str]) -> list[list[Series]]:
        """Run one or several `;`-separated statements; one list of series per statement."""
        text = q if isinstance(q, str) else "; ".join(q)
        params = self._params(q=text, epoch="ms", chunked="true", chunk_size=str(self.chunk_size))
        try:
            with self.http.stream("GET", "/query", params=params) as resp:
                if resp.status_code >= 300:
                    resp.read()
                    raise explain_http(resp.status_code, resp.text, self.url, "an InfluxQL query")
                chunks = [json.loads(line) for line in resp.iter_lines() if line.strip()]
        except httpx.TransportError as exc:
            raise unreachable(self.url, exc) from exc
        return _merge(chunks)

    def command(self, q: str) -> None:
        """A statement with side effects (CREATE DATABASE …): POST, as InfluxDB requires."""
        try:
            resp = self.http.post("/query", params={k: v for k, v in self._params(q=q).items() if k != "db"})
        except httpx.TransportError as exc:
            raise unreachable(self.url, exc) from exc
        if resp.status_code >= 300:
            raise explain_http(resp.status_code, resp.text, self.url, "an InfluxQL command")
        _merge([resp.json()])

    def write_lines(self, lines: Iterable[str], batch: int = 5000) -> int:
        """Write line protocol (ms precision) through the 1.x `/write` API (tests, bench, 1.x < 1.8)."""
        n = 0
        buf: list[str] = []

        def flush() -> None:
            try:
                resp = self.http.post("/write", params=self._params(precision="ms"), content="\n".join(buf).encode())
            except httpx.TransportError as exc:
                raise unreachable(self.url, exc) from exc
            if resp.status_code >= 300:
                raise explain_http(resp.status_code, resp.text, self.url, "a write")

        for line in lines:
            buf.append(line)
            n += 1
            if len(buf) >= batch:
                flush()
                buf.clear()
        if buf:
            flush()
        return n

    def write(self, records: Iterable[Record], batch: int = 5000) -> int:
        return self.write_lines((r.line() for r in records), batch)


# --- the reader: the central role's reads ------------------------------------------------------------------


def _state_rows(series: Sequence[Series]) -> list[tuple[int, str, str | None]]:
    rows = [(int(r["time"]), str(r["state"]), r.get("cause") or None) for s in series for r in s.rows()]
    rows.sort(key=lambda r: r[0])
    return rows


class InfluxReader:
    """The central role's reads (the `StoreReader` of agent/central.py), from InfluxDB in InfluxQL."""

    def __init__(self, client: InfluxQL, *, lookback_s: int = DEFAULT_LOOKBACK_S) -> None:
        self.client = client
        self.lookback_s = lookback_s

    def close(self) -> None:
        self.client.close()

    def count(self, measurement: str | None = None) -> int:
        """Points of a measurement (or of all of them), like `SqliteStore.count`: counted on a field every point
        has; a measurement without one (the table rows: vigie_interface, vigie_vm) is counted per series on
        its most frequent field (exact while one field is in every point of a series, as the tables write)."""
        always = {
            PROBE: "ok",
            STATE: "code",
            OUTAGE: "duration_s",
            HEARTBEAT: "seq",
            STATEMENT: "availability_pct",
            GTR: "elapsed_s",
            EXCLUSION: "end_s",
        }
        total = 0
        for name in [measurement] if measurement else schema.MEASUREMENTS:
            if name in always:
                q = f"SELECT count({ident(always[name])}) FROM {ident(name)}"
            else:
                q = f"SELECT count(*) FROM {ident(name)} GROUP BY *"
            for s in self._one(q):
                total += sum(max(int(c or 0) for c in v[1:]) for v in s.values)
        return total

    def last_heartbeats(self) -> dict[str, int]:
        series = self._one(f"SELECT last({ident('seq')}) FROM {ident(HEARTBEAT)} GROUP BY {ident('agent')}")
        return {s.tags["agent"]: int(s.values[-1][0]) for s in series if s.values and "agent" in s.tags}

    def state_intervals(
        self, service: str, source: str = "edge", until_ms: int | None = None, since_ms: int | None = None
    ) -> list[Interval]:
        """Half-open state intervals of `service` as seen by `source`, starting before `until_ms`.

        Reads [since, until) with `since` = `until` − `lookback_s` by default (everything when `until` is
        None), plus the change before `since` (the state the window opens in) and the first change at or
        after `until` (which closes the last interval): the same intervals `SqliteStore` gives for the window.
        """
        if since_ms is None and until_ms is not None and self.lookback_s:
            since_ms = until_ms - self.lookback_s * 1000
        tags = {"service": service, "source": source}
        select = f"SELECT {ident('code')}, {ident('state')}, {ident('cause')} FROM {ident(STATE)}"
        statements = [select + where(tags, since_ms, until_ms)]
        if since_ms is not None:
            statements.append(select + where(tags, None, since_ms) + " ORDER BY time DESC LIMIT 1")
        if until_ms is not None:
            statements.append(select + where(tags, until_ms, None) + " ORDER BY time ASC LIMIT 1")
        results = self.client.query(statements)
        rows = _state_rows(results[0] if results else [])
        k = 1
        if since_ms is not None:
            rows = _state_rows(results[k] if len(results) > k else []) + rows
            k += 1
        after = _state_rows(results[k] if until_ms is not None and len(results) > k else [])
        out = []
        for i, (t, state, cause) in enumerate(rows):
            nxt = rows[i + 1][0] if i + 1 < len(rows) else (after[0][0] if after else None)
            out.append(Interval(state, t, nxt, cause))
        return out

    def samples(
        self, probe_id: str, since_ms: int | None = None, until_ms: int | None = None
    ) -> list[tuple[int, bool]]:
        """(time_ms, ok) of one probe (`client/site/service/probe`), sorted by time."""
        client, site, service, probe = probe_id.split("/", 3)
        tags = {"client": client, "site": site, "service": service, "probe": probe}
        q = f"SELECT {ident('ok')} FROM {ident(PROBE)}" + where(tags, since_ms, until_ms)
        rows = [(int(r["time"]), bool(r["ok"])) for s in self._one(q) for r in s.rows()]
        rows.sort(key=lambda r: r[0])
        return rows

    def sample_times(self, probe_id: str) -> list[int]:
        return [t for t, _ in self.samples(probe_id)]

    def outages(self, service: str, since_ms: int | None = None, until_ms: int | None = None) -> list[Record]:
        q = f"SELECT * FROM {ident(OUTAGE)}" + where({"service": service}, since_ms, until_ms)
        return [_record(OUTAGE, r, schema.OUTAGE_TAGS) for s in self._one(q) for r in s.rows()]

    def latest_statement(self, service: str) -> dict[str, FieldValue] | None:
        q = f"SELECT * FROM {ident(STATEMENT)}" + where({"service": service}) + " ORDER BY time DESC LIMIT 1"
        for s in self._one(q):
            for r in s.rows():
                return {k: v for k, v in r.items() if k != "time" and k not in STATEMENT_TAGS and v is not None}
        return None

    def exclusions(self, *, current: bool = True) -> list[Record]:
        """The `vigie_exclusion` points, like `SqliteStore.exclusions` (same order: start, ref, state)."""
        q = f"SELECT * FROM {ident(EXCLUSION)}" + (f" WHERE {ident('current')} = true" if current else "")
        out = [_record(EXCLUSION, r, schema.EXCLUSION_TAGS) for s in self._one(q) for r in s.rows()]
        return sorted(out, key=lambda r: (r.time_ms, r.tag("ref") or "", r.tag("state") or ""))

    def _one(self, q: str) -> list[Series]:
        results = self.client.query(q)
        return results[0] if results else []


def _record(measurement: str, row: dict[str, Any], tag_names: Sequence[str]) -> Record:
    tags = {k: row.get(k) for k in tag_names}
    fields = {k: v for k, v in row.items() if k != "time" and k not in tag_names and v is not None}
    return schema.make(measurement, tags, fields, int(row["time"]))


# --- `vigie influx setup`: make the InfluxQL database exist --------------------------------------------------


@dataclass(frozen=True)
class SetupResult:
    server: str  # "1.x" | "2.x" | "3.x"
    version: str
    action: str  # what was done, for the operator
    database: str
    retention_policy: str | None = None
    bucket_id: str | None = None
    dbrp_id: str | None = None


def setup(
    url: str,
    token: str | None,
    org: str,
    bucket: str,
    *,
    database: str | None = None,
    retention_policy: str = "autogen",
    timeout_s: float = 10.0,
    transport: httpx.BaseTransport | None = None,
) -> SetupResult:
    """Make InfluxQL reads of `bucket` work, as database `database` (default: the bucket's name).

    - InfluxDB 2.x: the v1 `/query` API finds a bucket only through a DBRP mapping (database + retention
      policy → bucket). Look up the org and bucket ids, then create the mapping (default retention policy
      of the database) unless one already maps this database to this bucket. Idempotent.
    - InfluxDB 1.x: `CREATE DATABASE` (idempotent in InfluxQL); the bucket *is* the database.
    - InfluxDB 3.x: a database answers InfluxQL under its own name: nothing to create.
    """
    database = database or bucket
    base = url.rstrip("/")
    headers = {"Authorization": f"Token {token}"} if token else {}
    with httpx.Client(base_url=base, headers=headers, timeout=timeout_s, transport=transport) as http:

        def call(method: str, path: str, what: str, **kw: Any) -> httpx.Response:
            try:
                resp = http.request(method, path, **kw)
            except httpx.TransportError as exc:
                raise unreachable(base, exc) from exc
            if resp.status_code >= 300:
                raise explain_http(resp.status_code, resp.text, base, what)
            return resp

        version = call("GET", "/ping", "ping").headers.get("X-Influxdb-Version", "")
        if version.startswith("1."):
            with InfluxQL(base, database, token=token, timeout_s=timeout_s, transport=transport) as v1:
                v1.command(f"CREATE DATABASE {ident(database)}")
            return SetupResult("1.x", version, f"database {database!r} exists", database)
        if version.startswith("3."):
            return SetupResult("3.x", version, "nothing to do: InfluxDB 3 answers InfluxQL per database", database)

        orgs = call("GET", "/api/v2/orgs", f"looking up org {org!r}", params={"org": org}).json().get("orgs") or []
        org_id = next((o["id"] for o in orgs if o.get("name") == org), None)
        if org_id is None:
            raise InfluxError(f"InfluxDB has no organization {org!r}", "check store.org (`influx org list`)", 404)
        found = call(
            "GET", "/api/v2/buckets", f"looking up bucket {bucket!r}", params={"orgID": org_id, "name": bucket}
        ).json()
        bucket_id = next((b["id"] for b in found.get("buckets") or [] if b.get("name") == bucket), None)
        if bucket_id is None:
            raise InfluxError(
                f"InfluxDB org {org!r} has no bucket {bucket!r}",
                f"create it (`influx bucket create -o {org} -n {bucket}`) or fix store.bucket",
                404,
            )
        existing = call(
            "GET", "/api/v2/dbrps", "listing DBRP mappings", params={"orgID": org_id, "db": database}
        ).json()
        for m in existing.get("content") or []:
            if m.get("database") != database or m.get("retention_policy") != retention_policy:
                continue
            if m.get("bucketID") != bucket_id:
                raise InfluxError(
                    f"database {database!r} (rp {retention_policy!r}) is already mapped to another bucket "
                    f"({m.get('bucketID')})",
                    f"choose another --database, or delete that mapping (`influx v1 dbrp delete --id {m.get('id')}`)",
                    409,
                )
            if not m.get("virtual"):
                return SetupResult(
                    "2.x", version, "DBRP mapping already present", database, retention_policy, bucket_id, m.get("id")
                )
        body = {
            "orgID": org_id,
            "bucketID": bucket_id,
            "database": database,
            "retention_policy": retention_policy,
            "default": True,
        }
        created = call("POST", "/api/v2/dbrps", "creating the DBRP mapping", json=body).json()
        content = created.get("content", created)
        return SetupResult(
            "2.x", version, "DBRP mapping created", database, retention_policy, bucket_id, content.get("id")
        )
