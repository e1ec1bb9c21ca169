"""The case workflow, second edition: pure rules and one clock model behind a thin workflow.

- ``spec``: lookups over the procedure snapshot a case runs.
- ``clocks``: the one clock model (running, suspended, due and warning instants, cards).
- ``state``: the case's whole state in one object, with its event log.
- ``joins``: the join policies (会签, 或签, 依次), one small function each.
- ``guards``: who may do what, when; shared by update validators and handlers.
- ``rules``: what each action changes (pure, takes ``now``).
- ``incidents``: errors retrying cannot fix, opened and resolved.
- ``timing``: deadlines computed and applied, timers fired, rows projected.
- ``workflow``: the ``@workflow.defn`` class (``CaseWorkflowV2``).
"""

from workflows.case.workflow import CaseWorkflow

__all__ = ["CaseWorkflow"]
