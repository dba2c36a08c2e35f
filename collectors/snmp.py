"""SNMP poll (pysnmp 7 asyncio API): GETs and bulk walks of the OID groups a device profile names.

* v3 authPriv (SHA/AES) is the default; v1/v2c only when `version` says so explicitly.
* v1/v2c go through pysnmp's light v1arch API (`SnmpDispatcher`: no SNMP engine, no message-processing or
  security subsystems, no MIB resolution of the request), v3 through its v3arch API (`SnmpEngine`). One
  dispatcher and one engine per process (per running event loop, which is one per process in the agent).
* v1/v2c: only a Response-PDU of the request's version and community, from the address and port asked, with
  the request's id, is an answer (`_Dispatcher`); anything else is dropped and the request times out.
* Numeric OIDs only: no MIB is loaded or parsed at run time (`lookupMib=False`).
* Counters become per-second rates between two polls of the same collector: a Counter32 that goes back
  wrapped once (2**32 added), a Counter64 that goes back was reset (no rate), and a sysUpTime that goes back
  (other than its own 2**32 wrap) is a reboot: every rate of that poll is dropped and `rebooted` is true.
* A failed poll is a `ProbeResult(ok=False, reason=...)`; library errors are translated in `translate()`.
  A value of the wrong type is a parse error for that value: the others are still returned.
"""

from __future__ import annotations

import asyncio
import contextlib
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

import pysnmp.hlapi.v1arch.asyncio as v1arch  # noqa: E402
from pyasn1.codec.ber import decoder  # noqa: E402
from pyasn1.error import PyAsn1Error  # noqa: E402
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
from pysnmp.proto import api, errind, rfc1902, rfc1905  # noqa: E402
from pysnmp.proto.api import verdec  # noqa: E402
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
UPTIME_OID = "1.3.6.1.2.1.1.3.0"
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


_NUMBER_TYPES: dict[ValueType, tuple[Any, ...]] = {
    ValueType.INTEGER: (rfc1902.Integer32, rfc1902.Integer, rfc1902.Unsigned32, rfc1902.Gauge32),
    ValueType.ENUM: (rfc1902.Integer32, rfc1902.Integer),
    ValueType.GAUGE: (rfc1902.Gauge32, rfc1902.Unsigned32, rfc1902.Integer32, rfc1902.Integer),
    ValueType.COUNTER32: (rfc1902.Counter32,),
    ValueType.COUNTER64: (rfc1902.Counter64,),
    ValueType.TIMETICKS: (rfc1902.TimeTicks,),
}


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
    if not isinstance(value, _NUMBER_TYPES[t]):
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


# --- engine (v3) and dispatcher (v1/v2c) ---------------------------------------------------------------------

_ENGINES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SnmpEngine] = weakref.WeakKeyDictionary()


def shared_engine() -> SnmpEngine:
    """The process's SNMP engine (one per running event loop: pysnmp transports are bound to a loop)."""
    loop = asyncio.get_running_loop()
    engine = _ENGINES.get(loop)
    if engine is None:
        engine = _ENGINES[loop] = SnmpEngine()
    return engine


_RESPONSE_TAGS = {version: proto.GetResponsePDU.tagSet for version, proto in api.PROTOCOL_MODULES.items()}
_UNDECODABLE = (PyAsn1Error, PySnmpError, KeyError, TypeError, ValueError)


class _Dispatcher(v1arch.SnmpDispatcher):  # type: ignore[misc]  # pysnmp is untyped
    """pysnmp's v1arch dispatcher, with two changes.

    * Stricter about what answers a request. pysnmp's own receive callback matches the request id alone (any
      PDU type, version, community or source), decodes every message of a datagram and lets an undecodable
      one raise out of the transport's callback. Here an answer is one Response-PDU with the id, version and
      community of a pending request, from the address and port that request went to; anything else is
      dropped (the request then times out, as for a lost answer).
    * Retries and timeouts on one timer per request (`loop.call_later`) instead of pysnmp's periodic tick,
      which wakes the loop every 0.1 s for ever once a request was sent (≈ 0.15 % of a core while idle, most
      of an edge agent's time) and fires a timeout up to one tick late. The tick is slowed to pysnmp's
      slowest (10 s) with nothing registered on it."""

    def __init__(self) -> None:
        super().__init__()
        self.transport_dispatcher.unregister_timer_callback()
        self.transport_dispatcher.set_timer_resolution(10)

    def send_pdu(self, authData: Any, transportTarget: Any, reqPdu: Any, cbFun: Any = None, cbCtx: Any = None) -> int:
        request_id = int(super().send_pdu(authData, transportTarget, reqPdu, cbFun, cbCtx))
        state = self._pendingReqs[request_id]
        community = bytes(rfc1902.OctetString(authData.communityName))
        state["answer"] = (authData.mpModel, community, transportTarget.transport_address[:2])
        state["timer"] = self.transport_dispatcher.loop.call_later(transportTarget.timeout, self._expire, request_id)
        return request_id

    def _expire(self, request_id: int) -> None:
        state = self._pendingReqs.get(request_id)
        if state is None:
            return
        target = state["transportTarget"]
        if state["retries"] < target.retries:
            state["retries"] += 1
            state["timer"] = self.transport_dispatcher.loop.call_later(target.timeout, self._expire, request_id)
            with contextlib.suppress(PySnmpError, OSError):  # this attempt is lost; the timer goes on
                self.transport_dispatcher.send_message(
                    state["outgoingMsg"], target.TRANSPORT_DOMAIN, target.transport_address
                )
            return
        del self._pendingReqs[request_id]
        self.transport_dispatcher.job_finished(id(self))
        if state["cbFun"]:
            state["cbFun"](self, request_id, errind.requestTimedOut, None, state["cbCtx"])

    def _recv_callback(self, _dispatcher: Any, _domain: Any, address: Any, datagram: bytes) -> None:
        try:
            version = int(verdec.decode_message_version(datagram))
            proto = api.PROTOCOL_MODULES[version]
            message, _rest = decoder.decode(datagram, asn1Spec=proto.Message())
            pdu = proto.apiMessage.get_pdu(message)
            request_id = int(proto.apiPDU.get_request_id(pdu))
            answer = (version, bytes(proto.apiMessage.get_community(message)), tuple(address[:2]))
        except _UNDECODABLE:
            return
        state = self._pendingReqs.get(request_id)
        if state is None or state.get("answer") != answer or pdu.tagSet != _RESPONSE_TAGS[version]:
            return
        del self._pendingReqs[request_id]
        state["timer"].cancel()
        self.transport_dispatcher.job_finished(id(self))
        if state["cbFun"]:
            state["cbFun"](self, request_id, None, pdu, state["cbCtx"])


_DISPATCHERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Dispatcher] = weakref.WeakKeyDictionary()


def shared_dispatcher() -> _Dispatcher:
    """The process's v1/v2c dispatcher (one per running event loop, like `shared_engine`)."""
    loop = asyncio.get_running_loop()
    dispatcher = _DISPATCHERS.get(loop)
    if dispatcher is None:
        dispatcher = _DISPATCHERS[loop] = _Dispatcher()
    return dispatcher


_NULL = univ.Null("")


class _CommunitySession:
    """One poll's requests, v1/v2c (v1arch): plain (name, Null) varbinds, nothing resolved against a MIB."""

    def __init__(self, auth: Any, target: Any) -> None:
        self.dispatcher = shared_dispatcher()
        self.auth = auth
        self.target = target

    async def get(self, names: Sequence[Any]) -> Any:
        return await v1arch.get_cmd(self.dispatcher, self.auth, self.target, *((n, _NULL) for n in names))

    async def next(self, names: Sequence[Any]) -> Any:
        return await v1arch.next_cmd(self.dispatcher, self.auth, self.target, *((n, _NULL) for n in names))

    async def bulk(self, repetitions: int, names: Sequence[Any]) -> Any:
        varbinds = ((n, _NULL) for n in names)
        return await v1arch.bulk_cmd(self.dispatcher, self.auth, self.target, 0, repetitions, *varbinds)


class _UsmSession:
    """One poll's requests, v3 (v3arch, the SNMP engine with its USM)."""

    def __init__(self, auth: Any, target: Any, context: str) -> None:
        self.engine = shared_engine()
        self.auth = auth
        self.target = target
        self.ctx = ContextData(contextName=context) if context else ContextData()

    def _varbinds(self, names: Sequence[Any]) -> list[Any]:
        return [ObjectType(ObjectIdentity(n)) for n in names]

    async def get(self, names: Sequence[Any]) -> Any:
        return await get_cmd(self.engine, self.auth, self.target, self.ctx, *self._varbinds(names), lookupMib=False)

    async def next(self, names: Sequence[Any]) -> Any:
        return await next_cmd(self.engine, self.auth, self.target, self.ctx, *self._varbinds(names), lookupMib=False)

    async def bulk(self, repetitions: int, names: Sequence[Any]) -> Any:
        varbinds = self._varbinds(names)
        return await bulk_cmd(self.engine, self.auth, self.target, self.ctx, 0, repetitions, *varbinds, lookupMib=False)


_Session = _CommunitySession | _UsmSession


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
    ) -> None:
        self.config = config
        self.counters = counters or CounterStore()
        self.clock = clock
        self._groups: dict[str, OidGroup] | None = None
        self._gets: tuple[list[str], list[rfc1902.ObjectName]] | None = None
        self._targets: dict[str, Any] = {}  # transport targets of IP literals (a name is resolved at every poll)
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

    def _get_oids(self) -> tuple[list[str], list[rfc1902.ObjectName]]:
        """The OIDs GET at every poll (sysUpTime, every scalar of every group, the extra OIDs), built once."""
        if self._gets is None:
            scalars = [spec.oid for group in self.groups().values() for spec in group.scalars]
            oids = list(dict.fromkeys([UPTIME_OID, *scalars, *self.config.oids]))
            self._gets = oids, [rfc1902.ObjectName(oid) for oid in oids]
        return self._gets

    def _auth(self) -> Any:
        cfg = self.config
        if cfg.version is not SnmpVersion.V3:
            assert cfg.community is not None
            return v1arch.CommunityData(cfg.community.reveal(), mpModel=0 if cfg.version is SnmpVersion.V1 else 1)
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

    async def _session(self, host: str) -> _Session:
        cfg = self.config
        target = self._targets.get(host)
        if target is None:
            try:
                literal = ipaddress.ip_address(host).version
            except ValueError:
                literal = None
            v3 = cfg.version is SnmpVersion.V3
            if literal == 6:
                cls = Udp6TransportTarget if v3 else v1arch.Udp6TransportTarget
            else:
                cls = UdpTransportTarget if v3 else v1arch.UdpTransportTarget
            target = await cls.create((host, cfg.port), timeout=cfg.timeout_s, retries=cfg.retries)
            if literal is not None:
                self._targets[host] = target
        if cfg.version is SnmpVersion.V3:
            return _UsmSession(self._auth(), target, cfg.context)
        return _CommunitySession(self._auth(), target)

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
        session = await self._session(host)
        device = f"{host}:{self.config.port}/{self.config.context}"
        now = self.clock()
        errors: list[str] = []
        missing: list[str] = []

        # 1. every scalar of every group (and the extra OIDs) with GETs, sysUpTime always included
        got = await self._get(session, *self._get_oids())
        got_at = self.clock()  # counters are timed when their answer arrived, not when the poll began

        uptime_raw = got.get(UPTIME_OID)
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
                columns = await self._walk(session, [c.oid for c in group.columns])
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
            walked = await self._walk(session, list(self.config.walk))
            values["walk"] = {root: {idx: _plain(v) for idx, v in rows} for root, rows in walked.items()}
        values["missing"] = missing
        values["errors"] = errors
        return values, errors

    async def _get(self, session: _Session, oids: list[str], names: list[rfc1902.ObjectName]) -> dict[str, Any]:
        got: dict[str, Any] = {}
        for i in range(0, len(oids), GET_CHUNK):
            err, status, index, varbinds = await session.get(names[i : i + GET_CHUNK])
            if err:
                raise translate(err)
            if status:
                if str(status.prettyPrint() if hasattr(status, "prettyPrint") else status) == "noSuchName":
                    # SNMPv1: one unknown OID fails the whole PDU; ask one by one
                    for oid, name in zip(oids[i : i + GET_CHUNK], names[i : i + GET_CHUNK], strict=True):
                        got.update(await self._get_one_v1(session, oid, name))
                    continue
                raise _status_error(status, index, varbinds)
            for name, value in varbinds:
                got[str(name)] = value
        return got

    async def _get_one_v1(self, session: _Session, oid: str, name: rfc1902.ObjectName) -> dict[str, Any]:
        err, status, _index, varbinds = await session.get([name])
        if err:
            raise translate(err)
        if status:
            return {oid: rfc1905.NoSuchObject()}
        return {str(n): v for n, v in varbinds}

    async def _walk(self, session: _Session, roots: list[str]) -> dict[str, list[tuple[str, Any]]]:
        """Walk several columns at once (GETBULK, GETNEXT for v1). Rows as (index suffix, value)."""
        cfg = self.config
        results: dict[str, list[tuple[str, Any]]] = {r: [] for r in roots}
        root_t = {r: _oid_tuple(r) for r in roots}
        cursor = {r: root_t[r] for r in roots}
        pending = list(roots)
        expected = self._walk_rows.get(tuple(roots))
        while pending:
            n = len(pending)
            request = [rfc1902.ObjectName(cursor[r]) for r in pending]
            if cfg.version is SnmpVersion.V1:
                err, status, index, varbinds = await session.next(request)
            else:
                wanted = cfg.max_repetitions if expected is None else expected + 1
                expected = None  # a table longer than last time: the next requests ask for the full count
                reps = max(1, min(wanted, 200 // n))
                err, status, index, varbinds = await session.bulk(reps, request)
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
