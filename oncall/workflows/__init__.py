"""Workflow steps executed for real: `run_step` (steps.py) sends one planned step through the
providers, the guarded HTTP call (http.py) or the escalation machinery, and returns a
`StepOutcome` the durable run records. Nothing here decides what runs: the planner does."""

from oncall.workflows.http import DenyList, GuardedClient
from oncall.workflows.outcome import StepOutcome
from oncall.workflows.steps import Chains, StepContext, run_step

__all__ = ["Chains", "DenyList", "GuardedClient", "StepContext", "StepOutcome", "run_step"]
