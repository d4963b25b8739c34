"""Contact methods and personal notification rules: the service layer the profile page calls.

Personal data, stored in the database and never in git. Every function takes the acting
`Actor` (a person edits their own, an admin anyone's), flushes but never commits (callers own
the transaction), records an audit event whose subject is the person, and returns plain
frozen views that outlive the session.
"""

from oncall.contacts.access import Invalid, NotFound
from oncall.contacts.methods import (
    CODE_LIFETIME,
    MAX_ATTEMPTS,
    RESEND_INTERVAL,
    ContactMethod,
    Verification,
    add_email,
    add_phone,
    add_push_subscription,
    add_slack,
    confirm,
    contact_methods,
    remove,
    send_code,
    set_enabled,
)
from oncall.contacts.phones import InvalidPhone, display_phone, normalize_phone
from oncall.contacts.rules import (
    EffectiveRule,
    NotificationRule,
    add_rule,
    effective_rules,
    notification_rules,
    remove_rule,
    update_rule,
)

__all__ = [
    "CODE_LIFETIME",
    "MAX_ATTEMPTS",
    "RESEND_INTERVAL",
    "ContactMethod",
    "EffectiveRule",
    "Invalid",
    "InvalidPhone",
    "NotFound",
    "NotificationRule",
    "Verification",
    "add_email",
    "add_phone",
    "add_push_subscription",
    "add_rule",
    "add_slack",
    "confirm",
    "contact_methods",
    "display_phone",
    "effective_rules",
    "normalize_phone",
    "notification_rules",
    "remove",
    "remove_rule",
    "send_code",
    "set_enabled",
    "update_rule",
]
