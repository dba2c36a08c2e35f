"""SNMP poll (pysnmp 7 asyncio API): GETs and bulk walks of the OID groups a device profile names.

* v3 authPriv (SHA/AES) is the default; v1/v2c only when `version` says so explicitly.
* v1/v2c messages are encoded and decoded by our own strict BER codec (`collectors.snmp_ber`), sent and
  received through the UDP transports of pysnmp's light v1arch dispatcher (no SNMP engine); v3 goes through
  pysnmp's v3arch API (`SnmpEngine`: USM, encryption). One dispatcher and one engine per process (per
  running event loop, which is one per process in the agent).
* Why our own decoder: pyasn1, pysnmp's codec, built schema-checked ASN.1 objects for every varbind that the
  collector only read back as numbers, octets and OIDs: 75 % of a v1/v2c poll's CPU (3.6 of 4.8 ms for
  linux_netsnmp `system` + `interfaces` against snmpd), ≈ 18 % of an edge agent's. Decoding straight into
  `snmp_ber.Value` (BER tag, plain data) made that poll 0.53 ms (9 × less; 11.8 → 0.89 ms, 13 ×, on a 9-row
  ifTable). Every response of the lab's agents decodes as pyasn1 decoded it (tests/collectors/test_snmp_ber.py).
* v1/v2c: only a well-formed Response-PDU of the request's version and community, from the address and port
  asked, with the request's (random) id, is an answer (`_Dispatcher`); anything else is dropped and the
  request times out, its detail naming what came from that agent and was dropped.
* Every value, v1/v2c or v3, is a `Value` (v3 answers converted from pysnmp's with `from_pyasn1`).
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
import secrets
import sys
import time
import weakref
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar


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
from pysnmp.proto import errind, rfc1902  # noqa: E402
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
from collectors.snmp_ber import (  # noqa: E402
    COUNTER32,
    COUNTER64,
    END_OF_MIB_VIEW,
    GAUGE32,
    GET_BULK_REQUEST,
    GET_NEXT_REQUEST,
    GET_REQUEST,
    INTEGER,
    IP_ADDRESS,
    MISSING,
    NO_SUCH_OBJECT,
    NULL,
    OBJECT_IDENTIFIER,
    OCTET_STRING,
    OPAQUE,
    TIMETICKS,
    V1,
    V2C,
    BerError,
    Oid,
    Response,
    Value,
    decode_response,
    encode_oid,
    encode_request,
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
ERROR_STATUS_NAMES = (
    "noError",
    "tooBig",
    "noSuchName",
    "badValue",
    "readOnly",
    "genErr",
    "noAccess",
    "wrongType",
    "wrongLength",
    "wrongEncoding",
    "wrongValue",
    "noCreation",
    "inconsistentValue",
    "resourceUnavailable",
    "commitFailed",
    "undoFailed",
    "authorizationError",
    "notWritable",
    "inconsistentName",
)
NO_SUCH_NAME = 2
Varbinds = list[tuple[Oid, Value]]


def _status_error(status: int, index: int, varbinds: Varbinds) -> CollectorError:
    text = ERROR_STATUS_NAMES[status] if 0 <= status <= ERROR_STATUS_MAX else str(status)
    where = f" at {_dotted(varbinds[index - 1][0])}" if 0 < index <= len(varbinds) else ""
    if text in ("authorizationError", "noAccess"):
        return AuthFailed(f"agent error-status {text}{where}")
    if text == "tooBig":
        return Misconfigured(f"agent error-status tooBig{where}: lower max_repetitions")
    if not 0 <= status <= ERROR_STATUS_MAX:
        return ParseError(f"malformed response: error-status {text} is outside 0..{ERROR_STATUS_MAX} (RFC 3416)")
    return Refused(f"agent error-status {text}{where}")


# --- value conversion -----------------------------------------------------------------------------------------


def _dotted(oid: Oid) -> str:
    return ".".join(map(str, oid))


def _text(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.hex(":")
    if text.isprintable() or all(c.isprintable() or c in "\r\n\t" for c in text):
        return text.rstrip("\x00")
    return raw.hex(":")


# The value types each profile type accepts (IpAddress was an OCTET STRING subclass for pysnmp: still a string)
_ACCEPTED: dict[ValueType, tuple[frozenset[int], str]] = {
    ValueType.STRING: (frozenset((OCTET_STRING, IP_ADDRESS)), "OCTET STRING"),
    ValueType.OID: (frozenset((OBJECT_IDENTIFIER,)), "OBJECT IDENTIFIER"),
    ValueType.IPADDRESS: (frozenset((IP_ADDRESS,)), "IpAddress"),
    ValueType.INTEGER: (frozenset((INTEGER, GAUGE32)), ValueType.INTEGER.value),
    ValueType.ENUM: (frozenset((INTEGER,)), ValueType.ENUM.value),
    ValueType.GAUGE: (frozenset((GAUGE32, INTEGER)), ValueType.GAUGE.value),
    ValueType.COUNTER32: (frozenset((COUNTER32,)), ValueType.COUNTER32.value),
    ValueType.COUNTER64: (frozenset((COUNTER64,)), ValueType.COUNTER64.value),
    ValueType.TIMETICKS: (frozenset((TIMETICKS,)), ValueType.TIMETICKS.value),
}


def convert(spec: OidSpec, value: Value) -> Any:
    """A varbind value as the profile types it. Raises ValueError on a type mismatch (garbage)."""
    t = spec.type
    accepted, expected = _ACCEPTED[t]
    tag, data = value
    if tag not in accepted:
        raise ValueError(f"{spec.name}: expected {expected}, got {value.type_name}")
    if t is ValueType.STRING:
        assert isinstance(data, bytes)
        return _text(data)
    if t is ValueType.OID:
        assert isinstance(data, tuple)
        return _dotted(data)
    if t is ValueType.IPADDRESS:
        assert isinstance(data, bytes)
        return str(ipaddress.IPv4Address(data))
    assert isinstance(data, int)
    if t is ValueType.ENUM:
        assert spec.enum is not None
        return spec.enum.get(data, str(data))
    if spec.scale is not None:
        return data * spec.scale
    return data


def from_pyasn1(value: Any) -> Value:
    """A value decoded by pysnmp (the SNMPv3 engine's answers) as the v1/v2c decoder gives it: by BER tag."""
    tag = value.tagSet[0]
    code = tag.tagClass | tag.tagFormat | tag.tagId
    if code in (OCTET_STRING, OPAQUE, IP_ADDRESS):
        return Value(code, bytes(value))
    if code == OBJECT_IDENTIFIER:
        return Value(code, tuple(value))
    if code == NULL or code in MISSING:
        return Value(code, None)
    return Value(code, int(value))


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

_Shared = TypeVar("_Shared")


def _per_loop(
    cache: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Shared], make: Callable[[], _Shared]
) -> _Shared:
    """The running event loop's instance in `cache`, made on first use (pysnmp transports are bound to a loop)."""
    loop = asyncio.get_running_loop()
    shared = cache.get(loop)
    if shared is None:
        shared = cache[loop] = make()
    return shared


_ENGINES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SnmpEngine] = weakref.WeakKeyDictionary()


def shared_engine() -> SnmpEngine:
    """The process's SNMP engine (one per running event loop)."""
    return _per_loop(_ENGINES, SnmpEngine)


class _Pending:
    """A v1/v2c request waiting for its answer."""

    __slots__ = ("answer", "future", "last_rejection", "message", "rejected", "retries", "target", "timer")

    def __init__(self, message: bytes, target: Any, answer: tuple[int, bytes, tuple[Any, ...]]) -> None:
        self.message = message
        self.target = target
        self.answer = answer  # (version, community, (address, port)) an answer must come with
        self.future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self.retries = 0
        self.timer: asyncio.TimerHandle | None = None
        self.rejected = 0  # datagrams from the address asked that were not the answer (malformed, ...)
        self.last_rejection = ""


class _Dispatcher(v1arch.SnmpDispatcher):  # type: ignore[misc]  # pysnmp is untyped
    """The v1/v2c requests of the process: pysnmp's v1arch dispatcher for its UDP transports only; messages are
    encoded and decoded by `collectors.snmp_ber` (no pyasn1 object on this path).

    * Strict about what answers a request: one well-formed Response-PDU (`decode_response`: the whole datagram)
      with the id, version and community of a pending request, from the address and port that request went to.
      Anything else is dropped (the request then times out, as for a lost answer); what came from the address
      asked and was dropped is named in that timeout's detail (e.g. a truncated message, a Report-PDU).
    * Retries and timeouts on one timer per request (`loop.call_later`) instead of pysnmp's periodic tick,
      which wakes the loop every 0.1 s for ever once a request was sent (≈ 0.15 % of a core while idle, most
      of an edge agent's time) and fires a timeout up to one tick late. The tick is slowed to pysnmp's
      slowest (10 s) with nothing registered on it.
    * Request ids are random (31 bits) for each request, not a counter: an off-path sender cannot guess them."""

    def __init__(self) -> None:
        super().__init__()
        self.transport_dispatcher.unregister_timer_callback()
        self.transport_dispatcher.set_timer_resolution(10)
        self._requests: dict[int, _Pending] = {}

    def request(
        self, version: int, community: bytes, target: Any, pdu_tag: int, names: list[bytes], extra: tuple[int, int]
    ) -> asyncio.Future[Response]:
        """Send a request (`snmp_ber.encode_request`'s arguments); its future is the decoded Response, or
        raises Timeout after the target's retries."""
        domain = target.TRANSPORT_DOMAIN
        if self._automaticDispatcher and domain not in self._configuredTransports:  # as pysnmp's send_pdu
            transport = target.PROTO_TRANSPORT().open_client_mode(target.iface)
            self.transport_dispatcher.register_transport(domain, transport)
            self._configuredTransports.add(domain)
        request_id = secrets.randbits(31)
        while request_id in self._requests:
            request_id = secrets.randbits(31)
        message = encode_request(version, community, pdu_tag, request_id, names, extra)
        pending = _Pending(message, target, (version, community, tuple(target.transport_address[:2])))
        self.transport_dispatcher.send_message(message, domain, target.transport_address)
        self._requests[request_id] = pending
        self.transport_dispatcher.job_started(id(self))
        pending.timer = self.transport_dispatcher.loop.call_later(target.timeout, self._expire, request_id)
        pending.future.add_done_callback(lambda future: self._forget(request_id) if future.cancelled() else None)
        return pending.future

    def _forget(self, request_id: int) -> _Pending | None:
        pending = self._requests.pop(request_id, None)
        if pending is not None:
            if pending.timer is not None:
                pending.timer.cancel()
            self.transport_dispatcher.job_finished(id(self))
        return pending

    def _expire(self, request_id: int) -> None:
        pending = self._requests.get(request_id)
        if pending is None:
            return
        target = pending.target
        if pending.retries < target.retries:
            pending.retries += 1
            pending.timer = self.transport_dispatcher.loop.call_later(target.timeout, self._expire, request_id)
            with contextlib.suppress(PySnmpError, OSError):  # this attempt is lost; the timer goes on
                self.transport_dispatcher.send_message(
                    pending.message, target.TRANSPORT_DOMAIN, target.transport_address
                )
            return
        self._forget(request_id)
        detail = "no SNMP response (wrong community, address or port looks the same)"
        if pending.rejected:
            address, port = pending.answer[2]
            detail += (
                f"; {pending.rejected} datagram(s) from {address}:{port} dropped as no answer,"
                f" the last: {pending.last_rejection}"
            )
        if not pending.future.done():
            pending.future.set_exception(Timeout(detail))

    def _reject(self, address: tuple[Any, ...], reason: str) -> None:
        """A datagram that answers nothing: noted on the requests that went to its source address and port."""
        for pending in self._requests.values():
            if pending.answer[2] == address:
                pending.rejected += 1
                pending.last_rejection = reason

    def _recv_callback(self, _dispatcher: Any, _domain: Any, address: Any, datagram: bytes) -> None:
        source = tuple(address[:2])
        try:
            response = decode_response(datagram)
        except BerError as exc:
            self._reject(source, f"malformed: {exc}")
            return
        pending = self._requests.get(response.request_id)
        if pending is None:
            return  # not ours, or a late answer to a request already answered or timed out
        if pending.answer != (response.version, response.community, source):
            if pending.answer[2] == source:
                self._reject(source, f"request-id {response.request_id} with another version or community")
            return
        self._forget(response.request_id)
        if not pending.future.done():
            pending.future.set_result(response)


_DISPATCHERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Dispatcher] = weakref.WeakKeyDictionary()


def shared_dispatcher() -> _Dispatcher:
    """The process's v1/v2c dispatcher (one per running event loop, like `shared_engine`)."""
    return _per_loop(_DISPATCHERS, _Dispatcher)


_Reply = tuple[int, int, Varbinds]  # error-status, error-index, varbinds


class _CommunitySession:
    """One poll's requests, v1/v2c: messages encoded and decoded by `collectors.snmp_ber`."""

    def __init__(self, version: int, community: bytes, target: Any) -> None:
        self.dispatcher = shared_dispatcher()
        self.version = version
        self.community = community
        self.target = target

    async def _request(self, pdu_tag: int, names: Sequence[Oid], extra: tuple[int, int] = (0, 0)) -> _Reply:
        encoded = [encode_oid(name) for name in names]
        response = await self.dispatcher.request(self.version, self.community, self.target, pdu_tag, encoded, extra)
        return response.error_status, response.error_index, response.varbinds

    async def get(self, names: Sequence[Oid]) -> _Reply:
        return await self._request(GET_REQUEST, names)

    async def next(self, names: Sequence[Oid]) -> _Reply:
        return await self._request(GET_NEXT_REQUEST, names)

    async def bulk(self, repetitions: int, names: Sequence[Oid]) -> _Reply:
        return await self._request(GET_BULK_REQUEST, names, (0, repetitions))


class _UsmSession:
    """One poll's requests, v3 (v3arch, the SNMP engine with its USM); answers converted with `from_pyasn1`."""

    def __init__(self, auth: Any, target: Any, context: str) -> None:
        self.engine = shared_engine()
        self.auth = auth
        self.target = target
        self.ctx = ContextData(contextName=context) if context else ContextData()

    def _varbinds(self, names: Sequence[Oid]) -> list[Any]:
        return [ObjectType(ObjectIdentity(rfc1902.ObjectName(n))) for n in names]

    @staticmethod
    def _reply(err: Any, status: Any, index: Any, varbinds: Sequence[Any]) -> _Reply:
        if err:
            raise translate(err)
        return int(status), int(index), [(tuple(name), from_pyasn1(value)) for name, value in varbinds]

    async def get(self, names: Sequence[Oid]) -> _Reply:
        varbinds = self._varbinds(names)
        return self._reply(*await get_cmd(self.engine, self.auth, self.target, self.ctx, *varbinds, lookupMib=False))

    async def next(self, names: Sequence[Oid]) -> _Reply:
        varbinds = self._varbinds(names)
        return self._reply(*await next_cmd(self.engine, self.auth, self.target, self.ctx, *varbinds, lookupMib=False))

    async def bulk(self, repetitions: int, names: Sequence[Oid]) -> _Reply:
        varbinds = self._varbinds(names)
        reply = await bulk_cmd(
            self.engine, self.auth, self.target, self.ctx, 0, repetitions, *varbinds, lookupMib=False
        )
        return self._reply(*reply)


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
        self._gets: tuple[list[str], list[Oid]] | None = None
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

    def _get_oids(self) -> tuple[list[str], list[Oid]]:
        """The OIDs GET at every poll (sysUpTime, every scalar of every group, the extra OIDs), built once."""
        if self._gets is None:
            scalars = [spec.oid for group in self.groups().values() for spec in group.scalars]
            oids = list(dict.fromkeys([UPTIME_OID, *scalars, *self.config.oids]))
            self._gets = oids, [_oid_tuple(oid) for oid in oids]
        return self._gets

    def _auth(self) -> Any:
        """v1/v2c: (version, community octets); v3: pysnmp's USM user (cryptography loaded for authPriv)."""
        cfg = self.config
        if cfg.version is not SnmpVersion.V3:
            assert cfg.community is not None
            return (V1 if cfg.version is SnmpVersion.V1 else V2C), cfg.community.reveal().encode()
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
        version, community = self._auth()
        return _CommunitySession(version, community, target)

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
        uptime = uptime_raw.data if uptime_raw is not None and uptime_raw.tag == TIMETICKS else None
        assert uptime is None or isinstance(uptime, int)
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

        def typed(spec: OidSpec, raw: Value | None, key: str) -> Any:
            if raw is None or raw.tag in MISSING:
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

    async def _get(self, session: _Session, oids: list[str], names: list[Oid]) -> dict[str, Value]:
        got: dict[str, Value] = {}
        for i in range(0, len(oids), GET_CHUNK):
            status, index, varbinds = await session.get(names[i : i + GET_CHUNK])
            if status:
                if status == NO_SUCH_NAME:
                    # SNMPv1: one unknown OID fails the whole PDU; ask one by one
                    for oid, name in zip(oids[i : i + GET_CHUNK], names[i : i + GET_CHUNK], strict=True):
                        got.update(await self._get_one_v1(session, oid, name))
                    continue
                raise _status_error(status, index, varbinds)
            for name, value in varbinds:
                got[_dotted(name)] = value
        return got

    async def _get_one_v1(self, session: _Session, oid: str, name: Oid) -> dict[str, Value]:
        status, _index, varbinds = await session.get([name])
        if status:
            return {oid: Value(NO_SUCH_OBJECT, None)}
        return {_dotted(n): v for n, v in varbinds}

    async def _walk(self, session: _Session, roots: list[str]) -> dict[str, list[tuple[str, Value]]]:
        """Walk several columns at once (GETBULK, GETNEXT for v1). Rows as (index suffix, value)."""
        cfg = self.config
        results: dict[str, list[tuple[str, Value]]] = {r: [] for r in roots}
        root_t = {r: _oid_tuple(r) for r in roots}
        cursor = {r: root_t[r] for r in roots}
        pending = list(roots)
        expected = self._walk_rows.get(tuple(roots))
        while pending:
            n = len(pending)
            request = [cursor[r] for r in pending]
            if cfg.version is SnmpVersion.V1:
                status, index, varbinds = await session.next(request)
            else:
                wanted = cfg.max_repetitions if expected is None else expected + 1
                expected = None  # a table longer than last time: the next requests ask for the full count
                reps = max(1, min(wanted, 200 // n))
                status, index, varbinds = await session.bulk(reps, request)
            if status:
                if status == NO_SUCH_NAME:  # SNMPv1 end of MIB
                    break
                raise _status_error(status, index, varbinds)
            done: set[str] = set()
            progressed: set[str] = set()
            for k, (oid, value) in enumerate(varbinds):
                root = pending[k % n]
                if root in done:
                    continue
                if value.tag == END_OF_MIB_VIEW or not _in_subtree(oid, root_t[root]):
                    done.add(root)
                    continue
                if oid <= cursor[root]:
                    raise ParseError(f"OID not increasing after {_dotted(cursor[root])}")
                cursor[root] = oid
                results[root].append((_dotted(oid[len(root_t[root]) :]), value))
                progressed.add(root)
                if len(results[root]) > cfg.max_rows:
                    raise ParseError(f"walk of {root} exceeds max_rows={cfg.max_rows}")
            pending = [r for r in pending if r not in done and r in progressed]
        self._walk_rows[tuple(roots)] = max((len(rows) for rows in results.values()), default=0)
        return results


def _plain(value: Value | None) -> Any:
    """A raw varbind value as JSON-friendly data (for the extra `oids` / `walk` of a manual probe)."""
    if value is None or value.tag in MISSING:
        return None
    tag, data = value
    if data is None:  # NULL (unSpecified): pysnmp printed it as ""
        return ""
    if isinstance(data, tuple):
        return _dotted(data)
    if tag == IP_ADDRESS:
        assert isinstance(data, bytes)
        return str(ipaddress.IPv4Address(data))
    if tag == OCTET_STRING:
        assert isinstance(data, bytes)
        return _text(data)
    if isinstance(data, bytes):  # Opaque: its octets as pysnmp printed them
        return data.decode("latin-1")
    return data
