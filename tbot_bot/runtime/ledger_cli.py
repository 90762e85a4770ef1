"""`tbot ledger sync|opening-balance|adjust-basis|export` as request files (web_runtime §1.3).

Each command writes a request file, then acts as the one-shot worker itself (it takes the ledger
writer lock; if the runner holds it, the request stays pending for the runner), and waits up to
`--wait` seconds for the result file. Exit codes: `sync` / `opening-balance` / `adjust-basis`
0 done, 1 failed,
2 rejected or still pending; `export` (accounting spec §9) 0 ok, 1 blocked, 2 any other error.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from tbot_bot.broker.base import Broker
from tbot_bot.clock import Clock, SystemClock
from tbot_bot.config import locks
from tbot_bot.config.path_resolver import RuntimePaths
from tbot_bot.errors import TbotError
from tbot_bot.runtime.home_broker import home_broker_factory
from tbot_bot.runtime.requests import process_ledger_requests, read_result, submit_request

DEFAULT_WAIT_S = 60.0
POLL_S = 0.5
ACTOR = "cli"


def run_request(
    paths: RuntimePaths,
    request_type: str,
    params: Mapping[str, Any],
    *,
    wait_s: float,
    clock: Clock | None = None,
    broker_factory: Callable[[], Broker] | None = None,
) -> tuple[str, dict[str, Any] | None]:
    """Submit one request, work the queue as the one-shot worker, wait for the result.

    Returns (request id, result), the result None when it is still pending after `wait_s`.
    While a runner is up it answers (accounting spec §1.2), with its live broker: this command
    then only waits. Otherwise it works the queue itself, retried while waiting (another
    one-shot may have held the ledger briefly).
    """
    clock = clock or SystemClock()
    factory = broker_factory or home_broker_factory(paths, clock)
    request_id = submit_request(paths, request_type, params, ACTOR, clock=clock)
    deadline = time.monotonic() + max(wait_s, 0.0)
    while True:
        if not locks.is_held(paths.lock_file("runner")):
            process_ledger_requests(paths, clock, broker_factory=factory)
        result = read_result(paths, request_id)
        remaining = deadline - time.monotonic()
        if result is not None or remaining <= 0:
            return request_id, result
        time.sleep(min(POLL_S, remaining))


def _submit(
    args: argparse.Namespace, request_type: str, params: Mapping[str, Any], err: TextIO
) -> tuple[str, dict[str, Any] | None] | None:
    """Run the request; None (after printing why) when it could not even be submitted."""
    try:
        paths = RuntimePaths.for_home(getattr(args, "home", None))
        wait = getattr(args, "wait", None)
        return run_request(
            paths, request_type, params, wait_s=DEFAULT_WAIT_S if wait is None else float(wait)
        )
    except TbotError as exc:
        print(f"{request_type}: {exc}", file=err)
        return None


def _pending(request_id: str, err: TextIO) -> int:
    print(f"still pending; the runner will answer request {request_id}", file=err)
    return 2


def _simple(
    args: argparse.Namespace,
    request_type: str,
    params: Mapping[str, Any],
    label: str,
    out: TextIO | None,
    err: TextIO | None,
) -> int:
    """Print the result message; 0 done, 1 failed, 2 rejected / pending / not submitted."""
    out, err = out or sys.stdout, err or sys.stderr
    submitted = _submit(args, request_type, params, err)
    if submitted is None:
        return 2
    request_id, result = submitted
    if result is None:
        return _pending(request_id, err)
    status, message = result["status"], str(result.get("message", ""))
    if status == "done":
        print(message, file=out)
        return 0
    print(f"{label} {status}: {message}", file=err)
    return 1 if status == "failed" else 2


def cmd_sync(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """`tbot ledger sync [--trigger T] [--wait S]`: one broker sync (accounting spec §6.1)."""
    trigger = getattr(args, "trigger", None) or "cli"
    return _simple(args, "ledger_sync", {"trigger": trigger}, "ledger sync", out, err)


def cmd_opening_balance(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """`tbot ledger opening-balance [--cutover UTC] [--wait S]` (accounting spec §6.4)."""
    cutover = getattr(args, "cutover", None)
    params = {} if cutover is None else {"cutover": str(cutover)}
    return _simple(args, "ledger_opening_balance", params, "ledger opening-balance", out, err)


def cmd_adjust_basis(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """`tbot ledger adjust-basis --lot N --basis AMOUNT --reason TEXT`: fix the basis of an
    opening-balance lot with an ADJUSTMENT event (accounting spec §4.2, §6.4)."""
    params = {"lot_id": int(args.lot), "basis": str(args.basis), "reason": str(args.reason)}
    return _simple(args, "ledger_adjust_basis", params, "ledger adjust-basis", out, err)


def cmd_export(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """The daily packages of [from_day, to_day], one file per line; 0 ok, 1 blocked, 2 error."""
    out, err = out or sys.stdout, err or sys.stderr
    params = {"format": str(args.format), "from": str(args.from_day), "to": str(args.to_day)}
    submitted = _submit(args, "ledger_export", params, err)
    if submitted is None:
        return 2
    request_id, result = submitted
    if result is None:
        return _pending(request_id, err)
    if result["status"] == "done":
        for path in result.get("files", []):
            print(path, file=out)
        return 0
    if result["status"] == "failed" and result.get("blocked"):
        print(f"ledger export blocked: {result.get('message')}", file=err)
        return 1
    print(f"ledger export {result['status']}: {result.get('message')}", file=err)
    return 2
