"""The statuses of an outbox row, for the code and for the database's CHECK constraint."""

from __future__ import annotations

from enum import StrEnum


class NotificationStatus(StrEnum):
    """Where a notification is in its life."""

    WAITING = "waiting"
    """A workflow step queued behind the step before it: released (to pending) when that one
    finishes, cancelled if it fails for good."""
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


STATUS_CHECK = "status IN ({})".format(", ".join(f"'{s.value}'" for s in NotificationStatus))
"""The CHECK constraint `ck_notifications_status`: the model's and the migration's."""
