"""The event store's own measurements, for ``GET /metrics`` (Prometheus): how long an append
takes its caller (queue, group commit and all), and how many appends each group commit carries."""

from __future__ import annotations

from prometheus_client import Histogram

APPEND_SECONDS = Histogram(
    "ledger_append_seconds",
    "Time from an append's call to its answer (queueing and group commit included)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BATCH_SIZE = Histogram(
    "ledger_group_commit_batch_size",
    "Appends committed together in one transaction",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)
BATCH_SECONDS = Histogram(
    "ledger_group_commit_seconds",
    "Duration of one group-commit transaction, lock wait included",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


def committed(appends: int, seconds: float) -> None:
    """Record one committed group commit of ``appends`` requests."""
    BATCH_SIZE.observe(appends)
    BATCH_SECONDS.observe(seconds)
