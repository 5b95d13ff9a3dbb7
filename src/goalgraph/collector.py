"""Python's cyclic garbage collector, tuned for a long-running server process.

A read allocates tens of thousands of short-lived objects (rows, periods, GraphQL results) that
reference counting frees; with the interpreter's defaults the collector still runs every 700
allocations and re-scans everything alive, the schema, models and registry included — measured at
16 % of a dashboard read's CPU (8.8 of 54 ms on the demo dashboard). Freezing what exists after
start-up (it lives as long as the process) and collecting young objects less often cut that to
2–4 ms. Cyclic garbage is still collected, in larger batches, which costs memory: under the mixed
load benchmark (60 s) a worker's RSS grew by 20 MB untuned, 35–50 MB with young collections every
2,000 allocations and 60–70 MB every 10,000, for 41.6, 36.2 and 34.5 ms of CPU per request; 2,000
is the trade taken.

Only server entry points call :func:`tune_for_serving` (``goalgraph serve`` and its workers): a test
process creating many apps must not freeze each one's objects for good.
"""

from __future__ import annotations

import gc

#: Allocations between collections of the youngest generation (the interpreter's default is 700).
YOUNG_THRESHOLD = 2_000


def tune_for_serving() -> None:
    """Freeze the objects alive now and collect young objects less often (call once, after start-up)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
