"""Bot identity and network configuration records (web_runtime §7).

The identity `{ENTITY_CODE}_{JURISDICTION_CODE}_{BROKER_CODE}_{BOT_ID}` only names output files; the
bot never parses it. Both records are validated strictly: they end up in file names and bind
addresses, so a loose value would be a path-injection or exposure bug.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from tbot_bot.errors import ConfigError

_PATTERNS = {
    "ENTITY_CODE": re.compile(r"^[A-Z]{2,6}$"),
    "JURISDICTION_CODE": re.compile(r"^[A-Z]{2,4}$"),
    "BROKER_CODE": re.compile(r"^[A-Z]{2,10}$"),
    "BOT_ID": re.compile(r"^[A-Z0-9]{2,6}$"),
}
IDENTITY_STRING_PATTERN = re.compile(r"^[A-Z]{2,6}_[A-Z]{2,4}_[A-Z]{2,10}_[A-Z0-9]{2,6}$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


@dataclass(frozen=True)
class BotIdentity:
    """The four identity codes; `string` is their join and names every output file."""

    entity_code: str
    jurisdiction_code: str
    broker_code: str
    bot_id: str

    @property
    def string(self) -> str:
        return f"{self.entity_code}_{self.jurisdiction_code}_{self.broker_code}_{self.bot_id}"

    def __str__(self) -> str:
        return self.string

    @classmethod
    def from_codes(
        cls, entity_code: str, jurisdiction_code: str, broker_code: str, bot_id: str
    ) -> BotIdentity:
        """Trim, upper-case and validate each code; every bad field is reported together."""
        values = {
            "ENTITY_CODE": entity_code,
            "JURISDICTION_CODE": jurisdiction_code,
            "BROKER_CODE": broker_code,
            "BOT_ID": bot_id,
        }
        cleaned: dict[str, str] = {}
        problems: list[str] = []
        for key, raw in values.items():
            value = str(raw).strip().upper()
            if not _PATTERNS[key].fullmatch(value):
                problems.append(
                    f"{key}={raw!r} is invalid: expected {_PATTERNS[key].pattern} "
                    "(upper-case letters/digits only)"
                )
            cleaned[key] = value
        if problems:
            raise ConfigError("invalid bot identity: " + "; ".join(problems), problems)
        return cls(
            cleaned["ENTITY_CODE"],
            cleaned["JURISDICTION_CODE"],
            cleaned["BROKER_CODE"],
            cleaned["BOT_ID"],
        )

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> BotIdentity:
        """Build from the decrypted `bot_identity.json`; the stored join must match."""
        allowed = {
            "ENTITY_CODE",
            "JURISDICTION_CODE",
            "BROKER_CODE",
            "BOT_ID",
            "BOT_IDENTITY_STRING",
        }
        unknown = sorted(set(record) - allowed)
        missing = sorted(allowed - {"BOT_IDENTITY_STRING"} - set(record))
        if unknown or missing:
            raise ConfigError(
                f"bot_identity.json: unknown fields {unknown}, missing fields {missing}; "
                f"expected exactly {sorted(allowed)}"
            )
        identity = cls.from_codes(
            record["ENTITY_CODE"],
            record["JURISDICTION_CODE"],
            record["BROKER_CODE"],
            record["BOT_ID"],
        )
        joined = record.get("BOT_IDENTITY_STRING")
        if joined is not None and joined != identity.string:
            raise ConfigError(
                f"bot_identity.json: BOT_IDENTITY_STRING={joined!r} does not equal the join of "
                f"the four codes ({identity.string!r})"
            )
        return identity

    def to_record(self) -> dict[str, str]:
        return {
            "ENTITY_CODE": self.entity_code,
            "JURISDICTION_CODE": self.jurisdiction_code,
            "BROKER_CODE": self.broker_code,
            "BOT_ID": self.bot_id,
            "BOT_IDENTITY_STRING": self.string,
        }


def validate_identity_string(text: str) -> str:
    """Check a joined identity string (used where only the string is at hand, e.g. paths)."""
    if not isinstance(text, str) or not IDENTITY_STRING_PATTERN.fullmatch(text):
        raise ConfigError(
            f"invalid bot identity string {text!r}: expected "
            "{ENTITY_CODE}_{JURISDICTION_CODE}_{BROKER_CODE}_{BOT_ID} matching "
            f"{IDENTITY_STRING_PATTERN.pattern}"
        )
    return text


@dataclass(frozen=True)
class NetworkConfig:
    """Web bind and public address settings from `network_config.json.enc` (web_runtime §7.1)."""

    local_ip: str = "127.0.0.1"
    local_port: int = 6900
    remote_ip: str = "127.0.0.1"
    remote_port: int = 6900
    remote_scheme: str = "https"
    hostname: str | None = None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> NetworkConfig:
        """Validate every field; all problems are reported together."""
        allowed = {
            "LOCAL_IP",
            "LOCAL_PORT",
            "REMOTE_IP",
            "REMOTE_PORT",
            "REMOTE_SCHEME",
            "HOSTNAME",
        }
        problems = [
            f"network_config: unknown field {key!r} (allowed: {sorted(allowed)})"
            for key in sorted(set(record) - allowed)
        ]
        local_ip = str(record.get("LOCAL_IP", "127.0.0.1")).strip()
        try:
            ipaddress.ip_address(local_ip)
        except ValueError:
            problems.append(f"LOCAL_IP={local_ip!r} is not an IPv4/IPv6 literal")
        local_port = _port(record.get("LOCAL_PORT", 6900), "LOCAL_PORT", 1024, problems)
        remote_ip = str(record.get("REMOTE_IP", "127.0.0.1")).strip()
        if not _is_ip(remote_ip) and not _HOSTNAME.fullmatch(remote_ip):
            problems.append(
                f"REMOTE_IP={remote_ip!r} is neither an IP literal nor an RFC 1123 name"
            )
        remote_port = _port(record.get("REMOTE_PORT", local_port), "REMOTE_PORT", 1, problems)
        scheme = str(record.get("REMOTE_SCHEME", "https")).strip().lower()
        if scheme not in {"https", "http"}:
            problems.append(f"REMOTE_SCHEME={scheme!r} must be 'https' or 'http'")
        hostname = record.get("HOSTNAME")
        if hostname is not None:
            hostname = str(hostname).strip()
            if not _HOSTNAME.fullmatch(hostname):
                problems.append(f"HOSTNAME={hostname!r} is not an RFC 1123 name")
        if problems:
            raise ConfigError("invalid network_config: " + "; ".join(problems), problems)
        return cls(local_ip, local_port, remote_ip, remote_port, scheme, hostname or None)

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "LOCAL_IP": self.local_ip,
            "LOCAL_PORT": self.local_port,
            "REMOTE_IP": self.remote_ip,
            "REMOTE_PORT": self.remote_port,
            "REMOTE_SCHEME": self.remote_scheme,
        }
        if self.hostname:
            record["HOSTNAME"] = self.hostname
        return record


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _port(raw: Any, key: str, low: int, problems: list[str]) -> int:
    try:
        port = int(str(raw).strip())
    except ValueError:
        problems.append(f"{key}={raw!r} is not an integer port")
        return 0
    if not low <= port <= 65535:
        problems.append(f"{key}={port} is out of range {low}-65535")
    return port
