"""Shared fixtures. Lab helpers live in tests/lab_support.py (importable as `tests.lab_support`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lab_support import LabEndpoints, require_lab


@pytest.fixture
def lab(request: pytest.FixtureRequest) -> LabEndpoints:
    """The lab endpoints; skips (or fails under VIGIE_LAB_REQUIRED=1) when they were not started."""
    return require_lab()


@pytest.fixture(autouse=True)
def _lab_marker(request: pytest.FixtureRequest) -> None:
    # A test marked `lab` needs the endpoints even if it does not ask for the `lab` fixture.
    if request.node.get_closest_marker("lab") is not None:
        require_lab()
