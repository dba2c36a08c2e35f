"""ssh collector: runs a device profile's CLI commands over one SSH session and returns typed values.

One connection per poll cycle: connect, (enable), every selected command of the profile's `cli:` section,
disconnect. Commands come only from the profile (the config selects them by name), never from the target
or a device answer. Host keys are checked against a known_hosts file by default; trusting an unknown key
is an explicit `host_key_policy: accept_unknown`. netmiko and paramiko errors are translated in one
function, `translate`, and never leave this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import errno
import re
import socket
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, model_validator

from collectors.base import (
    AuthFailed,
    CollectorConfig,
    CollectorError,
    Misconfigured,
    ParseError,
    ProbeResult,
    Refused,
    SecretSource,
    Timeout,
    Unreachable,
)
from device_profiles.cli import CliOutputError, CliRefusedError, CliSection, Privilege, parse_output

# A target is a host name or an address, nothing that could be read as an option or a second word.
_TARGET_RE = re.compile(r"^[A-Za-z0-9_.:%\[\]-]+$")


class HostKeyPolicy(enum.StrEnum):
    STRICT = "strict"  # the host key must be in known_hosts (default)
    ACCEPT_UNKNOWN = "accept_unknown"  # explicit opt-in: an unknown key is trusted for this session only


class SshConfig(CollectorConfig):
    platform: str = Field(description="device profile whose `cli:` section is run, e.g. cisco_ios")
    port: int = Field(22, ge=1, le=65535)
    username: str = Field(min_length=1)
    password: SecretSource | None = None
    key_file: Path | None = Field(None, description="private key file (instead of, or with, a password)")
    enable_secret: SecretSource | None = Field(None, description="for profiles with privilege: enable")
    host_key_policy: HostKeyPolicy = HostKeyPolicy.STRICT
    known_hosts_file: Path | None = Field(None, description="default: the user's ~/.ssh/known_hosts")
    commands: tuple[str, ...] | None = Field(None, description="profile command names to run (default: all)")
    conn_timeout_s: float = Field(5.0, gt=0)
    read_timeout_s: float = Field(10.0, gt=0, description="per command")
    profiles_dir: Path | None = Field(None, description="user profile directory, searched first")

    @model_validator(mode="after")
    def _some_credential(self) -> SshConfig:
        if self.password is None and self.key_file is None:
            raise ValueError("ssh: give a password (env or file) or a key_file")
        return self


class SshCollector:
    kind: ClassVar[str] = "ssh"
    config_model: ClassVar[type[CollectorConfig]] = SshConfig

    def __init__(
        self,
        config: SshConfig,
        *,
        cli: CliSection | None = None,
        connect: Callable[..., Any] | None = None,
    ) -> None:
        self.config = config
        self._cli = cli
        self._connect = connect  # seam: netmiko.ConnectHandler by default

    async def collect(self, target: str, scheduled_at: datetime) -> ProbeResult:
        started = time.monotonic()
        values, error = await asyncio.to_thread(self._poll, target)
        duration = time.monotonic() - started
        if error is not None:
            return ProbeResult.failed(self.kind, target, scheduled_at, error, duration, values)
        return ProbeResult(
            kind=self.kind,
            target=target,
            scheduled_at=scheduled_at,
            ok=True,
            duration_s=duration,
            values=values,
        )

    # -- blocking part, run in a worker thread ------------------------------------------------------------

    def _poll(self, target: str) -> tuple[dict[str, Any], CollectorError | None]:
        values: dict[str, Any] = {}
        conn = None
        try:
            if self._cli is None:  # read once per collector; a config reload builds new collectors
                self._cli = load_cli_section(self.config.platform, self.config.profiles_dir)
            cli = self._cli
            commands = self._selected(cli)
            params = self._connect_params(target, cli)
            connect = self._connect or _netmiko_connect_handler()
            conn = connect(**params)
            if cli.privilege is Privilege.ENABLE:
                conn.enable()
            for name in commands:
                spec = cli.commands[name]
                raw = conn.send_command(spec.command, read_timeout=self.config.read_timeout_s)
                values[name] = parse_output(cli, spec, raw)
        except Exception as exc:  # translated, never raised: a failed probe is data
            return values, translate(exc)
        finally:
            if conn is not None:
                _close(conn)
        return values, None

    def _selected(self, cli: CliSection) -> tuple[str, ...]:
        if self.config.commands is None:
            return tuple(cli.commands)
        unknown = [c for c in self.config.commands if c not in cli.commands]
        if unknown:
            raise Misconfigured(
                f"profile {self.config.platform} has no CLI command {unknown}; known: {sorted(cli.commands)}"
            )
        return self.config.commands

    def _connect_params(self, target: str, cli: CliSection) -> dict[str, Any]:
        cfg = self.config
        if not _TARGET_RE.match(target) or target.startswith("-"):
            raise Misconfigured(f"ssh target {target!r} is not a host name or address")
        params: dict[str, Any] = {
            "device_type": cli.device_type,
            "host": target,
            "port": cfg.port,
            "username": cfg.username,
            "password": cfg.password.reveal() if cfg.password else "",
            "secret": cfg.enable_secret.reveal() if cfg.enable_secret else "",
            "allow_agent": False,
            "use_keys": cfg.key_file is not None,
            "key_file": str(cfg.key_file) if cfg.key_file else None,
            "conn_timeout": cfg.conn_timeout_s,
            "auth_timeout": cfg.conn_timeout_s,
            "banner_timeout": cfg.conn_timeout_s,
            "fast_cli": True,
        }
        if cfg.key_file is not None and not cfg.key_file.is_file():
            raise Misconfigured(f"ssh key_file {cfg.key_file} does not exist")
        if cfg.host_key_policy is HostKeyPolicy.ACCEPT_UNKNOWN:
            params.update(ssh_strict=False, system_host_keys=False, alt_host_keys=False)
            return params
        known_hosts = cfg.known_hosts_file or Path("~/.ssh/known_hosts").expanduser()
        if not known_hosts.is_file():
            raise Misconfigured(
                f"known_hosts file {known_hosts} not found: host keys are checked by default "
                "(add the device's key, or opt in with host_key_policy: accept_unknown)"
            )
        params.update(ssh_strict=True, system_host_keys=False, alt_host_keys=True, alt_key_file=str(known_hosts))
        return params


def _close(conn: Any) -> None:
    """Close the SSH transport. We never enter configuration mode, so closing the channel is a complete
    logout for the device; netmiko's polite logout waits for prompts (10 s on a hung device, and on every
    junos session of fakenos). Closing never raises."""
    with contextlib.suppress(Exception):
        if hasattr(conn, "paramiko_cleanup"):
            conn.paramiko_cleanup()
        else:
            conn.disconnect()


def _netmiko_connect_handler() -> Callable[..., Any]:
    from netmiko import ConnectHandler

    return ConnectHandler


def load_cli_section(platform: str, profiles_dir: Path | None = None) -> CliSection:
    """The `cli:` section of a platform's profile (user directory first); Misconfigured if there is none."""
    from device_profiles import ProfileError, load_profiles

    try:
        profiles = load_profiles(profiles_dir)
    except ProfileError as exc:
        raise Misconfigured(str(exc)) from exc
    if platform not in profiles:
        raise Misconfigured(f"unknown platform {platform!r} (known: {sorted(profiles)})")
    cli = profiles[platform].profile.cli
    if cli is None:
        raise Misconfigured(f"device profile {platform} has no cli: section")
    return cli


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def translate(exc: BaseException) -> CollectorError:
    """The one place where netmiko / paramiko / TextFSM failures become collector errors (most specific
    first). netmiko wraps paramiko errors in its own types and keeps the original as `__context__`, so the
    whole chain is inspected."""
    import paramiko
    from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException, ReadTimeout

    if isinstance(exc, CollectorError):
        return exc
    chain = _chain(exc)
    text = " | ".join(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__ for e in chain)
    for e in chain:
        if isinstance(e, CliRefusedError):
            return Misconfigured(str(e))
        if isinstance(e, CliOutputError):
            return ParseError(str(e))
        if isinstance(e, paramiko.BadHostKeyException):
            return AuthFailed(f"host key mismatch, possible impostor: {e}")
        if isinstance(e, paramiko.SSHException) and "not found in known_hosts" in str(e):
            return Misconfigured(
                f"unknown host key ({e}); add it to known_hosts or opt in with host_key_policy: accept_unknown"
            )
        if isinstance(e, NetmikoAuthenticationException | paramiko.AuthenticationException):
            return AuthFailed(_first_line(str(e)) or "authentication failed")
        if isinstance(e, paramiko.ssh_exception.NoValidConnectionsError):
            causes = list(e.errors.values())  # one socket error per address tried
            if causes and all(isinstance(c, ConnectionRefusedError) for c in causes):
                return Refused(f"connection refused: {e}")
            if causes and all(isinstance(c, TimeoutError | socket.timeout) for c in causes):
                return Timeout(f"timed out connecting: {e}")
            return Unreachable(str(e))
        if isinstance(e, ConnectionRefusedError):
            return Refused(f"connection refused: {e}")
        if isinstance(e, socket.gaierror):
            return Unreachable(f"name resolution failed: {e}")
        if isinstance(e, OSError) and e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return Unreachable(str(e))
        if isinstance(e, ReadTimeout):
            return Timeout(f"device did not answer in time: {_first_line(str(e))}")
        if isinstance(e, TimeoutError | socket.timeout):
            return Timeout(f"timed out: {text}")
    if isinstance(exc, NetmikoTimeoutException):
        return Timeout(text)
    if isinstance(exc, ValueError) and "enable" in str(exc).lower():
        return AuthFailed(f"could not enter privileged mode: {exc}")
    if isinstance(exc, ValueError):  # netmiko: prompt not found, unexpected session text
        return ParseError(f"unexpected session output: {exc}")
    if isinstance(exc, EOFError | paramiko.SSHException | OSError):
        return Unreachable(f"session lost: {text}")
    return Unreachable(f"{type(exc).__name__}: {text}")


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""
