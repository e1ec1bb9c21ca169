"""The one activity that writes case data: events and their projections, in one transaction.

Idempotent: events carry (case id, sequence number) assigned by the workflow, so a retry after
a lost answer inserts nothing twice, and a projection row is only overwritten by a newer one.

Failures are classified. A store that cannot be reached, a lock timeout, a serialization
failure: transient, retried by the activity's retry policy. Anything else (text PostgreSQL
refuses, a constraint, a value the driver cannot bind) will fail the same way on every
attempt: it is raised as a non-retryable ``StoreRejected`` error, and the case writes the
batch again cleaned, with an incident (see workflows.case.workflow).
"""

from __future__ import annotations

import structlog
from sqlalchemy import exc as sa_exc
from temporalio import activity
from temporalio.exceptions import ApplicationError

from store import followups
from store.db import Store
from store.writes import record, sanitize
from workflows.contracts import (
    RECORD_ACTIVITY,
    RECORD_FOLLOWUP_ACTIVITY,
    STORE_REJECTED,
    FollowUpRecordInput,
    RecordInput,
    RecordResult,
)

log = structlog.get_logger(__name__)

TRANSIENT = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
    sa_exc.ProgrammingError,
    ConnectionError,
    TimeoutError,
)
"""Errors that go away by themselves or by an operator's hand (a store down or locked, a
schema not migrated yet): retried. ProgrammingError is here because a missing table or
column is fixed by migrating, not by changing the data."""


def transient(error: BaseException) -> bool:
    """Whether retrying the same write may succeed."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, TRANSIENT)


def describe(error: BaseException) -> str:
    """The error in one short line, without echoing the data that caused it."""
    original = getattr(error, "orig", None) or error
    first = str(original).strip().splitlines()[0] if str(original).strip() else ""
    return f"{type(original).__name__}: {first[:200]}"


class RecordActivities:
    """Bound to the worker's store; runs in the worker's thread pool (blocking I/O)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @activity.defn(name=RECORD_ACTIVITY)
    def record_case_events(self, data: RecordInput) -> RecordResult:
        """Append the events and update the projections; classify what fails."""
        if data.sanitize:
            return record(self.store, sanitize(data))
        try:
            return record(self.store, data)
        except Exception as error:
            if transient(error):
                raise
            message = describe(error)
            if data.sanitize is None:
                # The first edition of the case workflow retries for ever: write it cleaned.
                log.error(
                    "store refused a write; writing it cleaned", case_id=data.case.id, error=message
                )
                return record(self.store, sanitize(data))
            raise ApplicationError(message, type=STORE_REJECTED, non_retryable=True) from None

    @activity.defn(name=RECORD_FOLLOWUP_ACTIVITY)
    def record_followup_events(self, data: FollowUpRecordInput) -> RecordResult:
        """A follow-up's events and rows; classified like a case's."""
        try:
            return followups.record(self.store, sanitize(data) if data.sanitize else data)
        except Exception as error:
            if transient(error):
                raise
            raise ApplicationError(
                describe(error), type=STORE_REJECTED, non_retryable=True
            ) from None
