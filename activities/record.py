"""The one activity that writes case data: events and their projections, in one transaction.

Idempotent: events carry (case id, sequence number) assigned by the workflow, so a retry after
a lost answer inserts nothing twice, and a projection row is only overwritten by a newer one.
"""

from __future__ import annotations

from temporalio import activity

from store.db import Store
from store.writes import record
from workflows.contracts import RECORD_ACTIVITY, RecordInput, RecordResult


class RecordActivities:
    """Bound to the worker's store; runs in the worker's thread pool (blocking I/O)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @activity.defn(name=RECORD_ACTIVITY)
    def record_case_events(self, data: RecordInput) -> RecordResult:
        """Append the events and update ``cases`` and ``tasks``; retried until it succeeds."""
        return record(self.store, data)
