"""Fixtures of the accounting tests, imported by the conftest of each accounting test folder: a
bot identity, its output tree in the temporary home, a fake clock some hours after the records'
times, and open books with a write session."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tbot_bot.accounting import Books, open_books
from tbot_bot.accounting.session import Session
from tbot_bot.clock import FakeClock
from tbot_bot.config.identity import BotIdentity
from tbot_bot.config.path_resolver import BotOutputs, RuntimePaths
from tbot_bot.test.unit.accounting.builders import T0


@pytest.fixture
def identity() -> BotIdentity:
    return BotIdentity.from_codes("TEST", "USA", "ALPACA", "01")


@pytest.fixture
def paths(tbot_home: Path) -> RuntimePaths:
    return RuntimePaths.for_home(tbot_home)


@pytest.fixture
def outputs(paths: RuntimePaths, identity: BotIdentity) -> BotOutputs:
    return paths.bot_outputs(identity.string)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0 + timedelta(hours=8))


@pytest.fixture
def books(
    outputs: BotOutputs, identity: BotIdentity, paths: RuntimePaths, clock: FakeClock
) -> Iterator[Books]:
    opened = open_books(outputs, identity, actor="test", paths=paths, clock=clock)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def session(books: Books) -> Iterator[Session]:
    with books.session("fills") as open_session:
        yield open_session
