"""What makes the app installable and able to show pushed pages: the manifest, its icons, the
service worker, and a Content-Security-Policy that lets them load."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import pytest

from oncall.notify.message import Notice, NoticeKind, Status, render_push
from oncall.web.headers import content_security_policy

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_manifest_makes_the_app_installable() -> None:
    manifest = json.loads((ASSETS / "manifest.webmanifest").read_text())
    assert manifest["display"] == "standalone"
    assert manifest["start_url"] == "/" and manifest["scope"] == "/"
    assert manifest["name"] and manifest["short_name"]
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["theme_color"])
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["background_color"])
    purposes = set()
    for icon in manifest["icons"]:
        width, height = png_size(ASSETS / icon["src"].lstrip("/"))
        assert icon["sizes"] == f"{width}x{height}" and icon["type"] == "image/png"
        purposes.add((width, icon["purpose"]))
    assert {(192, "any"), (512, "any"), (512, "maskable")} <= purposes
    assert png_size(ASSETS / "icons" / "apple-touch-icon.png") == (180, 180)


PAGE = Notice(kind=NoticeKind.PAGE, incident_id="42", number=42, title="Checkout down",
              url="https://oncall.example/incidents/42", service="storefront-web",
              priority="P1", urgency="high", status=Status.TRIGGERED,
              ack_url="https://oncall.example/ack/t0k3n")


@pytest.mark.parametrize("field", ["title", "body", "url", "tag", "renotify",
                                   "requireInteraction", "actions"])
def test_the_service_worker_reads_every_field_of_a_pushed_page(field: str) -> None:
    worker = (ASSETS / "sw.js").read_text()
    payload = json.loads(render_push(PAGE))
    assert field in payload and f"message.{field}" in worker


def test_the_acknowledge_button_posts_the_signed_link() -> None:
    worker = (ASSETS / "sw.js").read_text()
    payload = json.loads(render_push(PAGE))
    assert payload["actions"] == [{"action": "acknowledge", "title": "Acknowledge"}]
    assert payload["data"]["ack_url"] == PAGE.ack_url
    assert 'event.action === "acknowledge"' in worker
    assert 'fetch(data.ack_url, { method: "POST"' in worker
    # the verification code's tag, which the worker passes on to the open page
    code = json.loads(render_push(Notice.verification("123456")))
    assert f'"{code["tag"]}"' in worker and "123456" in code["body"]


def test_the_policy_lets_the_service_worker_and_manifest_load_from_this_origin_only() -> None:
    policy = {
        name: values
        for name, *values in (
            part.split() for part in content_security_policy("oncall.example").split("; ")
        )
    }
    assert policy["worker-src"] == ["'self'"]
    assert policy["manifest-src"] == ["'self'"]
