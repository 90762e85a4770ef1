"""The only place that builds paths (ARCHITECTURE §5, web_runtime §0).

Runtime home `<home>` = `--home PATH`, else `TBOT_HOME`, else the checkout root. The seed's layout
sits under `<home>/tbot_bot/`. Every function returns an absolute path inside the home; a name that
would escape it (`..`, an absolute path, a separator or an odd character) raises `PathError`.
Identity-scoped names follow the seed exactly:
`{ENTITY_CODE}_{JURISDICTION_CODE}_{BROKER_CODE}_{BOT_ID}`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from tbot_bot.config.identity import validate_identity_string
from tbot_bot.errors import PathError

CHECKOUT_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
_SAFE_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

# Key categories (web_runtime §6.1): one key file per purpose, never merged.
KEY_CATEGORIES: tuple[str, ...] = (
    "env",
    "broker",
    "smtp",
    "login",
    "screener_api",
    "acct_api",
    "bot_identity",
    "network_config",
    "flask_secret",
)
SECRET_FILES: dict[str, str] = {
    "env": ".env_bot.enc",
    "broker": "broker_credentials.json.enc",
    "smtp": "smtp_credentials.json.enc",
    "screener_api": "screener_api.json.enc",
    "acct_api": "acct_api_credentials.json.enc",
    "bot_identity": "bot_identity.json.enc",
    "network_config": "network_config.json.enc",
}
CORE_DATABASES: tuple[str, ...] = (
    "SYSTEM_USERS.db",
    "SYSTEM_LOGS.db",
    "USER_ACTIVITY_MONITORING.db",
    "PASSWORD_RESET_TOKENS.db",
)
STRATEGY_LOGS: tuple[str, ...] = (
    "open.log",
    "mid.log",
    "close.log",
    "unresolved_orders.log",
    "error_tracebacks.log",
)
LEDGER_KINDS: dict[str, str] = {"coa": "COA", "ledger": "ledger", "float": "FLOAT_ledger"}
CONTROL_FLAGS: tuple[str, ...] = ("control_start.flag", "control_stop.flag", "control_kill.flag")
# Symbol universe files in `output/screeners/` (trading spec §10).
SCREENER_FILES: tuple[str, ...] = (
    "symbol_universe.json",
    "symbol_universe.symbols_raw.json",
    "symbol_universe.unfiltered.json",
    "symbol_universe.partial.json",
    "universe_build.failed",
    "universe_build.checkpoint.ndjson",
    "universe_ops.log",
    "blocklist_ops.log",
)


def safe_component(name: str, what: str = "path component") -> str:
    """Return `name` if it is one harmless file-name component, else raise PathError."""
    if (
        not isinstance(name, str)
        or not _SAFE_COMPONENT.fullmatch(name)
        or name in {".", ".."}
        or ".." in name
    ):
        raise PathError(
            f"refused {what} {name!r}: only letters, digits, '.', '_' and '-' are allowed, "
            "no '..', no separators, no absolute paths"
        )
    return name


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`--home` wins, then `TBOT_HOME`, then the checkout root (tests set `TBOT_HOME` only)."""
    raw = explicit if explicit is not None else os.environ.get("TBOT_HOME")
    home = Path(raw) if raw else CHECKOUT_ROOT
    return home.expanduser().resolve()


def demo_home() -> Path:
    """Default home of `tbot demo`: `<checkout>/.tbot_demo/` (git-ignored)."""
    return CHECKOUT_ROOT / ".tbot_demo"


def data_root() -> Path:
    """Market-data cache: `TBOT_DATA_DIR`, else `<checkout>/.cache/tbot_data/` (ARCHITECTURE §8)."""
    raw = os.environ.get("TBOT_DATA_DIR")
    return Path(raw).expanduser().resolve() if raw else CHECKOUT_ROOT / ".cache" / "tbot_data"


def data_set_dir(name: str) -> Path:
    """A replay data set under the data root, e.g. `synthetic/demo` or `msft_1m`."""
    root = data_root()
    parts = [safe_component(part, "data set name") for part in name.split("/") if part]
    if not parts or name.startswith("/"):
        raise PathError(f"refused empty data set name {name!r}")
    return _inside(root, root.joinpath(*parts))


def _inside(base: Path, candidate: Path) -> Path:
    resolved = candidate.resolve()
    if resolved != base.resolve() and base.resolve() not in resolved.parents:
        raise PathError(f"refused path {candidate} outside {base}")
    return resolved


@dataclass(frozen=True)
class RuntimePaths:
    """Every location under one runtime home. Build with `RuntimePaths.for_home()`."""

    home: Path

    @classmethod
    def for_home(cls, explicit: str | os.PathLike[str] | None = None) -> RuntimePaths:
        return cls(resolve_home(explicit))

    # -- roots -------------------------------------------------------------------------------
    @property
    def bot_root(self) -> Path:
        return self.home / "tbot_bot"

    def under_bot_root(self, relative: str) -> Path:
        """Resolve a configured relative path (e.g. a blocklist path) strictly inside tbot_bot/."""
        if not relative or Path(relative).is_absolute():
            raise PathError(f"refused path {relative!r}: must be relative to <home>/tbot_bot/")
        parts = [safe_component(part) for part in relative.replace("\\", "/").split("/") if part]
        return _inside(self.bot_root, self.bot_root.joinpath(*parts))

    # -- storage: keys, secrets, backups -----------------------------------------------------
    @property
    def keys_dir(self) -> Path:
        return self.bot_root / "storage" / "keys"

    @property
    def secrets_dir(self) -> Path:
        return self.bot_root / "storage" / "secrets"

    @property
    def backups_dir(self) -> Path:
        return self.bot_root / "storage" / "backups"

    @property
    def key_backups_dir(self) -> Path:
        return self.backups_dir / "keys"

    @property
    def daily_backups_dir(self) -> Path:
        return self.backups_dir / "daily"

    @property
    def ledger_snapshots_dir(self) -> Path:
        return self.backups_dir / "ledger_snapshots"

    def ledger_snapshot_file(self, identity: str, kind: str, stamp: str, sync_run_id: str) -> Path:
        """`{ID}_BOT_{COA|ledger|FLOAT_ledger}_{YYYYMMDDTHHMMSSsssZ}_{sync_run_id}.db` (§8.4)."""
        if kind not in LEDGER_KINDS:
            raise PathError(f"unknown ledger kind {kind!r}; known: {', '.join(LEDGER_KINDS)}")
        if not re.fullmatch(r"\d{8}T\d{9}Z", stamp):
            raise PathError(f"snapshot stamp {stamp!r} must be YYYYMMDDTHHMMSSsssZ")
        name = (
            f"{validate_identity_string(identity)}_BOT_{LEDGER_KINDS[kind]}_{stamp}_"
            f"{safe_component(sync_run_id, 'sync run id')}.db"
        )
        return self.ledger_snapshots_dir / name

    def key_file(self, category: str) -> Path:
        if category not in KEY_CATEGORIES:
            raise PathError(
                f"unknown key category {category!r}; known: {', '.join(KEY_CATEGORIES)}"
            )
        return self.keys_dir / f"{category}.key"

    def secret_file(self, category: str) -> Path:
        if category not in SECRET_FILES:
            raise PathError(
                f"no secret file for category {category!r}; known: {', '.join(SECRET_FILES)}"
            )
        return self.secrets_dir / SECRET_FILES[category]

    # -- core databases ----------------------------------------------------------------------
    @property
    def core_db_dir(self) -> Path:
        return self.bot_root / "core" / "databases"

    def core_db(self, name: str) -> Path:
        if name not in CORE_DATABASES:
            raise PathError(f"unknown core database {name!r}; known: {', '.join(CORE_DATABASES)}")
        return self.core_db_dir / name

    # -- control channel ---------------------------------------------------------------------
    @property
    def control_dir(self) -> Path:
        return self.bot_root / "control"

    def control_flag(self, name: str) -> Path:
        if name not in CONTROL_FLAGS:
            raise PathError(f"unknown control flag {name!r}; known: {', '.join(CONTROL_FLAGS)}")
        return self.control_dir / name

    @property
    def bot_state_file(self) -> Path:
        return self.control_dir / "bot_state.txt"

    @property
    def setup_token_file(self) -> Path:
        return self.control_dir / "setup_token.txt"

    @property
    def market_holidays_file(self) -> Path:
        return self.control_dir / "market_holidays.txt"

    @property
    def requests_dir(self) -> Path:
        return self.control_dir / "requests"

    def request_file(self, request_id: str, *, result: bool = False) -> Path:
        """`control/requests/<id>.json` or its answer `<id>.result.json`."""
        stem = safe_component(request_id, "request id")
        return self.requests_dir / (f"{stem}.result.json" if result else f"{stem}.json")

    @property
    def locks_dir(self) -> Path:
        return self.control_dir / "locks"

    def lock_file(self, name: str) -> Path:
        return self.locks_dir / f"{safe_component(name, 'lock name')}.lock"

    def flock_file(self, name: str) -> Path:
        """A kernel `flock` file for short critical sections (no pid body, never reclaimed)."""
        return self.locks_dir / f"{safe_component(name, 'lock name')}.flock"

    # -- host-wide output (not mirrored) -------------------------------------------------------
    @property
    def output_dir(self) -> Path:
        return self.bot_root / "output"

    @property
    def status_dir(self) -> Path:
        return self.output_dir / "status"

    def status_file(self, name: str) -> Path:
        """A file in `output/status/` (status.json, positions.json, <component>.json, ...)."""
        return self.status_dir / safe_component(name, "status file name")

    @property
    def global_logs_dir(self) -> Path:
        return self.output_dir / "logs"

    def global_log(self, name: str) -> Path:
        return self.global_logs_dir / safe_component(name, "log file name")

    @property
    def screeners_dir(self) -> Path:
        return self.output_dir / "screeners"

    def screener_file(self, name: str) -> Path:
        """One symbol-universe file (`SCREENER_FILES`) in `output/screeners/`."""
        if name not in SCREENER_FILES:
            raise PathError(f"unknown screener file {name!r}; known: {', '.join(SCREENER_FILES)}")
        return self.screeners_dir / name

    @property
    def state_dir(self) -> Path:
        return self.output_dir / "state"

    def state_db(self, identity: str) -> Path:
        return self.state_dir / f"{validate_identity_string(identity)}_BOT_STATE.db"

    @property
    def test_trades_dir(self) -> Path:
        """`output/trades/`: the seed's place for test output, excluded from ingestion."""
        return self.output_dir / "trades"

    def backtest_run_dir(self, run_id: str) -> Path:
        return self.test_trades_dir / "backtest" / safe_component(run_id, "backtest run id")

    # -- per-bot outputs -----------------------------------------------------------------------
    def identity_dir(self, identity: str) -> Path:
        return self.output_dir / validate_identity_string(identity)

    def bot_outputs(self, identity: str) -> BotOutputs:
        """The production, mirrored output tree of one bot."""
        return BotOutputs(self.identity_dir(identity), validate_identity_string(identity))

    def backtest_outputs(self, run_id: str, identity: str) -> BotOutputs:
        """The same writers pointed at a backtest run folder (never a production ledger)."""
        return BotOutputs(self.backtest_run_dir(run_id), validate_identity_string(identity))

    def backtest_files(self, run_id: str) -> BacktestRunFiles:
        """Every file of one backtest or sweep run folder (trading spec §15)."""
        return BacktestRunFiles(self.backtest_run_dir(run_id))

    def layout(self, identity: str | None = None) -> dict[str, Path]:
        """The resolved layout, for `tbot paths`."""
        entries: dict[str, Path] = {
            "home": self.home,
            "keys": self.keys_dir,
            "secrets": self.secrets_dir,
            "backups": self.backups_dir,
            "core_databases": self.core_db_dir,
            "control": self.control_dir,
            "bot_state": self.bot_state_file,
            "status": self.status_dir,
            "global_logs": self.global_logs_dir,
            "screeners": self.screeners_dir,
            "test_trades": self.test_trades_dir,
            "data_root": data_root(),
        }
        if identity:
            outputs = self.bot_outputs(identity)
            entries.update(
                {
                    "identity_output": outputs.root,
                    "state_db": self.state_db(identity),
                    **{f"log:{name}": outputs.log_file(name) for name in STRATEGY_LOGS},
                    **{f"ledger:{kind}": outputs.ledger_db(kind) for kind in LEDGER_KINDS},
                    "daily_summary": outputs.daily_summary,
                    "trade_history_csv": outputs.trade_history("csv"),
                    "trade_history_json": outputs.trade_history("json"),
                }
            )
        return entries


@dataclass(frozen=True)
class BotOutputs:
    """One output tree (`logs/`, `ledgers/`, `summaries/`, `trades/`, `exports/`), seed names."""

    root: Path
    identity: str

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def ledgers_dir(self) -> Path:
        return self.root / "ledgers"

    @property
    def summaries_dir(self) -> Path:
        return self.root / "summaries"

    @property
    def trades_dir(self) -> Path:
        return self.root / "trades"

    @property
    def exports_root(self) -> Path:
        return self.root / "exports"

    def exports_dir(self, yyyymmdd: str) -> Path:
        if not re.fullmatch(r"\d{8}", yyyymmdd):
            raise PathError(f"export date {yyyymmdd!r} must be YYYYMMDD")
        return self.exports_root / yyyymmdd

    def log_file(self, name: str) -> Path:
        if name not in STRATEGY_LOGS:
            raise PathError(f"unknown strategy log {name!r}; known: {', '.join(STRATEGY_LOGS)}")
        return self.logs_dir / name

    def ledger_db(self, kind: str) -> Path:
        if kind not in LEDGER_KINDS:
            raise PathError(f"unknown ledger kind {kind!r}; known: {', '.join(LEDGER_KINDS)}")
        return self.ledgers_dir / f"{self.identity}_BOT_{LEDGER_KINDS[kind]}.db"

    @property
    def daily_summary(self) -> Path:
        return self.summaries_dir / f"{self.identity}_BOT_daily_summary.json"

    @property
    def intraday_equity_chart(self) -> Path:
        return self.summaries_dir / f"{self.identity}_BOT_intraday_equity.png"

    def trade_history(self, extension: str) -> Path:
        if extension not in {"csv", "json"}:
            raise PathError(f"trade history extension {extension!r} must be 'csv' or 'json'")
        return self.trades_dir / f"{self.identity}_BOT_trade_history.{extension}"

    def export_file(self, yyyymmdd: str, stem: str, extension: str) -> Path:
        """`exports/{YYYYMMDD}/{ID}_BOT_{stem}_{YYYYMMDD}.{ext}` (accounting spec §1.1)."""
        safe_component(stem, "export name")
        safe_component(extension, "export extension")
        return self.exports_dir(yyyymmdd) / f"{self.identity}_BOT_{stem}_{yyyymmdd}.{extension}"


@dataclass(frozen=True)
class BacktestRunFiles:
    """One backtest run folder `output/trades/backtest/<run_id>/` (or a sweep's `runs/<k>/`).

    A backtest writes nothing outside it: the runner's writers use `outputs()` (logs, summaries,
    trades, throwaway ledgers) and everything the runtime keeps per home (state database, ledger
    lock, ledger snapshots, sync log) lives under a private scratch home, `runtime/`.
    """

    root: Path

    def outputs(self, identity: str) -> BotOutputs:
        return BotOutputs(self.root, validate_identity_string(identity))

    @property
    def scratch(self) -> RuntimePaths:
        return RuntimePaths(self.root / "runtime")

    @property
    def config_json(self) -> Path:
        return self.root / "config.json"

    @property
    def equity_csv(self) -> Path:
        return self.root / "equity.csv"

    @property
    def metrics_json(self) -> Path:
        return self.root / "metrics.json"

    @property
    def report_html(self) -> Path:
        return self.root / "report.html"

    @property
    def equity_drawdown_png(self) -> Path:
        return self.root / "equity_drawdown.png"

    @property
    def strategy_pnl_png(self) -> Path:
        return self.root / "strategy_pnl.png"

    def trades_chart(self, symbol: str) -> Path:
        return self.root / f"trades_{safe_component(symbol, 'symbol')}.png"

    @property
    def sweep_csv(self) -> Path:
        return self.root / "sweep.csv"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    def run(self, index: int) -> BacktestRunFiles:
        """The folder of sweep combination `index` (`runs/<k>/`)."""
        if index < 0:
            raise PathError(f"sweep run index {index} must be >= 0")
        return BacktestRunFiles(self.runs_dir / str(index))


@dataclass(frozen=True)
class DataCache:
    """Layout of the market-data cache (ARCHITECTURE §8): pinned raw files, manifest, data sets."""

    root: Path

    @classmethod
    def at(cls, root: Path | None = None) -> DataCache:
        """The cache at `root`, else at `data_root()` (`TBOT_DATA_DIR` or the checkout default)."""
        return cls((root if root is not None else data_root()).expanduser().resolve())

    @property
    def manifest_file(self) -> Path:
        return self.root / "manifest.json"

    def raw_dir(self, package: str) -> Path:
        """Files extracted from one pinned sdist, e.g. `raw/market-prices-0.12.14/`."""
        return self.root / "raw" / safe_component(package, "package name")

    def data_set(self, name: str) -> Path:
        """A replay data set (or the universe folder) under this cache, e.g. `synthetic/demo`."""
        parts = [safe_component(part, "data set name") for part in name.split("/") if part]
        if not parts:
            raise PathError(f"refused empty data set name {name!r}")
        return _inside(self.root, self.root.joinpath(*parts))

    def bars_cache_file(self, name: str) -> Path:
        """One validated binary cache of a parsed bars file: `bars_cache/<name>` (bars_cache.py)."""
        return self.root / "bars_cache" / safe_component(name, "bars cache name")


@dataclass(frozen=True)
class ReplaySetFiles:
    """The files of one replay data set (trading spec §14)."""

    root: Path

    @property
    def manifest_file(self) -> Path:
        return self.root / "manifest.json"

    @property
    def bars_dir(self) -> Path:
        return self.root / "bars_1m"

    @property
    def daily_dir(self) -> Path:
        return self.root / "daily"

    @property
    def vix_file(self) -> Path:
        return self.root / "vix.csv"

    @property
    def reference_file(self) -> Path:
        return self.root / "reference.csv"

    def bars_file(self, symbol: str, extension: str = "csv") -> Path:
        return self.bars_dir / f"{safe_component(symbol, 'symbol')}.{extension}"

    def daily_file(self, symbol: str, extension: str = "csv") -> Path:
        return self.daily_dir / f"{safe_component(symbol, 'symbol')}.{extension}"
