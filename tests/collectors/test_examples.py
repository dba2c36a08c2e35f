"""collectors/examples/<kind>.yaml: one example config per registered collector, valid for its config_model."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from collectors import COLLECTORS

EXAMPLES = Path(__file__).resolve().parents[2] / "collectors" / "examples"


def test_every_registered_kind_has_an_example_and_no_example_is_orphaned() -> None:
    assert sorted(p.stem for p in EXAMPLES.glob("*.yaml")) == sorted(COLLECTORS)


@pytest.mark.parametrize("kind", sorted(COLLECTORS))
def test_example_loads_through_the_collectors_config_model(kind: str) -> None:
    path = EXAMPLES / f"{kind}.yaml"
    assert path.is_file(), f"{path} is missing: add an example config for the {kind} collector"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and data, f"{path}: expected a mapping of config keys"
    config = COLLECTORS[kind].config_model.model_validate(data)
    assert set(data) <= set(type(config).model_fields)  # extra="forbid" already; said plainly
