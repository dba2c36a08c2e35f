"""Per-platform device data: one YAML per platform, plus `_common.yaml` (shared standard-MIB groups).

`load_profiles(user_dir)` reads the bundled profiles, then the user's directory: a user file with the same
`platform` replaces the bundled one, a new platform is added. Every problem is a `ProfileError` naming the file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from device_profiles.schema import (
    CommonGroups,
    DeviceProfile,
    OidGroup,
    OidSpec,
    ResolvedProfile,
    ValueType,
)

__all__ = [
    "BUNDLED_DIR",
    "DeviceProfile",
    "OidGroup",
    "OidSpec",
    "ProfileError",
    "ResolvedProfile",
    "ValueType",
    "identify",
    "load_profile",
    "load_profiles",
]

BUNDLED_DIR = Path(__file__).resolve().parent
COMMON_FILE = "_common.yaml"


class ProfileError(ValueError):
    """A profile file is unreadable or invalid; the message names the file and the key."""


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from exc


def _validation_message(path: Path, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top)"
        lines.append(f"  {loc}: {err['msg']}")
    return f"{path}: invalid profile:\n" + "\n".join(lines)


def _load_common(dirs: list[Path]) -> dict[str, OidGroup]:
    groups: dict[str, OidGroup] = {}
    for d in dirs:
        path = d / COMMON_FILE
        if not path.is_file():
            continue
        try:
            groups.update(CommonGroups.model_validate(_read_yaml(path)).groups)
        except ValidationError as exc:
            raise ProfileError(_validation_message(path, exc)) from exc
    return groups


def _resolve(profile: DeviceProfile, common: dict[str, OidGroup], source: Path) -> ResolvedProfile:
    groups: dict[str, OidGroup] = {}
    for name in profile.snmp.use:
        if name not in common:
            raise ProfileError(f"{source}: snmp.use: unknown shared group {name!r} (known: {sorted(common)})")
        groups[name] = common[name]
    for name, group in profile.snmp.groups.items():
        if name in groups:
            raise ProfileError(f"{source}: snmp.groups.{name}: also pulled in by snmp.use; rename one")
        groups[name] = group
    return ResolvedProfile(profile=profile, groups=groups, source=str(source))


def load_profile(path: Path, common: dict[str, OidGroup] | None = None) -> ResolvedProfile:
    path = Path(path)
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a profile is a mapping, got {type(data).__name__}")
    try:
        profile = DeviceProfile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(_validation_message(path, exc)) from exc
    if profile.platform != path.stem:
        raise ProfileError(f"{path}: platform {profile.platform!r} must match the file name {path.stem!r}")
    return _resolve(profile, common if common is not None else _load_common([BUNDLED_DIR]), path)


def _profile_files(d: Path) -> list[Path]:
    return sorted(p for p in d.glob("*.yaml") if not p.name.startswith("_"))


def load_profiles(user_dir: Path | None = None) -> dict[str, ResolvedProfile]:
    """Bundled profiles, then the user's: same platform name overrides, new names add."""
    dirs = [BUNDLED_DIR]
    if user_dir is not None:
        user_dir = Path(user_dir)
        if not user_dir.is_dir():
            raise ProfileError(f"{user_dir}: profile directory does not exist")
        dirs.append(user_dir)
    common = _load_common(dirs)
    profiles: dict[str, ResolvedProfile] = {}
    for d in dirs:
        for path in _profile_files(d):
            resolved = load_profile(path, common)
            profiles[resolved.platform] = resolved
    return profiles


def identify(profiles: dict[str, ResolvedProfile], sys_object_id: str, sys_descr: str) -> str | None:
    """The platform whose sysObjectID prefix is the longest match, else the first sysDescr regex match."""
    best: tuple[int, str] | None = None
    for name, rp in profiles.items():
        for prefix in rp.profile.match.sys_object_id:
            if (sys_object_id == prefix or sys_object_id.startswith(prefix + ".")) and (
                best is None or len(prefix) > best[0]
            ):
                best = (len(prefix), name)
    if best is not None:
        return best[1]
    for name, rp in profiles.items():
        if any(re.search(rx, sys_descr) for rx in rp.profile.match.sys_descr):
            return name
    return None
