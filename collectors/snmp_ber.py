"""A strict BER codec for exactly what the SNMP v1/v2c collector sends and receives (RFC 1157, RFC 3416).

Why our own: pyasn1 (pysnmp's BER codec) decoded every v1/v2c response into schema-checked ASN.1 objects
(clones of the Message spec, one per type per varbind) that the collector then read back as plain numbers,
bytes and OIDs: ≈ 75 % of a poll's CPU (3.6 of 4.8 ms for the linux_netsnmp `system` + `interfaces` groups
against net-snmp's snmpd) and ≈ 18 % of an edge agent's. This module decodes a Response message straight into
the collector's own values (`Value`: the BER tag and a plain int / bytes / OID tuple / None), and encodes the
requests from plain ints and OID tuples. SNMPv3 stays on pysnmp's engine (USM, encryption).

Decoding is strict; anything else raises `BerError` with what is wrong and where (the dispatcher drops such a
datagram, as it dropped what pyasn1 could not decode, and reports it if the request then times out):
* Message ::= SEQUENCE { version INTEGER (0 = v1, 1 = v2c), community OCTET STRING, PDU }, and nothing after it;
* the PDU must be a Response-PDU [2]: every other PDU tag (GetRequest [0] .. Report [8]) is named and refused;
* Response-PDU ::= [2] IMPLICIT SEQUENCE { request-id Integer32, error-status INTEGER (-2^31..2^31-1),
  error-index INTEGER (0..2^31-1), variable-bindings SEQUENCE OF SEQUENCE { name OID, value } };
* values: INTEGER (Integer32), OCTET STRING, NULL, OBJECT IDENTIFIER, IpAddress (4 octets), Counter32,
  Gauge32 / Unsigned32, TimeTicks (0..2^32-1), Opaque, and in v2c only Counter64 (0..2^64-1) and the
  exceptions noSuchObject, noSuchInstance, endOfMibView (empty);
* definite lengths only (short form, or long form with 1..4 length octets: leading zeros allowed, as net-snmp
  sends them), each within its container; single-octet tags, primitive or constructed exactly as the type is;
* INTEGER contents at least one octet (two's complement; leading sign octets allowed, as BER decoders accept);
  an OBJECT IDENTIFIER of 2..128 sub-identifiers, each minimally encoded, complete and below 2^32.
Deliberately stricter than pyasn1, which accepted: indefinite lengths, constructed OCTET STRINGs, an empty
INTEGER (as 0), sub-identifiers of any size, a negative error-index in v1, Counter64 / exceptions nowhere else.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

# Universal and SNMP application / context tags (one octet each)
INTEGER = 0x02
OCTET_STRING = 0x04
NULL = 0x05
OBJECT_IDENTIFIER = 0x06
SEQUENCE = 0x30
IP_ADDRESS = 0x40
COUNTER32 = 0x41
GAUGE32 = 0x42  # also Unsigned32: the same tag
TIMETICKS = 0x43
OPAQUE = 0x44
COUNTER64 = 0x46
NO_SUCH_OBJECT = 0x80
NO_SUCH_INSTANCE = 0x81
END_OF_MIB_VIEW = 0x82

GET_REQUEST = 0xA0
GET_NEXT_REQUEST = 0xA1
RESPONSE = 0xA2
GET_BULK_REQUEST = 0xA5

V1, V2C = 0, 1
MISSING = frozenset((NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW))

# Type names as pysnmp called the decoded values (the collector's "expected X, got Y" messages keep them)
TYPE_NAMES = {
    INTEGER: "Integer",
    OCTET_STRING: "OctetString",
    NULL: "Null",
    OBJECT_IDENTIFIER: "ObjectIdentifier",
    IP_ADDRESS: "IpAddress",
    COUNTER32: "Counter32",
    GAUGE32: "Gauge32",
    TIMETICKS: "TimeTicks",
    OPAQUE: "Opaque",
    COUNTER64: "Counter64",
    NO_SUCH_OBJECT: "NoSuchObject",
    NO_SUCH_INSTANCE: "NoSuchInstance",
    END_OF_MIB_VIEW: "EndOfMibView",
}
PDU_NAMES = {
    0xA0: "GetRequest-PDU [0]",
    0xA1: "GetNextRequest-PDU [1]",
    0xA2: "Response-PDU [2]",
    0xA3: "SetRequest-PDU [3]",
    0xA4: "Trap-PDU [4] (SNMPv1)",
    0xA5: "GetBulkRequest-PDU [5]",
    0xA6: "InformRequest-PDU [6]",
    0xA7: "SNMPv2-Trap-PDU [7]",
    0xA8: "Report-PDU [8]",
}

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
UINT32_MAX, UINT64_MAX = 2**32 - 1, 2**64 - 1
MAX_OID_ARCS = 128  # RFC 2578 §3.5
_UNSIGNED_RANGE = {COUNTER32: UINT32_MAX, GAUGE32: UINT32_MAX, TIMETICKS: UINT32_MAX, COUNTER64: UINT64_MAX}
_V1_TAGS = frozenset(
    (INTEGER, OCTET_STRING, NULL, OBJECT_IDENTIFIER, IP_ADDRESS, COUNTER32, GAUGE32, TIMETICKS, OPAQUE)
)
_V2C_TAGS = _V1_TAGS | {COUNTER64} | MISSING

Oid = tuple[int, ...]


class BerError(ValueError):
    """A datagram that is not a well-formed SNMP v1/v2c Response message: what is wrong and at which octet."""


class Value(NamedTuple):
    """A varbind value: its BER tag (INTEGER, OCTET_STRING, ... COUNTER64, NO_SUCH_OBJECT, ...) and its data:
    an int (INTEGER, Counter32, Gauge32, TimeTicks, Counter64), bytes (OCTET STRING, IpAddress, Opaque), an
    OID tuple (OBJECT IDENTIFIER) or None (NULL and the v2c exceptions)."""

    tag: int
    data: int | bytes | Oid | None

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.tag, f"tag 0x{self.tag:02x}")


class Response(NamedTuple):
    """A decoded Response message."""

    version: int  # V1 or V2C
    community: bytes
    request_id: int
    error_status: int
    error_index: int
    varbinds: list[tuple[Oid, Value]]


def _length(data: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    """The content (start, end) of the TLV whose length octets start at `pos`; it must end by `end`."""
    if pos >= end:
        raise BerError(f"{what}: truncated before its length (octet {pos})")
    first = data[pos]
    pos += 1
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise BerError(f"{what}: indefinite length at octet {pos - 1} (SNMP allows definite lengths only)")
    else:
        count = first & 0x7F
        if count > 4:
            raise BerError(f"{what}: {count} length octets at octet {pos - 1} (at most 4)")
        if pos + count > end:
            raise BerError(f"{what}: truncated inside its length (octet {pos})")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if length > end - pos:
        raise BerError(f"{what}: length {length} at octet {pos} exceeds the {end - pos} octets left")
    return pos, pos + length


def _open(data: bytes, pos: int, end: int, tag: int, what: str) -> tuple[int, int]:
    """Content (start, end) of the TLV at `pos`, which must have tag `tag`."""
    if pos >= end:
        raise BerError(f"{what}: missing (truncated at octet {pos})")
    if data[pos] != tag:
        raise BerError(f"{what}: tag 0x{data[pos]:02x} at octet {pos}, expected 0x{tag:02x}")
    return _length(data, pos + 1, end, what)


def _integer(data: bytes, start: int, end: int, low: int, high: int, what: str) -> int:
    if start == end:
        raise BerError(f"{what}: empty INTEGER at octet {start}")
    value = int.from_bytes(data[start:end], "big", signed=True)
    if not low <= value <= high:
        shown = str(value) if end - start <= 16 else f"a {end - start}-octet integer"
        raise BerError(f"{what}: {shown} at octet {start} is outside {low}..{high}")
    return value


def _oid(data: bytes, start: int, end: int, what: str) -> Oid:
    if start == end:
        raise BerError(f"{what}: empty OBJECT IDENTIFIER at octet {start}")
    chunk = data[start:end]
    if chunk.isascii():  # the common case: every sub-identifier on one octet (< 0x80)
        if end - start >= MAX_OID_ARCS:
            raise BerError(f"{what}: {end - start + 1} sub-identifiers (at most {MAX_OID_ARCS})")
        first = chunk[0]
        head = (0, first) if first < 40 else (1, first - 40) if first < 80 else (2, first - 80)
        return head + tuple(chunk[1:])
    arcs: list[int] = []
    sub = 0
    fresh = True  # at the first octet of a sub-identifier
    for pos in range(start, end):
        octet = data[pos]
        if fresh and octet == 0x80:
            raise BerError(f"{what}: sub-identifier with a leading 0x80 octet at octet {pos} (not minimal)")
        sub = (sub << 7) | (octet & 0x7F)
        if octet & 0x80:
            fresh = False
            continue
        if sub > UINT32_MAX:
            raise BerError(f"{what}: sub-identifier ending at octet {pos} exceeds 2^32-1")
        arcs.append(sub)
        sub = 0
        fresh = True
    if not fresh:
        raise BerError(f"{what}: truncated sub-identifier at octet {end - 1}")
    first = arcs[0]
    if first < 40:
        arcs[0:1] = (0, first)
    elif first < 80:
        arcs[0:1] = (1, first - 40)
    else:
        arcs[0:1] = (2, first - 80)
    if len(arcs) > MAX_OID_ARCS:
        raise BerError(f"{what}: {len(arcs)} sub-identifiers (at most {MAX_OID_ARCS})")
    return tuple(arcs)


def _value(data: bytes, pos: int, end: int, allowed: frozenset[int], what: str) -> tuple[Value, int]:
    """The varbind value at `pos` and the position after it."""
    if pos >= end:
        raise BerError(f"{what}: value missing (truncated at octet {pos})")
    tag = data[pos]
    if tag not in allowed:
        known = TYPE_NAMES.get(tag)
        kind = f"{known} is not an SNMPv1 type" if known else f"tag 0x{tag:02x} is not an SNMP value type"
        raise BerError(f"{what}: {kind} (octet {pos})")
    start, stop = _length(data, pos + 1, end, what)
    if tag in (OCTET_STRING, OPAQUE):
        return Value(tag, data[start:stop]), stop
    if tag == INTEGER:
        return Value(tag, _integer(data, start, stop, INT32_MIN, INT32_MAX, what)), stop
    if tag in _UNSIGNED_RANGE:
        return Value(tag, _integer(data, start, stop, 0, _UNSIGNED_RANGE[tag], what)), stop
    if tag == OBJECT_IDENTIFIER:
        return Value(tag, _oid(data, start, stop, what)), stop
    if tag == IP_ADDRESS:
        if stop - start != 4:
            raise BerError(f"{what}: IpAddress of {stop - start} octets at octet {start} (must be 4)")
        return Value(tag, data[start:stop]), stop
    # NULL and the exceptions
    if stop != start:
        raise BerError(f"{what}: {TYPE_NAMES[tag]} with {stop - start} content octets at octet {start}")
    return Value(tag, None), stop


def decode_response(datagram: bytes) -> Response:
    """Decode one SNMP v1/v2c Response message, the whole datagram. Raises BerError."""
    data = bytes(datagram)
    size = len(data)
    start, end = _open(data, 0, size, SEQUENCE, "message")
    if end != size:
        raise BerError(f"message: {size - end} trailing octets after it (octet {end})")
    s, e = _open(data, start, end, INTEGER, "version")
    version = _integer(data, s, e, INT32_MIN, INT32_MAX, "version")
    if version not in (V1, V2C):
        raise BerError(f"version: {version} is not SNMPv1 (0) or SNMPv2c (1)")
    s, pos = _open(data, e, end, OCTET_STRING, "community")
    community = data[s:pos]
    if pos >= end:
        raise BerError(f"PDU: missing (truncated at octet {pos})")
    if data[pos] != RESPONSE:
        pdu_name = PDU_NAMES.get(data[pos])
        raise BerError(
            f"PDU: {pdu_name} is not a Response-PDU" if pdu_name else f"PDU: tag 0x{data[pos]:02x} is not a PDU"
        )
    pdu, pdu_end = _length(data, pos + 1, end, "PDU")
    if pdu_end != end:
        raise BerError(f"message: {end - pdu_end} unexpected octets after the PDU (octet {pdu_end})")
    s, e = _open(data, pdu, pdu_end, INTEGER, "request-id")
    request_id = _integer(data, s, e, INT32_MIN, INT32_MAX, "request-id")
    s, e = _open(data, e, pdu_end, INTEGER, "error-status")
    error_status = _integer(data, s, e, INT32_MIN, INT32_MAX, "error-status")
    s, e = _open(data, e, pdu_end, INTEGER, "error-index")
    error_index = _integer(data, s, e, 0, INT32_MAX, "error-index")
    pos, list_end = _open(data, e, pdu_end, SEQUENCE, "variable-bindings")
    if list_end != pdu_end:
        raise BerError(f"PDU: {pdu_end - list_end} unexpected octets after the variable-bindings (octet {list_end})")
    allowed = _V2C_TAGS if version == V2C else _V1_TAGS
    varbinds: list[tuple[Oid, Value]] = []
    try:
        while pos < list_end:
            vb, vb_end = _open(data, pos, list_end, SEQUENCE, "")
            s, e = _open(data, vb, vb_end, OBJECT_IDENTIFIER, " name")
            name = _oid(data, s, e, " name")
            value, after = _value(data, e, vb_end, allowed, "")
            if after != vb_end:
                raise BerError(f": {vb_end - after} unexpected octets after its value (octet {after})")
            varbinds.append((name, value))
            pos = vb_end
    except BerError as exc:  # named here: a message per varbind would cost more than the varbind's decoding
        raise BerError(f"varbind {len(varbinds) + 1}{exc}") from None
    return Response(version, community, request_id, error_status, error_index, varbinds)


# --- requests ---------------------------------------------------------------------------------------------------


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(raw))) + raw + content


def _int(value: int) -> bytes:
    return _tlv(INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


@lru_cache(maxsize=4096)  # the same OIDs every poll: the GETs, the walks' roots and their cursors
def encode_oid(oid: Oid) -> bytes:
    """The OBJECT IDENTIFIER TLV of `oid` (2..128 arcs, the first 0..2, the second < 40 unless the first is 2,
    every sub-identifier below 2^32). Raises ValueError otherwise."""
    if not 2 <= len(oid) <= MAX_OID_ARCS or not 0 <= oid[0] <= 2 or (oid[0] < 2 and not 0 <= oid[1] < 40):
        raise ValueError(f"not an encodable OBJECT IDENTIFIER: {oid}")
    out = bytearray()
    for arc in (oid[0] * 40 + oid[1], *oid[2:]):
        if not 0 <= arc <= UINT32_MAX:
            raise ValueError(f"sub-identifier {arc} out of range in {oid}")
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return _tlv(OBJECT_IDENTIFIER, bytes(out))


_NULL_TLV = bytes((NULL, 0))


def encode_request(
    version: int, community: bytes, pdu_tag: int, request_id: int, names: list[bytes], extra: tuple[int, int] = (0, 0)
) -> bytes:
    """A request message: `names` are `encode_oid` TLVs, each sent with a NULL value; `extra` is (error-status,
    error-index), or (non-repeaters, max-repetitions) of a GetBulkRequest-PDU."""
    varbinds = b"".join(_tlv(SEQUENCE, name + _NULL_TLV) for name in names)
    pdu = _int(request_id) + _int(extra[0]) + _int(extra[1]) + _tlv(SEQUENCE, varbinds)
    return _tlv(SEQUENCE, _int(version) + _tlv(OCTET_STRING, community) + _tlv(pdu_tag, pdu))
