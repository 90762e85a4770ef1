"""Every broker contract case against the IBKR adapter over the fake IB Gateway (ib_async)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tbot_bot.test.fakes.fake_ib import IbkrContractHarness
from tbot_bot.test.integration.broker_contract.cases import CONTRACT_CASES
from tbot_bot.test.integration.broker_contract.harness import ContractHarness


@pytest.fixture
def harness() -> IbkrContractHarness:
    return IbkrContractHarness()


@pytest.mark.parametrize("case", CONTRACT_CASES, ids=lambda case: case.__name__)
def test_contract(
    case: Callable[[ContractHarness, Path], None], harness: IbkrContractHarness, tmp_path: Path
) -> None:
    case(harness, tmp_path)


def test_ibkr_harness_satisfies_the_protocol() -> None:
    harness: ContractHarness = IbkrContractHarness()
    assert harness.name == "ibkr"
