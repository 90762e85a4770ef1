"""Accounting test fixtures (defined once in `fixtures.py`, shared with the integration tests)."""

from tbot_bot.test.unit.accounting.fixtures import (  # noqa: F401 - pytest finds them by name
    books,
    clock,
    identity,
    outputs,
    paths,
    session,
)
