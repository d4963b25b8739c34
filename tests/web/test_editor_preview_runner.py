"""The builder's preview runs apart from the web app: a template asking for too much memory
fails like any template, one asking for too much time is stopped, and a normal one renders
exactly as in-process."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from oncall.config.configset import ConfigSet
from oncall.core.workflows import WorkflowIncident
from oncall.web.editor import workflow as W
from oncall.web.editor.preview_runner import PreviewFailed, bounded_preview

INCIDENT = WorkflowIncident(
    id=7, title="Search is slow", description=None, status="triggered", priority="P2",
    urgency="high", labels={}, service="search-api",
    triggered_at=datetime(2026, 3, 10, 11, 0, tzinfo=UTC))


def _with_text(text: str) -> W.WorkflowForm:
    return W.set_field(W.blank_form("wf"), "0", "text", text)


def test_same_as_in_process(example_config: ConfigSet) -> None:
    form = W.form_of(example_config.workflows["storefront-updates"])
    assert bounded_preview(form, INCIDENT, example_config) == W.preview(
        form, INCIDENT, example_config)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ('{{ "x" * 1000000000 }}', "⚠ template failed"),  # a gigabyte: refused, not allocated
        ('{{ "x" * 5000 }}', "x" * W.PREVIEW_CHARS + "… (3000 more characters)"),
    ],
)
def test_memory_and_size_are_bounded(example_config: ConfigSet, text: str, shown: str) -> None:
    lines = bounded_preview(_with_text(text), INCIDENT, example_config)["steps"][0]["lines"]
    assert lines[-1]["text"].startswith(shown)


def test_too_much_work_is_stopped(example_config: ConfigSet) -> None:
    loops = ('{% for a in "x" * 100000 %}{% for b in "x" * 100000 %}'
             '{% endfor %}{% endfor %}')
    started = time.monotonic()
    with pytest.raises(PreviewFailed, match="longer than 1 s"):
        bounded_preview(_with_text(loops), INCIDENT, example_config, seconds=1)
    assert time.monotonic() - started < 5
