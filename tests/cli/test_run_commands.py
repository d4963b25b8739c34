"""`oncall run`'s stand-ins: the example's workflow and runbook webhooks reach a local receiver
when their settings are unset, and a setting the user gave is left alone."""

from __future__ import annotations

from contextlib import ExitStack

import httpx

from oncall.cli.run_commands import _peers, webhook_settings
from oncall.config.configset import ConfigSet


def test_the_example_webhooks_read_these_settings(example_config: ConfigSet) -> None:
    assert webhook_settings(example_config) == [
        "AWX_TOKEN", "AWX_URL", "CDN_API_TOKEN", "CDN_API_URL", "CDN_ZONE_ID",
        "INCIDENT_HOOK_TOKEN", "NORTHWIND_HOOKS_URL",
    ]


def test_unset_webhook_settings_point_at_a_local_receiver(example_config: ConfigSet) -> None:
    env = {"ONCALL_SLACK_TOKEN": "xoxb-given", "ONCALL_SMTP_URL": "smtp://mail.example:25",
           "AWX_URL": "https://awx.example"}
    with ExitStack() as stack:
        _peers(stack, env, example_config)
        assert env["AWX_URL"] == "https://awx.example"  # what the user set stays
        assert env["AWX_TOKEN"] == "local-awx_token"
        hooks = env["NORTHWIND_HOOKS_URL"]
        assert hooks.startswith("http://127.0.0.1:") and hooks.endswith("/northwind_hooks")
        answer = httpx.post(f"{hooks}/incidents", json={"id": 1}, timeout=5)
        assert answer.status_code == 201 and answer.json()["status"] == "pending"
        assert env["CDN_API_URL"].rsplit("/", 1)[0] == hooks.rsplit("/", 1)[0]  # one receiver
