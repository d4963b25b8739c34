"""The schedule engine: who is on call, when, from a Schedule's layers and overrides.

Pure: instants in and out are timezone-aware, nothing reads the clock or does I/O.
"""

from oncall.core.schedule.engine import Plan, Shift, on_call, plan, shifts, who_at
from oncall.core.schedule.gaps import Gap, coverage_gaps

__all__ = ["Gap", "Plan", "Shift", "coverage_gaps", "on_call", "plan", "shifts", "who_at"]
