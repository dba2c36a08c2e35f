"""The SNMP collector's config schema, apart from the collector (`collectors/snmp.py`) so that validating a
config does not import pysnmp (the registry, `collectors/__init__.py`, loads a collector only when a probe
of its kind runs)."""

from __future__ import annotations

import enum
from pathlib import Path

from pydantic import Field, model_validator

from collectors.base import CollectorConfig, SecretSource
from device_profiles.schema import NumericOid


class SnmpVersion(enum.StrEnum):
    V1 = "1"
    V2C = "2c"
    V3 = "3"


class SecurityLevel(enum.StrEnum):
    AUTH_PRIV = "authPriv"
    AUTH_NO_PRIV = "authNoPriv"
    NO_AUTH_NO_PRIV = "noAuthNoPriv"


class AuthProtocol(enum.StrEnum):
    SHA = "SHA"
    SHA224 = "SHA224"
    SHA256 = "SHA256"
    SHA384 = "SHA384"
    SHA512 = "SHA512"
    MD5 = "MD5"


class PrivProtocol(enum.StrEnum):
    AES = "AES"
    AES192 = "AES192"
    AES256 = "AES256"
    DES = "DES"


class SnmpConfig(CollectorConfig):
    version: SnmpVersion = SnmpVersion.V3
    port: int = Field(161, ge=1, le=65535)
    community: SecretSource | None = Field(None, description="v1/v2c only")
    user: str | None = Field(None, description="v3 USM user")
    security_level: SecurityLevel = SecurityLevel.AUTH_PRIV
    auth_protocol: AuthProtocol = AuthProtocol.SHA
    auth_key: SecretSource | None = None
    priv_protocol: PrivProtocol = PrivProtocol.AES
    priv_key: SecretSource | None = None
    context: str = Field("", description="v3 context name")
    timeout_s: float = Field(2.0, gt=0, le=60)
    retries: int = Field(1, ge=0, le=10)
    max_repetitions: int = Field(25, ge=1, le=200)
    max_rows: int = Field(20000, ge=1, description="bound on varbinds per walked column")
    platform: str | None = Field(None, description="device profile whose OID groups are polled")
    groups: tuple[str, ...] | None = Field(None, description="profile groups to poll (default: all)")
    oids: tuple[NumericOid, ...] = Field((), description="extra scalar OIDs to GET")
    walk: tuple[NumericOid, ...] = Field((), description="extra subtrees to walk")
    profiles_dir: Path | None = Field(None, description="user profile directory (adds / overrides)")

    @model_validator(mode="after")
    def _credentials(self) -> SnmpConfig:
        if self.version is SnmpVersion.V3:
            if self.community is not None:
                raise ValueError("community is for version 1/2c; v3 uses user/auth_key/priv_key")
            if not self.user:
                raise ValueError("version 3 needs `user`")
            if self.security_level is not SecurityLevel.NO_AUTH_NO_PRIV and self.auth_key is None:
                raise ValueError(f"security_level {self.security_level.value} needs `auth_key`")
            if self.security_level is SecurityLevel.AUTH_PRIV and self.priv_key is None:
                raise ValueError("security_level authPriv needs `priv_key`")
        elif self.community is None:
            raise ValueError(f"version {self.version.value} needs `community` (given explicitly)")
        if self.platform is None and not self.oids and not self.walk:
            raise ValueError("nothing to poll: give `platform`, `oids` or `walk`")
        if self.groups is not None and self.platform is None:
            raise ValueError("`groups` selects groups of a `platform` profile")
        return self
