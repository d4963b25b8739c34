"""Sandboxed workflow expressions and templates.

Jinja's immutable sandbox refuses attribute access to Python internals and calls that mutate;
config authors get Jinja syntax (`{{ incident.title }}`, `incident.priority in ["P1"]`) and a
typo is a validation error in CI instead of a failure during an incident.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from oncall.config.suggest import did_you_mean


class TemplateProblem(ValueError):
    pass


_ENV = ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined)
_ENV.globals.clear()

WORKFLOW_VARIABLES = frozenset({"incident", "service", "event"})
RUNBOOK_VARIABLES = frozenset({"params", "incident", "service"})
NOTICE_VARIABLES = frozenset({"component", "page", "status"})
"""A status page's automatic notices are public: they see the component, the page title and the
status text, never an incident or an alert."""
STATUS_STEP_VARIABLES = frozenset({"service", "page"})
"""A workflow's `status` step publishes too: the service's name and the page title only, never
the incident's title or labels."""


def _parse(source: str) -> nodes.Template:
    try:
        return _ENV.parse(source)
    except TemplateError as exc:
        raise TemplateProblem(f"template syntax error: {exc.message or exc}") from exc


def _check_names(tree: nodes.Template, allowed: frozenset[str]) -> None:
    for name in sorted(meta.find_undeclared_variables(tree)):
        if name not in allowed:
            known = ", ".join(sorted(allowed))
            hint = did_you_mean(name, allowed)
            raise TemplateProblem(f"unknown variable {name!r}{hint}; known here: {known}")


def check_template(source: str, allowed: frozenset[str]) -> None:
    """Raise TemplateProblem unless `source` compiles and uses only `allowed` names."""
    tree = _parse(source)
    _check_names(tree, allowed)
    try:
        _ENV.from_string(source)
    except TemplateError as exc:
        raise TemplateProblem(f"template error: {exc}") from exc


def check_expression(source: str, allowed: frozenset[str]) -> None:
    """Raise TemplateProblem unless `source` is one valid expression over `allowed` names."""
    if not source.strip():
        raise TemplateProblem("empty expression")
    if "{{" in source or "{%" in source:
        raise TemplateProblem("write a bare expression here, without {{ }}")
    try:
        _ENV.compile_expression(source)
    except TemplateError as exc:
        raise TemplateProblem(f"expression syntax error: {exc.message or exc}") from exc
    _check_names(_parse("{{ (" + source + ") }}"), allowed)


# Compiling costs far more than rendering, and a workflow renders the same texts for every
# incident: each distinct source is compiled once per process (compiled templates are
# thread-safe to render).
@lru_cache(maxsize=2048)
def _template(source: str) -> Any:
    return _ENV.from_string(source)


@lru_cache(maxsize=2048)
def _expression(source: str) -> Any:
    return _ENV.compile_expression(source, undefined_to_none=False)


def render(source: str, context: Mapping[str, Any]) -> str:
    """Render a template; raises TemplateProblem (never arbitrary exceptions) on failure."""
    try:
        return str(_template(source).render(**context))
    except Exception as exc:
        raise TemplateProblem(f"template failed: {exc}") from exc


def render_notice(source: str, *, component: str, page: str, status: str) -> str:
    """Render a StatusPage notice text with exactly the names a public page may show."""
    return render(source, {"component": component, "page": page, "status": status})


def evaluate(source: str, context: Mapping[str, Any]) -> Any:
    """Evaluate an expression; raises TemplateProblem on any failure."""
    try:
        return _expression(source)(**context)
    except Exception as exc:
        raise TemplateProblem(f"expression failed: {exc}") from exc
