"""What one instance counts for Prometheus (served at `/metrics` by `ayni.metrics_route`).

Each instance has its own registry: several run in one test process, and a global one would
mix their counts. Off (no `AYNI_METRICS_TOKEN`), every method does nothing and
prometheus_client is never imported. Counters count this process's work; the queue gauges are
read from the database at each scrape, so they hold for every process sharing it.

Labels are closed sets (outcomes, reasons, route templates): never a path, a host or an id.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# The reasons an inbox refuses a POST, as `ayni_inbox_refused_total{reason}` names them.
INBOX_REFUSALS = (
    "too_large",
    "bad_activity",
    "blocked",
    "signature",
    "signer_mismatch",
    "unknown_actor_deleted",
    "unavailable",
)


class Metrics:
    def __init__(self, on: bool) -> None:
        self.registry: CollectorRegistry | None = None
        if not on:
            return
        import prometheus_client as prometheus

        registry = self.registry = prometheus.CollectorRegistry()
        self._received: Counter = prometheus.Counter(
            "ayni_inbox_received",
            "Activities an inbox verified and stored.",
            registry=registry,
        )
        self._refused: Counter = prometheus.Counter(
            "ayni_inbox_refused",
            "Activities an inbox refused (or dropped unread), by reason.",
            ["reason"],
            registry=registry,
        )
        self._deliveries: Counter = prometheus.Counter(
            "ayni_deliveries",
            "Delivery attempts by outcome: sent, retry, gone, rejected (refused for good), failed "
            "(out of attempts).",
            ["outcome"],
            registry=registry,
        )
        self._fanout: Histogram = prometheus.Histogram(
            "ayni_fanout_seconds",
            "Time to expand one fan-out job into deliveries.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        self._requests: Histogram = prometheus.Histogram(
            "ayni_request_duration_seconds",
            "HTTP request durations by route template, method and status class.",
            ["route", "method", "status"],
            registry=registry,
        )
        self._depth: Gauge = prometheus.Gauge(
            "ayni_queue_depth",
            "Rows waiting in each queue, read from the database at scrape time.",
            ["queue"],
            registry=registry,
        )
        self._oldest: Gauge = prometheus.Gauge(
            "ayni_queue_oldest_due_seconds",
            "Seconds since the oldest due row of each queue became due (0: none due).",
            ["queue"],
            registry=registry,
        )
        for reason in INBOX_REFUSALS:  # every series exists from the start, at 0
            self._refused.labels(reason)

    @property
    def on(self) -> bool:
        return self.registry is not None

    def inbox_received(self) -> None:
        if self.registry is not None:
            self._received.inc()

    def inbox_refused(self, reason: str) -> None:
        assert reason in INBOX_REFUSALS, reason
        if self.registry is not None:
            self._refused.labels(reason).inc()

    def delivered(self, outcome: str) -> None:
        if self.registry is not None:
            self._deliveries.labels(outcome).inc()

    def fanned_out(self, seconds: float) -> None:
        if self.registry is not None:
            self._fanout.observe(seconds)

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        if self.registry is not None:
            self._requests.labels(route, method, f"{status // 100}xx").observe(seconds)

    def queues(self, depths: Mapping[str, tuple[int, float]]) -> None:
        """What `models.queue.depths` read: rows waiting and the oldest due age, per queue."""
        if self.registry is None:
            return
        for name, (waiting, oldest) in depths.items():
            self._depth.labels(name).set(waiting)
            self._oldest.labels(name).set(oldest)

    def exposition(self) -> bytes:
        from prometheus_client import generate_latest

        assert self.registry is not None
        return generate_latest(self.registry)
