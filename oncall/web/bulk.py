"""Acting on several incidents of the dashboard at once: which ones are chosen, and the one line
that tells the person how it went.

Choosing is limited to what the list shows, so that nothing out of sight is acted on by
surprise; each chosen incident then goes through the single action's own service call and
permission check, and an incident that was refused is named with the reason, never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Result(StrEnum):
    DONE = "done"
    UNCHANGED = "unchanged"  # already in that state: the service changed nothing
    REFUSED = "refused"  # the service refused it (permission, not found, ...)


@dataclass(frozen=True)
class Outcome:
    incident: int
    result: Result
    reason: str = ""


def toggle(selected: Sequence[str], incident: str, shown: Sequence[str]) -> list[str]:
    """`incident` added to or taken off the selection; an id the list does not show is
    ignored. The selection keeps the list's order, the order actions run in."""
    if incident not in shown:
        return keep_shown(selected, shown)
    chosen = set(selected) ^ {incident}
    return [i for i in shown if i in chosen]


def all_chosen(selected: Sequence[str], shown: Sequence[str]) -> bool:
    return bool(shown) and set(shown) <= set(selected)


def toggle_all(selected: Sequence[str], shown: Sequence[str]) -> list[str]:
    """"Select all shown": everything shown, or nothing when everything shown already is."""
    return [] if all_chosen(selected, shown) else list(shown)


def keep_shown(selected: Sequence[str], shown: Sequence[str]) -> list[str]:
    """The selection after the list changed (a filter, a page, a live update): only what is
    still on screen stays chosen."""
    chosen = set(selected)
    return [i for i in shown if i in chosen]


def _ids(outcomes: Sequence[Outcome]) -> str:
    return ", ".join(f"#{o.incident}" for o in outcomes)


def summary(verb: str, outcomes: Sequence[Outcome]) -> str:
    """One line with the counts, e.g. "3 selected: 1 acknowledged (#12); 1 already acknowledged
    (#14); 1 refused: #15 (observers may not act)". Refusals with the same reason are
    grouped under it."""
    done = [o for o in outcomes if o.result is Result.DONE]
    unchanged = [o for o in outcomes if o.result is Result.UNCHANGED]
    refused = [o for o in outcomes if o.result is Result.REFUSED]
    parts = [f"{len(done)} {verb}" + (f" ({_ids(done)})" if done else "")]
    if unchanged:
        parts.append(f"{len(unchanged)} already {verb} ({_ids(unchanged)})")
    if refused:
        reasons: dict[str, list[Outcome]] = {}
        for o in refused:
            reasons.setdefault(o.reason or "refused", []).append(o)
        parts.append(f"{len(refused)} refused: "
                     + "; ".join(f"{_ids(group)} ({reason.rstrip('.')})"
                                 for reason, group in reasons.items()))
    return f"{len(outcomes)} selected: " + "; ".join(parts) + "."


def any_refused(outcomes: Sequence[Outcome]) -> bool:
    return any(o.result is Result.REFUSED for o in outcomes)
