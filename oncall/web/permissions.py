"""What every Reflex event handler of the web app may change, and who may ask for it.

The rules themselves live once each, in the services the handlers call (`oncall.incidents.access`,
`oncall.schedules_service.may_override`, `oncall.contacts.access`, `oncall.postmortems.access`,
`oncall.statuspages.access`); a refusal comes back as `Forbidden` and is shown on the page. This
table names, for every handler of every `SessionState` page state, which of those rules guards
it, so that tests/web/test_permission_matrix.py can call each one as every kind of person and
check the database, and fails when a handler is added without a row here.
"""

from __future__ import annotations

from collections.abc import Mapping

from oncall.api.permissions import Rule

R = Rule

_SESSION = {
    "check_login": R.READ,
    "dismiss": R.READ,
    "sign_out": R.SELF,
}
_LIVE = {"watch": R.READ, "stop_live": R.READ}
_INCIDENT_ACTIONS = {
    "acknowledge": R.ACT_ON_INCIDENT,
    "change_priority": R.ACT_ON_INCIDENT,
    "open_dialog": R.READ,
    "close_dialog": R.READ,
    "set_dialog_text": R.READ,
    "submit_dialog": R.ACT_ON_INCIDENT,  # resolve, reassign, note
}


def _of(state: str, rules: Mapping[str, Rule]) -> dict[str, Rule]:
    """The rows of one state: its own handlers and `setvar`, a form field like any other."""
    return {f"{state}.{name}": rule for name, rule in {"setvar": R.READ, **rules}.items()}


HANDLERS: Mapping[str, Rule] = {
    **_of("SessionState", _SESSION),
    **_of("IncidentState", {
        **_LIVE, **_INCIDENT_ACTIONS,
        "apply_tz": R.READ,
        "load": R.READ,
        "escalate_now": R.ACT_ON_INCIDENT,
        "take_role": R.ACT_ON_INCIDENT,
        "clear_role": R.ACT_ON_INCIDENT,
        "open_role": R.READ,
        "set_role_user": R.READ,
        "close_role": R.READ,
        "submit_role": R.ACT_ON_INCIDENT,
        "open_runbook": R.READ,
        "set_runbook_value": R.READ,
        "close_runbook": R.READ,
        "submit_runbook": R.RUN_RUNBOOK,
        "open_postmortem": R.POSTMORTEM_OPEN,
    }),
    **_of("IncidentsState", {
        **_LIVE, **_INCIDENT_ACTIONS,
        "apply_tz": R.READ,
        "load": R.READ,
        "clear_filters": R.READ,
        "next_page": R.READ,
        "prev_page": R.READ,
        "set_priority_filter": R.READ,
        "set_service_filter": R.READ,
        "set_status_filter": R.READ,
        "set_team_filter": R.READ,
        "set_text_filter": R.READ,
        "open_declare": R.READ,
        "close_declare": R.READ,
        "set_declare_field": R.READ,
        "submit_declare": R.DECLARE,
    }),
    **_of("OnCallState", {"apply_tz": R.READ, "load": R.READ}),
    **_of("ScheduleState", {
        "apply_tz": R.READ,
        "load": R.READ,
        "set_form": R.READ,
        "submit_override": R.MANAGE_OVERRIDES,
        "cancel": R.MANAGE_OVERRIDES,
        "feed_for_me": R.SELF,
        "feed_for_schedule": R.SELF,  # a feed URL of the person's own, of a schedule all read
        "revoke_feed": R.SELF,
    }),
    **_of("PostmortemsState", {
        **_LIVE,
        "apply_tz": R.READ,
        "load": R.READ,
        "set_item_owner": R.READ,
        "set_item_team": R.READ,
        "set_status_filter": R.READ,
        "set_tab": R.READ,
        "set_team_filter": R.READ,
    }),
    **_of("PostmortemState", {
        **_LIVE,
        "apply_tz": R.READ,
        "load": R.READ,
        "set_draft": R.READ,
        "toggle_preview": R.READ,
        "set_note": R.READ,
        "set_kept_only": R.READ,
        "set_new_incident": R.READ,
        "set_item_field": R.READ,
        "set_edit_field": R.READ,
        "edit_item": R.READ,
        "cancel_edit": R.READ,
        "load_theirs": R.READ,
        "autosave": R.POSTMORTEM_EDIT,
        "keep_mine": R.POSTMORTEM_EDIT,
        "link_incident": R.POSTMORTEM_EDIT,
        "unlink_incident": R.POSTMORTEM_EDIT,
        "set_kept": R.POSTMORTEM_EDIT,
        "save_note": R.POSTMORTEM_EDIT,
        "add_item": R.POSTMORTEM_EDIT,
        "set_item_status": R.POSTMORTEM_EDIT,
        "save_item": R.POSTMORTEM_EDIT,
        "delete_item": R.POSTMORTEM_EDIT,
        "download_markdown": R.POSTMORTEM_READ,
    }),
    **_of("ProfileState", {
        "load": R.READ,
        "set_new_kind": R.READ,
        "set_new_address": R.READ,
        "set_code": R.READ,
        "set_new_rule_urgency": R.READ,
        "set_new_rule_delay": R.READ,
        "set_new_rule_method": R.READ,
        "add_contact": R.SELF,
        "send_code": R.SELF,
        "confirm": R.SELF,
        "remove": R.SELF,
        "add_rule": R.SELF,
        "set_rule_delay": R.SELF,
        "set_rule_method": R.SELF,
        "remove_rule": R.SELF,
        "use_defaults": R.SELF,
        "test_page": R.SELF,
    }),
    **_of("PushState", {
        "load": R.READ,
        "found": R.READ,
        "set_push_code": R.READ,
        "enable": R.SELF,
        "subscribed": R.SELF,
        "code_arrived": R.SELF,
        "confirm_code": R.SELF,
        "send_again": R.SELF,
        "disable": R.SELF,
        "unsubscribed": R.SELF,
    }),
    **_of("ReportsState", {
        "load": R.READ,
        "apply_dates": R.READ,
        "download": R.READ,
        "set_period": R.READ,
        "set_service": R.READ,
        "set_since": R.READ,
        "set_team": R.READ,
        "set_until": R.READ,
    }),
    **_of("ConfigState", {"apply_tz": R.READ, "load": R.READ, "set_kind_filter": R.READ}),
    **_of("ServicesState", {"load": R.READ, "select": R.READ}),
    **_of("StatusPagesState", {
        **_LIVE,
        "apply_tz": R.READ,
        "load": R.READ,
        "set_new_title": R.READ,
        "set_new_body": R.READ,
        "set_new_status": R.READ,
        "set_new_component": R.READ,
        "set_update_text": R.READ,
        "set_update_status": R.READ,
        "set_manual_status": R.READ,
        "set_manual_for": R.READ,
        "post_notice": R.STATUS_PAGE_WRITE,
        "update_notice": R.STATUS_PAGE_WRITE,
        "set_component": R.STATUS_PAGE_WRITE,
        "clear_component": R.STATUS_PAGE_WRITE,
    }),
    **_of("DeliveryState", {"load": R.READ, "set_window": R.READ}),
    # Config editors write YAML, never the database: every edit is a form field (READ); only
    # opening a pull request with the installation's token is guarded.
    **_of("ScheduleEditorState", {
        "load": R.READ,
        "set_field": R.READ,
        "set_layer_field": R.READ,
        "add_layer": R.READ,
        "remove_layer": R.READ,
        "search_members": R.READ,
        "add_member": R.READ,
        "remove_member": R.READ,
        "move_member_up": R.READ,
        "add_window": R.READ,
        "remove_window": R.READ,
        "set_window_field": R.READ,
        "toggle_day": R.READ,
        "copy_yaml": R.READ,
        "open_pull_request": R.EDIT_CONFIG,
    }),
    # The policy and workflow editors change nothing stored: every edit rebuilds a YAML
    # document; only a pull request leaves the app, for whom EDIT_CONFIG allows.
    **_of("PolicyEditorState", {
        "load": R.READ,
        "set_name": R.READ,
        "set_description": R.READ,
        "set_repeat": R.READ,
        "add_step": R.READ,
        "remove_step": R.READ,
        "move_up": R.READ,
        "move_down": R.READ,
        "set_timeout": R.READ,
        "add_target": R.READ,
        "remove_target": R.READ,
        "search_people": R.READ,
        "copy_yaml": R.READ,
        "open_pull_request": R.EDIT_CONFIG,
    }),
    **_of("WorkflowEditorState", {
        "load": R.READ,
        "set_name": R.READ,
        "set_description": R.READ,
        "set_when": R.READ,
        "set_event": R.READ,
        "add_step": R.READ,
        "add_branch_step": R.READ,
        "remove_step": R.READ,
        "move_up": R.READ,
        "move_down": R.READ,
        "set_field": R.READ,
        "set_continue": R.READ,
        "search_incidents": R.READ,
        "pick_incident": R.READ,
        "set_preview_event": R.READ,
        "copy_yaml": R.READ,
        "open_pull_request": R.EDIT_CONFIG,
    }),
}
"""Every event handler, as `State.handler`, with the rule its change is checked against."""
