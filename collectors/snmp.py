"""SNMP poll (pysnmp 7 asyncio API): GETs and bulk walks of the OID groups a device profile names.

* v3 authPriv (SHA/AES) is the default; v1/v2c only when `version` says so explicitly.
* One `SnmpEngine` per process (per running event loop, which is one per process in the agent).
* Numeric OIDs only: no MIB is loaded or parsed at run time (`lookupMib=False`).
* Counters become per-second rates between two polls of the same collector: a Counter32 that goes back
  wrapped once (2**32 added), a Counter64 that goes back was reset (no rate), and a sysUpTime that goes back
  (other than its own 2**32 wrap) is a reboot: every rate of that poll is dropped and `rebooted` is true.
* A failed poll is a `ProbeResult(ok=False, reason=...)`; library errors are translated in `translate()`.
  A value of the wrong type is a parse error for that value: the others are still returned.
"""

from __future__ import annotations

import asyncio
import importlib
import ipaddress
import sys
import time
import weakref
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar


def _import_pysnmp_lean() -> None:
    """pysnmp imports pysmi, its MIB *compiler* (and with it `requests`, ~15 MB resident), whenever pysmi is
    installed. This collector uses numeric OIDs only (`lookupMib=False`): nothing is ever compiled. Import
    pysnmp while pysmi is hidden, so pysnmp keeps its "no compiler" stub. `cryptography` (~6.5 MB) is
    hidden too: only SNMPv3 privacy (authPriv) needs it, and `_load_privacy` gives it to pysnmp when the
    first authPriv poll is made. Both stay importable for anyone else in the process."""
    if "pysnmp.smi.compiler" in sys.modules:
        return
    hidden = [name for name in ("pysmi", "cryptography") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # `import name.x` raises ImportError
    try:
        import pysnmp.hlapi.v3arch.asyncio
        import pysnmp.smi.compiler  # noqa: F401
    finally:
        for name in hidden:
            del sys.modules[name]


_PRIVACY_MODULES = (  # pysnmp's ciphers: each imports cryptography, or marks itself PysnmpCryptoError
    "pysnmp.proto.secmod.rfc3414.priv.des",
    "pysnmp.proto.secmod.eso.priv.des3",
    "pysnmp.proto.secmod.rfc3826.priv.aes",
)


def _load_privacy() -> None:
    """Run again those of pysnmp's cipher modules imported without cryptography (`_import_pysnmp_lean`):
    a reload re-executes a module in its own namespace, so the cipher objects pysnmp already holds see
    cryptography from then on."""
    for name in _PRIVACY_MODULES:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "PysnmpCryptoError", False):
            importlib.reload(module)


_import_pysnmp_lean()

from pyasn1.type import univ  # noqa: E402
from pysnmp.error import PySnmpError  # noqa: E402
from pysnmp.hlapi.v3arch.asyncio import (  # noqa: E402
    USM_AUTH_HMAC96_MD5,
    USM_AUTH_HMAC96_SHA,
    USM_AUTH_HMAC128_SHA224,
    USM_AUTH_HMAC192_SHA256,
    USM_AUTH_HMAC256_SHA384,
    USM_AUTH_HMAC384_SHA512,
    USM_AUTH_NONE,
    USM_PRIV_CBC56_DES,
    USM_PRIV_CFB128_AES,
    USM_PRIV_CFB192_AES,
    USM_PRIV_CFB256_AES,
    USM_PRIV_NONE,
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    Udp6TransportTarget,
    UdpTransportTarget,
    UsmUserData,
    bulk_cmd,
    get_cmd,
    next_cmd,
)
from pysnmp.proto import errind, rfc1902, rfc1905  # noqa: E402
from pysnmp.smi.error import SmiError  # noqa: E402

from collectors.base import (  # noqa: E402
    AuthFailed,
    CollectorConfig,
    CollectorError,
    Misconfigured,
    ParseError,
    ProbeResult,
    Refused,
    Timeout,
    Unreachable,
)
from collectors.snmp_config import (  # noqa: E402  (re-exported: the schema lives in a light module)
    AuthProtocol,
    PrivProtocol,
    SecurityLevel,
    SnmpConfig,
    SnmpVersion,
)
from device_profiles import (  # noqa: E402
    BUNDLED_DIR,
    OidGroup,
    OidSpec,
    ProfileError,
    ResolvedProfile,
    ValueType,
    load_profiles,
)

WRAP32 = 2**32
COUNTER_BITS = {ValueType.COUNTER32: 32, ValueType.COUNTER64: 64}
GET_CHUNK = 16  # varbinds per GET request (keeps replies under tooBig)


_AUTH = {
    AuthProtocol.SHA: USM_AUTH_HMAC96_SHA,
    AuthProtocol.SHA224: USM_AUTH_HMAC128_SHA224,
    AuthProtocol.SHA256: USM_AUTH_HMAC192_SHA256,
    AuthProtocol.SHA384: USM_AUTH_HMAC256_SHA384,
    AuthProtocol.SHA512: USM_AUTH_HMAC384_SHA512,
    AuthProtocol.MD5: USM_AUTH_HMAC96_MD5,
}
_PRIV = {
    PrivProtocol.AES: USM_PRIV_CFB128_AES,
    PrivProtocol.AES192: USM_PRIV_CFB192_AES,
    PrivProtocol.AES256: USM_PRIV_CFB256_AES,
    PrivProtocol.DES: USM_PRIV_CBC56_DES,
}


def translate(exc: BaseException) -> CollectorError:
    """pysnmp / OS errors and error indications → our error tree. Most specific first."""
    if isinstance(exc, CollectorError):
        return exc
    if isinstance(exc, errind.RequestTimedOut):
        return Timeout("no SNMP response (wrong community, address or port looks the same)")
    if isinstance(
        exc,
        errind.UnknownUserName
        | errind.WrongDigest
        | errind.AuthenticationFailure
        | errind.AuthenticationError
        | errind.DecryptionError
        | errind.UnknownSecurityName
        | errind.UnsupportedSecurityLevel
        | errind.NoAuthentication,
    ):
        return AuthFailed(f"SNMPv3: {exc}")
    if isinstance(exc, errind.UnknownCommunityName):
        return AuthFailed(str(exc))
    if isinstance(exc, errind.NoSuchContext | errind.NotInView | errind.NoAccessEntry | errind.NoSuchView):
        return Refused(f"agent refused: {exc}")
    if isinstance(exc, errind.UnsupportedAuthProtocol | errind.UnsupportedPrivProtocol):
        return Misconfigured(str(exc))
    if isinstance(exc, errind.OidNotIncreasing | errind.DeserializationError | errind.DataMismatch):
        return ParseError(f"bad SNMP response: {exc}")
    if isinstance(exc, errind.ErrorIndication):
        return Unreachable(f"SNMP engine: {exc}")
    if isinstance(exc, SmiError | ValueError | TypeError):
        return ParseError(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, PySnmpError):
        return Misconfigured(f"SNMP transport: {exc}")
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return Timeout("no SNMP response")
    if isinstance(exc, OSError):
        return Unreachable(f"{exc.strerror or exc}")
    if isinstance(exc, ProfileError):
        return Misconfigured(str(exc))
    return ParseError(f"{type(exc).__name__}: {exc}")


ERROR_STATUS_MAX = 18  # RFC 3416: noError(0) .. inconsistentName(18)


def _status_error(status: Any, index: Any, varbinds: Sequence[Any]) -> CollectorError:
    text = status.prettyPrint() if hasattr(status, "prettyPrint") else str(status)
    where = ""
    try:
        if int(index) and varbinds:
            where = f" at {varbinds[int(index) - 1][0].prettyPrint()}"
    except (ValueError, TypeError, IndexError):
        pass
    if text in ("authorizationError", "noAccess"):
        return AuthFailed(f"agent error-status {text}{where}")
    if text == "tooBig":
        return Misconfigured(f"agent error-status tooBig{where}: lower max_repetitions")
    try:
        number: int | None = int(status)
    except (ValueError, TypeError):
        number = None
    if number is None or not 0 <= number <= ERROR_STATUS_MAX:
        return ParseError(f"malformed response: error-status {text} is outside 0..{ERROR_STATUS_MAX} (RFC 3416)")
    return Refused(f"agent error-status {text}{where}")


# --- value conversion -----------------------------------------------------------------------------------------

_MISSING = (rfc1905.NoSuchObject, rfc1905.NoSuchInstance, rfc1905.EndOfMibView)


def _text(value: Any) -> str:
    raw = bytes(value)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.hex(":")
    if text.isprintable() or all(c.isprintable() or c in "\r\n\t" for c in text):
        return text.rstrip("\x00")
    return raw.hex(":")


def convert(spec: OidSpec, value: Any) -> Any:
    """A varbind value as the profile types it. Raises ValueError on a type mismatch (garbage)."""
    t = spec.type
    if t is ValueType.STRING:
        if not isinstance(value, rfc1902.OctetString):
            raise ValueError(f"{spec.name}: expected OCTET STRING, got {type(value).__name__}")
        return _text(value)
    if t is ValueType.OID:
        if not isinstance(value, univ.ObjectIdentifier):
            raise ValueError(f"{spec.name}: expected OBJECT IDENTIFIER, got {type(value).__name__}")
        return ".".join(str(x) for x in value.asTuple())
    if t is ValueType.IPADDRESS:
        if not isinstance(value, rfc1902.IpAddress):
            raise ValueError(f"{spec.name}: expected IpAddress, got {type(value).__name__}")
        return str(ipaddress.IPv4Address(bytes(value)))
    expected: dict[ValueType, tuple[Any, ...]] = {
        ValueType.INTEGER: (rfc1902.Integer32, rfc1902.Integer, rfc1902.Unsigned32, rfc1902.Gauge32),
        ValueType.ENUM: (rfc1902.Integer32, rfc1902.Integer),
        ValueType.GAUGE: (rfc1902.Gauge32, rfc1902.Unsigned32, rfc1902.Integer32, rfc1902.Integer),
        ValueType.COUNTER32: (rfc1902.Counter32,),
        ValueType.COUNTER64: (rfc1902.Counter64,),
        ValueType.TIMETICKS: (rfc1902.TimeTicks,),
    }
    if not isinstance(value, expected[t]):
        raise ValueError(f"{spec.name}: expected {t.value}, got {type(value).__name__}")
    number = int(value)
    if t is ValueType.ENUM:
        assert spec.enum is not None
        return spec.enum.get(number, str(number))
    if spec.scale is not None:
        return number * spec.scale
    return number


# --- counters ------------------------------------------------------------------------------------------------


def counter_delta(previous: int, current: int, bits: int) -> int | None:
    """Increase of a counter between two polls; None when it was reset (no honest delta exists).

    A Counter32 that goes back wrapped once at 2**32. A Counter64 never wraps in practice (at 100 Gbit/s it
    takes 46 years), so going back means a reset (reboot, counter clear, interface re-created).
    """
    if current >= previous:
        return current - previous
    if bits == 32:
        return current + WRAP32 - previous
    return None


def uptime_went_back(previous: int, current: int, elapsed_s: float) -> bool:
    """sysUpTime (centiseconds, wraps at 2**32 after 497 days) went back: a reboot unless it is its own wrap."""
    if current >= previous:
        return False
    expected = (previous + round(elapsed_s * 100)) % WRAP32
    tolerance = max(500, round(elapsed_s * 100 * 0.2))  # 5 s or 20 % of the gap
    return abs(current - expected) > tolerance


class CounterStore:
    """Last value of every counter instance and of sysUpTime, per device. Owned by one collector; shared
    between collectors only when they poll the same devices (e.g. a test that swaps credentials)."""

    def __init__(self) -> None:
        self.counters: dict[tuple[str, str], tuple[int, float]] = {}
        self.uptime: dict[str, tuple[int, float]] = {}


# --- device profiles -----------------------------------------------------------------------------------------

_PROFILES: dict[Path | None, tuple[tuple[tuple[str, int], ...], dict[str, ResolvedProfile]]] = {}


def shared_profiles(user_dir: Path | None) -> dict[str, ResolvedProfile]:
    """`load_profiles(user_dir)`, parsed once per process while no profile file changes: fifty SNMP probes
    share one parse (the YAML of every profile, per collector, dominated an edge agent's CPU and memory).
    The profiles are frozen models, safe to share; a changed or added file (mtime) is read again."""
    dirs = [BUNDLED_DIR] if user_dir is None else [BUNDLED_DIR, Path(user_dir)]
    try:
        stamp = tuple((str(p), p.stat().st_mtime_ns) for d in dirs for p in sorted(d.glob("*.yaml")))
    except OSError:
        return load_profiles(user_dir)  # raises the loader's own error
    cached = _PROFILES.get(user_dir)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    profiles = load_profiles(user_dir)
    _PROFILES[user_dir] = (stamp, profiles)
    return profiles


# --- engine --------------------------------------------------------------------------------------------------

_ENGINES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SnmpEngine] = weakref.WeakKeyDictionary()


def shared_engine() -> SnmpEngine:
    """The process's SNMP engine (one per running event loop: pysnmp transports are bound to a loop)."""
    loop = asyncio.get_running_loop()
    engine = _ENGINES.get(loop)
    if engine is None:
        engine = _ENGINES[loop] = SnmpEngine()
    return engine


def _in_subtree(oid: tuple[int, ...], root: tuple[int, ...]) -> bool:
    return oid[: len(root)] == root and len(oid) > len(root)


def _oid_tuple(oid: str) -> tuple[int, ...]:
    return tuple(int(x) for x in oid.split("."))


class SnmpCollector:
    kind: ClassVar[str] = "snmp"
    config_model: ClassVar[type[CollectorConfig]] = SnmpConfig

    def __init__(
        self,
        config: SnmpConfig,
        *,
        counters: CounterStore | None = None,
        clock: Callable[[], float] = time.monotonic,
        engine: SnmpEngine | None = None,
    ) -> None:
        self.config = config
        self.counters = counters or CounterStore()
        self.clock = clock
        self._engine = engine
        self._groups: dict[str, OidGroup] | None = None
        # rows of each walk at the last poll: the next GETBULK asks for that many (+1, to see the table's
        # end) rather than max_repetitions: a 4-row table of 13 columns decodes 65 varbinds, not 195
        self._walk_rows: dict[tuple[str, ...], int] = {}

    # -- configuration that needs no network
    def groups(self) -> dict[str, OidGroup]:
        if self._groups is None:
            cfg = self.config
            groups: dict[str, OidGroup] = {}
            if cfg.platform is not None:
                profiles = shared_profiles(cfg.profiles_dir)
                if cfg.platform not in profiles:
                    raise Misconfigured(f"unknown platform {cfg.platform!r}; known: {sorted(profiles)}")
                available = profiles[cfg.platform].groups
                wanted = cfg.groups if cfg.groups is not None else tuple(available)
                unknown = [g for g in wanted if g not in available]
                if unknown:
                    raise Misconfigured(
                        f"platform {cfg.platform} has no OID group {unknown}; known: {sorted(available)}"
                    )
                groups = {g: available[g] for g in wanted}
            self._groups = groups
        return self._groups

    def _auth(self) -> CommunityData | UsmUserData:
        cfg = self.config
        if cfg.version is not SnmpVersion.V3:
            assert cfg.community is not None
            return CommunityData(cfg.community.reveal(), mpModel=0 if cfg.version is SnmpVersion.V1 else 1)
        assert cfg.user is not None
        level = cfg.security_level
        auth_key = (
            cfg.auth_key.reveal() if cfg.auth_key is not None and level is not SecurityLevel.NO_AUTH_NO_PRIV else None
        )
        priv_key = cfg.priv_key.reveal() if cfg.priv_key is not None and level is SecurityLevel.AUTH_PRIV else None
        if priv_key is not None:
            _load_privacy()
        return UsmUserData(
            cfg.user,
            auth_key,
            priv_key,
            authProtocol=_AUTH[cfg.auth_protocol] if auth_key is not None else USM_AUTH_NONE,
            privProtocol=_PRIV[cfg.priv_protocol] if priv_key is not None else USM_PRIV_NONE,
        )

    async def _target(self, host: str) -> UdpTransportTarget | Udp6TransportTarget:
        try:
            is_v6 = ipaddress.ip_address(host).version == 6
        except ValueError:
            is_v6 = False
        cls = Udp6TransportTarget if is_v6 else UdpTransportTarget
        return await cls.create((host, self.config.port), timeout=self.config.timeout_s, retries=self.config.retries)

    # -- the probe
    async def collect(self, target: str, scheduled_at: datetime) -> ProbeResult:
        started = self.clock()
        try:
            values, errors = await self._poll(target)
        except Exception as exc:  # a probe never raises: translate and report
            return ProbeResult.failed(self.kind, target, scheduled_at, translate(exc), self.clock() - started)
        duration = self.clock() - started
        if errors:
            detail = "; ".join(errors[:5]) + (f" (+{len(errors) - 5} more)" if len(errors) > 5 else "")
            return ProbeResult.failed(self.kind, target, scheduled_at, ParseError(detail), duration, values)
        return ProbeResult(
            kind=self.kind, target=target, scheduled_at=scheduled_at, ok=True, duration_s=duration, values=values
        )

    async def _poll(self, host: str) -> tuple[dict[str, Any], list[str]]:
        groups = self.groups()
        engine = self._engine or shared_engine()
        auth = self._auth()
        target = await self._target(host)
        ctx = ContextData(contextName=self.config.context) if self.config.context else ContextData()
        device = f"{host}:{self.config.port}/{self.config.context}"
        now = self.clock()
        errors: list[str] = []
        missing: list[str] = []

        # 1. every scalar of every group (and the extra OIDs) with GETs, sysUpTime always included
        scalars: dict[str, OidSpec] = {}
        for group in groups.values():
            for spec in group.scalars:
                scalars[spec.oid] = spec
        uptime_oid = "1.3.6.1.2.1.1.3.0"
        oids = list(dict.fromkeys([uptime_oid, *scalars, *self.config.oids]))
        got = await self._get(engine, auth, target, ctx, oids)
        got_at = self.clock()  # counters are timed when their answer arrived, not when the poll began

        uptime_raw = got.get(uptime_oid)
        uptime = int(uptime_raw) if isinstance(uptime_raw, rfc1902.TimeTicks) else None
        rebooted: bool | None = None
        if uptime is not None:
            previous = self.counters.uptime.get(device)
            if previous is not None:
                rebooted = uptime_went_back(previous[0], uptime, now - previous[1])
            self.counters.uptime[device] = (uptime, now)

        values: dict[str, Any] = {
            "platform": self.config.platform,
            "sys_uptime_s": uptime / 100 if uptime is not None else None,
            "rebooted": rebooted,
            "groups": {},
        }

        def typed(spec: OidSpec, raw: Any, key: str) -> Any:
            if raw is None or isinstance(raw, _MISSING):
                missing.append(key)
                return None
            try:
                return convert(spec, raw)
            except ValueError as exc:
                errors.append(f"{key}: {exc}")
                return None

        def with_rate(row: dict[str, Any], spec: OidSpec, value: Any, instance: str, at: float) -> None:
            row[spec.name] = value
            if not spec.rate or not isinstance(value, int):
                return
            key = (device, instance)
            previous = self.counters.counters.get(key)
            self.counters.counters[key] = (value, at)
            rate = None
            if previous is not None and not rebooted and at > previous[1]:
                delta = counter_delta(previous[0], value, COUNTER_BITS[spec.type])
                rate = delta / (at - previous[1]) if delta is not None else None
            row[f"{spec.name}_rate"] = rate

        for gname, group in groups.items():
            gvalues: dict[str, Any] = {}
            for spec in group.scalars:
                with_rate(gvalues, spec, typed(spec, got.get(spec.oid), f"{gname}.{spec.name}"), spec.oid, got_at)
            if group.columns:
                columns = await self._walk(engine, auth, target, ctx, [c.oid for c in group.columns])
                walked_at = self.clock()
                rows: dict[str, dict[str, Any]] = {}
                for spec in group.columns:
                    for index, raw in columns[spec.oid]:
                        row = rows.setdefault(index, {})
                        value = typed(spec, raw, f"{gname}.{spec.name}.{index}")
                        with_rate(row, spec, value, f"{spec.oid}.{index}", walked_at)
                gvalues["rows"] = rows
            values["groups"][gname] = gvalues

        if self.config.oids:
            values["oids"] = {oid: _plain(got.get(oid)) for oid in self.config.oids}
        if self.config.walk:
            walked = await self._walk(engine, auth, target, ctx, list(self.config.walk))
            values["walk"] = {root: {idx: _plain(v) for idx, v in rows} for root, rows in walked.items()}
        values["missing"] = missing
        values["errors"] = errors
        return values, errors

    async def _get(self, engine: SnmpEngine, auth: Any, target: Any, ctx: Any, oids: list[str]) -> dict[str, Any]:
        got: dict[str, Any] = {}
        for i in range(0, len(oids), GET_CHUNK):
            chunk = oids[i : i + GET_CHUNK]
            err, status, index, varbinds = await get_cmd(
                engine, auth, target, ctx, *(ObjectType(ObjectIdentity(o)) for o in chunk), lookupMib=False
            )
            if err:
                raise translate(err)
            if status:
                if str(status.prettyPrint() if hasattr(status, "prettyPrint") else status) == "noSuchName":
                    # SNMPv1: one unknown OID fails the whole PDU; ask one by one
                    for oid in chunk:
                        got.update(await self._get_one_v1(engine, auth, target, ctx, oid))
                    continue
                raise _status_error(status, index, varbinds)
            for name, value in varbinds:
                got[".".join(str(x) for x in name.asTuple())] = value
        return got

    async def _get_one_v1(self, engine: SnmpEngine, auth: Any, target: Any, ctx: Any, oid: str) -> dict[str, Any]:
        err, status, _index, varbinds = await get_cmd(
            engine, auth, target, ctx, ObjectType(ObjectIdentity(oid)), lookupMib=False
        )
        if err:
            raise translate(err)
        if status:
            return {oid: rfc1905.NoSuchObject()}
        return {".".join(str(x) for x in n.asTuple()): v for n, v in varbinds}

    async def _walk(
        self, engine: SnmpEngine, auth: Any, target: Any, ctx: Any, roots: list[str]
    ) -> dict[str, list[tuple[str, Any]]]:
        """Walk several columns at once (GETBULK, GETNEXT for v1). Rows as (index suffix, value)."""
        cfg = self.config
        results: dict[str, list[tuple[str, Any]]] = {r: [] for r in roots}
        root_t = {r: _oid_tuple(r) for r in roots}
        cursor = {r: root_t[r] for r in roots}
        pending = list(roots)
        expected = self._walk_rows.get(tuple(roots))
        while pending:
            n = len(pending)
            request = [ObjectType(ObjectIdentity(rfc1902.ObjectName(cursor[r]))) for r in pending]
            if cfg.version is SnmpVersion.V1:
                err, status, index, varbinds = await next_cmd(engine, auth, target, ctx, *request, lookupMib=False)
            else:
                wanted = cfg.max_repetitions if expected is None else expected + 1
                expected = None  # a table longer than last time: the next requests ask for the full count
                reps = max(1, min(wanted, 200 // n))
                err, status, index, varbinds = await bulk_cmd(
                    engine, auth, target, ctx, 0, reps, *request, lookupMib=False
                )
            if err:
                raise translate(err)
            if status:
                if str(status.prettyPrint()) == "noSuchName":  # SNMPv1 end of MIB
                    break
                raise _status_error(status, index, varbinds)
            done: set[str] = set()
            progressed: set[str] = set()
            for k, (name, value) in enumerate(varbinds):
                root = pending[k % n]
                if root in done:
                    continue
                oid = tuple(name.asTuple())
                if isinstance(value, rfc1905.EndOfMibView) or not _in_subtree(oid, root_t[root]):
                    done.add(root)
                    continue
                if oid <= cursor[root]:
                    raise ParseError(f"OID not increasing after {'.'.join(map(str, cursor[root]))}")
                cursor[root] = oid
                results[root].append((".".join(str(x) for x in oid[len(root_t[root]) :]), value))
                progressed.add(root)
                if len(results[root]) > cfg.max_rows:
                    raise ParseError(f"walk of {root} exceeds max_rows={cfg.max_rows}")
            pending = [r for r in pending if r not in done and r in progressed]
        self._walk_rows[tuple(roots)] = max((len(rows) for rows in results.values()), default=0)
        return results


def _plain(value: Any) -> Any:
    """A raw varbind value as JSON-friendly data (for the extra `oids` / `walk` of a manual probe)."""
    if value is None or isinstance(value, _MISSING):
        return None
    if isinstance(value, univ.ObjectIdentifier):
        return ".".join(str(x) for x in value.asTuple())
    if isinstance(value, rfc1902.IpAddress):
        return str(ipaddress.IPv4Address(bytes(value)))
    if isinstance(value, rfc1902.OctetString):
        return _text(value)
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)
