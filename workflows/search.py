"""Custom search attributes, so that ``temporal workflow list --query`` finds cases.

Registered on the namespace by the worker at start-up (``worker.temporal``); a namespace
without them rejects the upsert, which would fail the workflow task.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

PROCEDURE = SearchAttributeKey.for_keyword("OneTripProcedure")
DEPARTMENTS = SearchAttributeKey.for_keyword_list("OneTripDepartments")
STATE = SearchAttributeKey.for_keyword("OneTripState")
DEADLINE = SearchAttributeKey.for_datetime("OneTripDeadline")

ALL = (PROCEDURE, DEPARTMENTS, STATE, DEADLINE)
