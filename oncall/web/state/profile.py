"""The signed-in person's contact methods (add, verify, remove), rules and test page.

Contact methods and rules go through `oncall.contacts` (the service that owns them, with its own
permission checks and audit); the test page is queued in the outbox like any page.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.contacts import methods, rules
from oncall.db.engine import write_session
from oncall.incidents.actors import Actor
from oncall.web import context, profile
from oncall.web.state.session import SessionState

ADDABLE = ["phone", "email"]


class ProfileState(SessionState):
    contacts: list[dict[str, str]] = []  # noqa: RUF012
    rules: list[dict[str, str]] = []  # noqa: RUF012
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
            self.rules = [
                {
                    "urgency": r.urgency,
                    "delay": f"after {int(r.delay.total_seconds() // 60)} min"
                    if r.delay.total_seconds()
                    else "immediately",
                    "contact": f"{r.channel} {r.display}",
                    "usable": "" if r.usable else "skipped until verified",
                }
                for r in rules.notification_rules(session, actor, actor.user_id)
            ]

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

    @rx.event
    def test_page(self) -> None:
        def run(actor: Actor) -> int:
            with write_session(context.engine()) as session:
                return profile.send_test_page(session, actor, None, context.now())

        queued = self._act(run)
        if queued:
            self.notice = (
                f"Test page queued to {queued} contact method{'s' if queued > 1 else ''}: "
                "it arrives when a worker delivers it."
            )
