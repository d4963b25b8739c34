"""Route handlers are module-level functions of the `ApiContext` and the request; `bind`
gives Starlette the one-argument endpoint it calls, so each handler stays findable and
testable on its own."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C")

Operation = dict[str, Any]
"""One OpenAPI operation object (summary, parameters, requestBody, responses)."""


def bind(handler: Callable[Concatenate[C, P], R], ctx: C) -> Callable[P, R]:
    """`handler` with its context filled in: what a Route (or `offloaded`) calls."""
    return functools.partial(handler, ctx)
