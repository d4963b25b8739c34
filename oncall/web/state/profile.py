"""The signed-in person's contact methods (add, verify, remove), rules and test page.

Contact methods and rules go through `oncall.contacts` (the service that owns them, with its own
permission checks and audit); the test page is queued in the outbox like any page. Beside the
rules, a preview per urgency of what a page would send now (`rules.effective_rules`, the plan
the escalator follows), refreshed after every change.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.contacts import methods, rules
from oncall.contacts.access import Invalid, NotFound
from oncall.contacts.rules import RuleSpec
from oncall.db.engine import write_session
from oncall.incidents.actors import Actor
from oncall.web import context, profile
from oncall.web.state.session import SessionState

ADDABLE = ["phone", "email"]
URGENCIES = list(rules.URGENCIES)
MAX_DELAY_MINUTES = int(rules.MAX_DELAY.total_seconds() // 60)


def _when(minutes: int) -> str:
    return f"after {minutes} min" if minutes else "at once"


def _minutes(text: str) -> int:
    """Minutes typed in a form; the service checks the range."""
    try:
        return int(text.strip())
    except ValueError:
        raise Invalid("the delay is a whole number of minutes") from None


class ProfileState(SessionState):
    contacts: list[dict[str, str]] = []  # noqa: RUF012
    rules: list[dict[str, str]] = []  # noqa: RUF012
    high_rules: list[dict[str, str]] = []  # noqa: RUF012
    low_rules: list[dict[str, str]] = []  # noqa: RUF012
    method_choices: list[dict[str, str]] = []  # noqa: RUF012
    """Contact methods a rule may name: {"id", "label"} (unverified ones say so)."""
    preview_high: list[dict[str, str]] = []  # noqa: RUF012
    preview_low: list[dict[str, str]] = []  # noqa: RUF012
    new_rule_urgency: str = "high"
    new_rule_delay: str = "0"
    new_rule_method: str = ""
    rule_error: str = ""
    new_kind: str = "phone"
    new_address: str = ""
    codes: dict[str, str] = {}  # noqa: RUF012

    def _refresh(self, actor: Actor) -> None:
        assert actor.user_id is not None
        now = context.now()
        with context.read_session() as session:
            found = methods.contact_methods(session, actor, actor.user_id, now)
            self.contacts = [
                {
                    "id": str(c.id),
                    "type": c.type,
                    "address": c.display,
                    "label": c.label or "",
                    "verified": "verified" if c.verified else "not verified",
                    "pending": "yes" if c.verification_pending else "",
                    "enabled": "on" if c.enabled else "off",
                }
                for c in found
            ]
            self.method_choices = [
                {"id": str(c.id),
                 "label": f"{c.type} {c.display}" + ("" if c.verified else " (not verified)")
                 + ("" if c.enabled else " (off)")}
                for c in found
            ]
            own = rules.notification_rules(session, actor, actor.user_id)
            skipped = {
                c.id: "not verified: skipped until it is" if not c.verified else "off: skipped"
                for c in found
            }
            self.rules = [
                {
                    "id": str(r.id),
                    "urgency": r.urgency,
                    "delay": str(int(r.delay.total_seconds() // 60)),
                    "when": _when(int(r.delay.total_seconds() // 60)),
                    "method_id": str(r.contact_method_id),
                    "contact": f"{r.channel} {r.display}",
                    "usable": "" if r.usable else skipped.get(r.contact_method_id, "skipped"),
                }
                for r in own
            ]
            previews = {
                level: [
                    {
                        "when": _when(int(e.delay.total_seconds() // 60)),
                        "channel": e.channel,
                        "address": e.display,
                        "default": "default" if e.default else "",
                    }
                    for e in rules.effective_rules(session, actor, actor.user_id, level,
                                                   context.current().settings.providers.channels)
                ]
                for level in URGENCIES
            }
        self.high_rules = [r for r in self.rules if r["urgency"] == "high"]
        self.low_rules = [r for r in self.rules if r["urgency"] == "low"]
        self.preview_high, self.preview_low = previews["high"], previews["low"]
        if self.new_rule_method not in {m["id"] for m in self.method_choices}:
            self.new_rule_method = self.method_choices[0]["id"] if self.method_choices else ""

    def _change(self, action: Any, message: str) -> None:
        def run(actor: Actor) -> bool:
            with write_session(context.engine()) as session:
                action(session, actor)
            self._refresh(actor)
            return True

        if self._act(run):
            self.notice = message

    @rx.event
    def load(self) -> Any:
        guard = self._require()
        if guard is not None:
            return guard
        self._act(self._refresh)
        return None

    @rx.event
    def set_new_kind(self, kind: str) -> None:
        self.new_kind = kind if kind in ADDABLE else "phone"

    @rx.event
    def set_new_address(self, text: str) -> None:
        self.new_address = text[:320]

    @rx.event
    def set_code(self, method_id: str, code: str) -> None:
        self.codes = {**self.codes, method_id: code.strip()[:12]}

    @rx.event
    def add_contact(self) -> None:
        address, kind = self.new_address.strip(), self.new_kind

        def add(session: Any, actor: Actor) -> None:
            assert actor.user_id is not None
            if kind == "phone":
                methods.add_phone(session, actor, actor.user_id, address, context.now())
            else:
                methods.add_email(session, actor, actor.user_id, address, context.now())

        self._change(add, f"Added {address}: a verification code is on its way.")
        if not self.error:
            self.new_address = ""

    @rx.event
    def send_code(self, method_id: str) -> None:
        self._change(
            lambda s, a: methods.send_code(s, a, int(method_id), context.now(), user_id=a.user_id),
            "A new code is on its way.",
        )

    @rx.event
    def confirm(self, method_id: str) -> None:
        code = self.codes.get(method_id, "")
        outcome: list[methods.Verification] = []

        def check(session: Any, actor: Actor) -> None:
            outcome.append(
                methods.confirm(
                    session, actor, int(method_id), code, context.now(), user_id=actor.user_id
                )
            )

        self._change(check, "")
        if outcome:
            if outcome[0].ok:
                self.notice = outcome[0].message
            else:
                self.notice, self.error = "", outcome[0].message
            self.codes = {k: v for k, v in self.codes.items() if k != method_id}

    @rx.event
    def remove(self, method_id: str) -> None:
        self._change(
            lambda s, a: methods.remove(s, a, int(method_id), context.now(), user_id=a.user_id),
            "Contact method removed.",
        )

    # --- notification rules ------------------------------------------------------------------

    def _rule_change(self, action: Any, message: str) -> bool:
        """A rule edit; its refusal is shown beside the rules, not at the top of the page."""
        self.rule_error = ""
        self._change(action, message)
        if self.error:
            self.rule_error, self.error = self.error, ""
            return False
        return True

    @rx.event
    def set_new_rule_urgency(self, value: str) -> None:
        self.new_rule_urgency = value if value in URGENCIES else "high"

    @rx.event
    def set_new_rule_delay(self, value: str) -> None:
        self.new_rule_delay = value.strip()[:6]

    @rx.event
    def set_new_rule_method(self, method_id: str) -> None:
        self.new_rule_method = method_id[:20]

    @rx.event
    def add_rule(self) -> None:
        urgency, delay, method = self.new_rule_urgency, self.new_rule_delay, self.new_rule_method

        def add(session: Any, actor: Actor) -> None:
            assert actor.user_id is not None
            if not method.isdigit():
                raise Invalid("choose a contact method (add one above first)")
            rules.add_rule(session, actor, actor.user_id, urgency=urgency,
                           delay=_minutes(delay) * 60, contact_method_id=int(method),
                           now=context.now())

        if self._rule_change(add, "Rule added."):
            self.new_rule_delay = "0"

    def _own_rule(self, rule_id: str) -> int:
        """A rule id from the page, only if it is one of the rules this page shows."""
        if rule_id not in {r["id"] for r in self.rules}:
            raise NotFound(f"notification rule {rule_id[:20]} does not exist")
        return int(rule_id)

    @rx.event
    def set_rule_delay(self, rule_id: str, value: str) -> None:
        def change(session: Any, actor: Actor) -> None:
            rules.update_rule(session, actor, self._own_rule(rule_id), now=context.now(),
                              delay=_minutes(value) * 60)

        self._rule_change(change, "Rule changed.")

    @rx.event
    def set_rule_method(self, rule_id: str, method_id: str) -> None:
        def change(session: Any, actor: Actor) -> None:
            if not method_id.isdigit():
                raise Invalid("choose a contact method")
            rules.update_rule(session, actor, self._own_rule(rule_id), now=context.now(),
                              contact_method_id=int(method_id))

        self._rule_change(change, "Rule changed.")

    @rx.event
    def remove_rule(self, rule_id: str) -> None:
        self._rule_change(
            lambda s, a: rules.remove_rule(s, a, self._own_rule(rule_id), context.now()),
            "Rule removed.",
        )

    @rx.event
    def use_defaults(self, urgency: str) -> None:
        def reset(session: Any, actor: Actor) -> None:
            assert actor.user_id is not None
            rules.replace_rules(session, actor, actor.user_id, {urgency: list[RuleSpec]()},
                                context.now())

        self._rule_change(reset, f"{urgency.capitalize()} urgency uses the defaults again.")

    @rx.event
    def test_page(self) -> None:
        def run(actor: Actor) -> int:
            with write_session(context.engine()) as session:
                return profile.send_test_page(session, actor, None, context.now())

        queued = self._act(run)
        if queued:
            context.wake()
            self.notice = (
                f"Test page queued to {queued} contact method{'s' if queued > 1 else ''}: "
                "it arrives when a worker delivers it."
            )
