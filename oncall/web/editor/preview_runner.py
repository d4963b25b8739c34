"""Rendering a preview where a template cannot hold the web app: in a child process, bounded in
time and memory.

The engine renders templates from the reviewed config; the builder's preview renders what anyone
signed in just typed. The sandbox keeps a template from Python's internals, not from asking for a
billion characters (`"x" * 10**9`) or nested loops over them, so the preview runs apart: a child
that takes longer than `seconds` is killed, and one that asks for more memory than `MEMORY` gets
a MemoryError, which the engine's renderer reports like any failed template.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
from multiprocessing.connection import Connection
from typing import Any

from oncall.config.configset import ConfigSet
from oncall.core.workflows import WorkflowIncident
from oncall.web.editor import workflow as W

SECONDS = 3.0
MEMORY = 256 * 1024 * 1024
"""Address space a preview may add to what the child starts with."""

_CONTEXT = multiprocessing.get_context("forkserver")


class PreviewFailed(RuntimeError):
    pass


def _address_space() -> int:
    with open(f"/proc/{os.getpid()}/statm", encoding="ascii") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _child(conn: Connection, args: tuple[Any, ...]) -> None:
    try:
        limit = _address_space() + MEMORY
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        conn.send(("ok", W.preview(*args)))
    except BaseException as exc:  # noqa: BLE001 - whatever happened, the parent hears of it
        conn.send(("failed", type(exc).__name__))
    finally:
        conn.close()


def bounded_preview(form: W.WorkflowForm, incident: WorkflowIncident, config: ConfigSet,
                    event: str | None = None, *, seconds: float = SECONDS) -> dict[str, Any]:
    """`workflow.preview`, in a child process killed after `seconds`."""
    receive, send = _CONTEXT.Pipe(duplex=False)
    child = _CONTEXT.Process(target=_child, args=(send, (form, incident, config, event)),
                             daemon=True)
    child.start()
    send.close()
    try:
        if not receive.poll(seconds):
            raise PreviewFailed(f"the preview took longer than {seconds:g} s and was stopped: "
                                "a template asks for too much work")
        status, value = receive.recv()
    except EOFError:
        raise PreviewFailed("the preview stopped without an answer") from None
    finally:
        if child.is_alive():
            child.kill()
        child.join(1)
        receive.close()
    if status != "ok":
        raise PreviewFailed(f"the preview failed ({value})")
    result: dict[str, Any] = value
    return result
