"""The one broker registry, keyed by `BROKER_NAME` (STYLE §2.3, trading spec §0).

Each entry is a `"module:function"` path, imported only when that broker is created, so a broker
SDK (alpaca-py, ib_async) is imported by its own adapter and nowhere else. A factory has the
signature `create(credentials, *, settings, clock, **options) -> Broker`. An unknown name stops
start-up with a `ConfigError` that lists the known names; there is no silent fallback.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from tbot_bot.broker.base import Broker
from tbot_bot.clock import Clock
from tbot_bot.errors import ConfigError, LogicError

if TYPE_CHECKING:
    from tbot_bot.config.secrets_manager import SecretsManager

logger = logging.getLogger(__name__)

BROKER_CREDENTIALS_CATEGORY = "broker"


def build_registry(entries: Iterable[tuple[str, str]]) -> Mapping[str, str]:
    """Freeze `(name, "module:function")` pairs into the registry; a repeated name is refused."""
    registry: dict[str, str] = {}
    for name, target in entries:
        if name in registry:
            raise LogicError(f"broker {name!r} registered twice ({registry[name]}, {target})")
        module, sep, function = target.partition(":")
        if not sep or not module or not function:
            raise LogicError(f"broker {name!r}: factory {target!r} must be 'module:function'")
        registry[name] = target
    return MappingProxyType(registry)


BROKER_FACTORIES: Mapping[str, str] = build_registry(
    (
        ("ALPACA", "tbot_bot.broker.alpaca.adapter:create"),
        ("IBKR", "tbot_bot.broker.ibkr.adapter:create"),
        ("TRADIER", "tbot_bot.broker.tradier.adapter:create"),
        ("SIM", "tbot_bot.broker.sim.adapter:create"),
    )
)


def known_broker_names() -> list[str]:
    return sorted(BROKER_FACTORIES)


def normalise_broker_name(name: str) -> str:
    """Trim and upper-case `name`; unknown names raise ConfigError listing the known ones."""
    cleaned = str(name).strip().upper()
    if cleaned not in BROKER_FACTORIES:
        raise ConfigError(
            f"BROKER_NAME={name!r} is not a known broker; choose one of "
            f"{', '.join(known_broker_names())}"
        )
    return cleaned


def create_broker(
    name: str,
    credentials: Mapping[str, Any],
    *,
    settings: Any,
    clock: Clock,
    **kwargs: Any,
) -> Broker:
    """Import the adapter of `name` and build it (not yet connected)."""
    key = normalise_broker_name(name)
    module_name, _, function_name = BROKER_FACTORIES[key].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"BROKER_NAME={key}: adapter module {module_name} cannot be imported "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    factory = getattr(module, function_name, None)
    if not callable(factory):
        raise LogicError(f"broker {key}: {module_name} has no factory function {function_name}")
    broker = factory(credentials, settings=settings, clock=clock, **kwargs)
    if not isinstance(broker, Broker):
        raise LogicError(f"broker {key}: factory returned {type(broker).__name__}, not a Broker")
    logger.info("broker adapter %s created", key)
    return broker


def load_broker_credentials(secrets_manager: SecretsManager) -> dict[str, Any]:
    """Decrypt the broker credentials (category "broker", broker.key); values never logged."""
    data = secrets_manager.load(BROKER_CREDENTIALS_CATEGORY)
    if not isinstance(data, dict):
        raise ConfigError("broker credentials must decrypt to a JSON object")
    return dict(data)
