"""Every broker contract case (broker_contract/cases.py) against ALPACA and the fake Alpaca."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tbot_bot.test.fakes.fake_alpaca import AlpacaHarness, FakeAlpaca
from tbot_bot.test.integration.broker_contract.cases import CONTRACT_CASES
from tbot_bot.test.integration.broker_contract.harness import ContractHarness


@pytest.fixture
def harness() -> Iterator[AlpacaHarness]:
    venue = FakeAlpaca()
    venue.start()
    yield AlpacaHarness(venue, timeout_s=0.3)
    venue.stop()


@pytest.mark.parametrize("case", CONTRACT_CASES, ids=lambda case: case.__name__)
def test_contract(
    case: Callable[[ContractHarness, Path], None], harness: AlpacaHarness, tmp_path: Path
) -> None:
    case(harness, tmp_path)


def test_alpaca_harness_satisfies_the_protocol(harness: AlpacaHarness) -> None:
    typed: ContractHarness = harness
    assert typed.name == "ALPACA"
