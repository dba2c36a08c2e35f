"""InfluxDB 1.6.7 of the lab for the read-path and dashboard tests: a fresh database per test.

The lab's influxd listens on `ENDPOINTS.influxdb_url` (tests/lab/services.d/50-influxdb.sh);
`VIGIE_LAB_INFLUXDB_URL` points the tests at another one (a developer's own influxd).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import httpx
import pytest

from agent.store.influx import InfluxQL
from tests.lab_support import ENDPOINTS, require, require_lab


def influxdb_url() -> str:
    return os.environ.get("VIGIE_LAB_INFLUXDB_URL", ENDPOINTS.influxdb_url)


def require_influxdb() -> str:
    """Skip (or fail under VIGIE_LAB_REQUIRED=1) unless the lab's influxd answers /ping."""
    if not os.environ.get("VIGIE_LAB_INFLUXDB_URL"):
        require_lab()
    url = influxdb_url()
    try:
        ok = httpx.get(f"{url}/ping", timeout=2).status_code == 204
    except httpx.HTTPError:
        ok = False
    require(ok, f"influxdb does not answer at {url} (tests/lab/services.d/50-influxdb.sh)")
    return url


@pytest.fixture
def influx_db() -> Iterator[InfluxQL]:
    """An empty database on the lab's influxd 1.6.7, dropped afterwards."""
    url = require_influxdb()
    name = f"vigie_test_{uuid.uuid4().hex[:12]}"
    client = InfluxQL(url, name)
    client.command(f'CREATE DATABASE "{name}"')
    try:
        yield client
    finally:
        client.command(f'DROP DATABASE "{name}"')
        client.close()
