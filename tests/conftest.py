"""Shared fixtures. Lab helpers live in tests/lab_support.py (importable as `tests.lab_support`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lab_support import LabEndpoints, require_lab

# CI (.ci/run) runs the property tests on a fixed series of examples, so that a red CI is one a re-run
# reproduces; developers' runs draw new examples each time (the default profile) and are the ones that
# explore. A case they find is pinned with @example.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("VIGIE_HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def lab(request: pytest.FixtureRequest) -> LabEndpoints:
    """The lab endpoints; skips (or fails under VIGIE_LAB_REQUIRED=1) when they were not started."""
    return require_lab()


@pytest.fixture(autouse=True)
def _lab_marker(request: pytest.FixtureRequest) -> None:
    # A test marked `lab` needs the endpoints even if it does not ask for the `lab` fixture.
    if request.node.get_closest_marker("lab") is not None:
        require_lab()
