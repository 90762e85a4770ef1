"""Every contract case against the SIM broker, with a duplicate-refusing venue and a permissive
one (the permissive venue would hold two orders if the order manager ever sent an intent twice)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tbot_bot.test.integration.broker_contract.cases import (
    CONTRACT_CASES,
    assert_single_order,
    client_id,
    limit_buy,
    start,
)
from tbot_bot.test.integration.broker_contract.harness import ContractHarness
from tbot_bot.test.integration.broker_contract.sim_harness import SimHarness


@pytest.fixture(params=[True, False], ids=["unique-ids", "permissive"])
def harness(request: pytest.FixtureRequest) -> SimHarness:
    return SimHarness(enforce_unique_client_ids=request.param)


@pytest.mark.parametrize("case", CONTRACT_CASES, ids=lambda case: case.__name__)
def test_contract(
    case: Callable[[ContractHarness, Path], None], harness: SimHarness, tmp_path: Path
) -> None:
    case(harness, tmp_path)


def test_sim_harness_satisfies_the_protocol() -> None:
    harness: ContractHarness = SimHarness()
    assert harness.name == "SIM"


def test_duplicate_check_catches_a_careless_double_send(tmp_path: Path) -> None:
    """Control: sending one intent twice straight to a permissive venue is caught."""
    harness = SimHarness(enforce_unique_client_ids=False)
    run = start(harness, tmp_path)
    run.broker.submit_order(limit_buy(1))
    run.broker.submit_order(limit_buy(1))
    with pytest.raises(AssertionError, match="2 venue orders"):
        assert_single_order(harness, client_id(1))
