"""Per-client-IP sliding-window rate limits, in memory (web_runtime §4.4).

The web is one waitress process, so an in-memory window is exact. Time comes from the app's clock,
which lets tests move past a window without sleeping.

Memory stays bounded: each bucket keeps its clients in least-recently-hit order, and every hit
first drops the clients at the idle end whose newest hit has left the window (an emptied window is
forgotten, not kept as an empty entry). Beyond `MAX_CLIENTS_PER_BUCKET` live clients in one bucket
the oldest-idle client is evicted; that client starts a fresh window on its next request. Reaching
the bound takes that many distinct addresses inside one window, which only a spoofed
X-Forwarded-For (TBOT_TRUST_PROXY=1 behind an untrusted proxy) can supply, and such a client can
already dodge any per-IP limit by changing address; the bound keeps the process alive regardless.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime

# bucket -> (requests allowed, window seconds)
LIMITS: dict[str, tuple[int, int]] = {
    "login": (5, 60),
    "reset_request": (5, 3600),
    "reset_token": (10, 3600),
    "setup": (5, 60),
}
# Live clients tracked per bucket before the oldest-idle one is evicted (a few MB at most).
MAX_CLIENTS_PER_BUCKET = 10_000


@dataclass(frozen=True)
class Verdict:
    """`allowed`, and when refused the seconds until the oldest hit leaves the window."""

    allowed: bool
    retry_after_s: int = 0


class RateLimiter:
    """Sliding windows keyed by (bucket, client address)."""

    def __init__(
        self,
        limits: dict[str, tuple[int, int]] | None = None,
        *,
        max_clients: int = MAX_CLIENTS_PER_BUCKET,
    ) -> None:
        if max_clients < 1:
            raise ValueError(f"max_clients must be at least 1, got {max_clients}")
        self.limits = dict(limits or LIMITS)
        self.max_clients = max_clients
        # bucket -> client -> hit stamps; clients ordered least recently hit first.
        self._buckets: dict[str, OrderedDict[str, deque[float]]] = {}
        self._lock = threading.Lock()

    def hit(self, bucket: str, client: str, now: datetime) -> Verdict:
        """Count one request; refuse it when the window is already full."""
        allowed, window_s = self.limits[bucket]
        stamp = now.timestamp()
        with self._lock:
            clients = self._buckets.setdefault(bucket, OrderedDict())
            self._prune_idle(clients, stamp - window_s)
            hits = clients.get(client)
            if hits is None:
                while len(clients) >= self.max_clients:
                    clients.popitem(last=False)  # evict the oldest-idle client
                hits = clients[client] = deque()
            else:
                clients.move_to_end(client)
            while hits and hits[0] <= stamp - window_s:
                hits.popleft()
            if len(hits) >= allowed:
                retry = int(hits[0] + window_s - stamp) + 1
                return Verdict(False, max(retry, 1))
            hits.append(stamp)
            return Verdict(True)

    @staticmethod
    def _prune_idle(clients: OrderedDict[str, deque[float]], cutoff: float) -> None:
        """Drop clients at the idle end whose newest hit is at or before `cutoff`.

        Stops at the first client still inside the window: the order is by last hit, so the rest
        were hit later. The cost is proportional to the entries dropped.
        """
        while clients:
            hits = next(iter(clients.values()))
            if hits and hits[-1] > cutoff:
                return
            clients.popitem(last=False)

    def prune(self, now: datetime) -> None:
        """Forget every client whose window emptied, in every bucket (hits do this per bucket)."""
        stamp = now.timestamp()
        with self._lock:
            for bucket, clients in list(self._buckets.items()):
                self._prune_idle(clients, stamp - self.limits[bucket][1])
                if not clients:
                    del self._buckets[bucket]

    def tracked(self) -> int:
        """How many (bucket, client) windows are held in memory."""
        with self._lock:
            return sum(len(clients) for clients in self._buckets.values())

    def reset(self) -> None:
        """Forget every window (used when the app is rebuilt in tests)."""
        with self._lock:
            self._buckets.clear()
