"""Registry entry point of the SIM broker (`BROKER_NAME=SIM`).

`create(credentials, *, settings, clock, **options)` builds a `SimBroker` from the .env_bot keys
(ACCOUNT_BALANCE, SIM_* and the slippage keys, read by exact name with the spec defaults when the
settings object lacks them). The market comes from `replay=` (any `MarketReplay`, e.g. a
`ListReplay` of bars in a test) or else from the data set named by SIM_DATA_SET under the data root.
Shortable and fractionable symbols come from the set's `reference.csv` flags unless passed as
options (a `MarketReplay` without them: every symbol is both). The set's reference rows (or the
`reference=` option) give `list_assets` its exchange/type/name. RISK_FREE_RATE is the r of the
synthetic put chain. SIM needs no credentials; whatever is passed is ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tbot_bot.broker.sim.broker import DEFAULT_ACCOUNT_BALANCE, SimBroker
from tbot_bot.broker.sim.fill_model import FillModelConfig, setting_decimal
from tbot_bot.broker.sim.options import DEFAULT_RISK_FREE_RATE
from tbot_bot.broker.sim.replay import MarketReplay, reference_flags, replay_from_data_set
from tbot_bot.clock import Clock
from tbot_bot.config.path_resolver import data_set_dir
from tbot_bot.errors import ConfigError

if TYPE_CHECKING:
    from tbot_bot.market.replay_data import ReplayDataSet

DEFAULT_DATA_SET = "synthetic/demo"
_OPTIONS = frozenset(
    {"replay", "shortable", "fractionable", "enforce_unique_client_ids", "reference"}
)


def create(
    credentials: Mapping[str, Any],
    *,
    settings: Any,
    clock: Clock,
    **options: Any,
) -> SimBroker:
    """Build the SIM broker. Options: replay, shortable, fractionable, reference,
    enforce_unique_client_ids."""
    del credentials  # SIM has no account to log into
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        known = ", ".join(sorted(_OPTIONS))
        raise ConfigError(f"SIM broker: unknown option(s) {', '.join(unknown)}; known: {known}")
    replay: MarketReplay | None = options.get("replay")
    flags: dict[str, frozenset[str] | None] = {"shortable": None, "fractionable": None}
    reference: list[dict[str, str]] | None = options.get("reference")
    if replay is None:
        data_set = load_data_set_for(settings)
        replay, flags = replay_from_data_set(data_set), reference_flags(data_set)
        if reference is None:
            reference = data_set.reference()
    starting_cash = setting_decimal(settings, "ACCOUNT_BALANCE", DEFAULT_ACCOUNT_BALANCE)
    if starting_cash < 0:
        raise ConfigError(f"ACCOUNT_BALANCE={starting_cash} must be >= 0")
    shortable: Iterable[str] | None = options.get("shortable", flags["shortable"])
    fractionable: Iterable[str] | None = options.get("fractionable", flags["fractionable"])
    return SimBroker(
        replay,
        clock,
        config=FillModelConfig.from_settings(settings),
        starting_cash=starting_cash,
        shortable=shortable,
        fractionable=fractionable,
        enforce_unique_client_ids=bool(options.get("enforce_unique_client_ids", True)),
        reference=reference,
        risk_free_rate=setting_decimal(settings, "RISK_FREE_RATE", DEFAULT_RISK_FREE_RATE),
    )


def load_data_set_for(settings: Any) -> ReplayDataSet:
    """Load the replay data set named by SIM_DATA_SET (trading spec §14)."""
    # Imported here: a test that hands in its own replay never loads the data-set readers.
    from tbot_bot.market.replay_data import load_data_set

    name = str(getattr(settings, "SIM_DATA_SET", None) or DEFAULT_DATA_SET)
    path = data_set_dir(name)
    if not path.is_dir():
        raise ConfigError(
            f"SIM_DATA_SET={name!r}: no replay data set at {path} (run `make data` or set "
            "TBOT_DATA_DIR)"
        )
    return load_data_set(path)
