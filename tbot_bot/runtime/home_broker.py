"""Build this home's broker from its decrypted settings and credentials (trading spec §0).

The runner builds its live broker here at launch; the ledger request workers (main's one-shot and
the `tbot ledger` CLI) get a lazy factory that builds and connects the same broker only when a
request needs one (`ledger_sync`, `ledger_opening_balance`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tbot_bot.broker.base import Broker
from tbot_bot.broker.registry import create_broker, load_broker_credentials
from tbot_bot.clock import Clock
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.config.secrets_manager import SecretsManager
from tbot_bot.runtime.provisioning import load_runtime_config

BrokerFactory = Callable[[], Broker]


def build_home_broker(paths: RuntimePaths, clock: Clock, *, settings: Any = None) -> Broker:
    """The adapter of `BROKER_NAME` with the home's credentials (not yet connected).

    `settings` are the validated settings when the caller already loaded them (the runner);
    otherwise they are decrypted and validated here (ConfigError on any problem).
    """
    if settings is None:
        settings = load_runtime_config(paths).settings
    credentials = load_broker_credentials(SecretsManager(paths))
    return create_broker(settings.BROKER_NAME, credentials, settings=settings, clock=clock)


def home_broker_factory(paths: RuntimePaths, clock: Clock) -> BrokerFactory:
    """A factory that builds and connects the home's broker when called (the caller closes it)."""

    def build() -> Broker:
        broker = build_home_broker(paths, clock)
        try:
            broker.connect()
        except BaseException:
            broker.close()
            raise
        return broker

    return build
