"""A bad rating's follow-up (差评回访核实、整改、申诉、回访满意度) as its own workflow type."""

from workflows.followup.workflow import FollowUpWorkflow

__all__ = ["FollowUpWorkflow"]
