"""Alertmanager/Prometheus label matchers: `name="value"`, `!=`, `=~` and `!~`.

Regular expressions are anchored at both ends and a missing label reads as the empty string,
as in Alertmanager, so rules written for Alertmanager route the same way here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class MatcherError(ValueError):
    pass


class Op(StrEnum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


_SYNTAX = re.compile(
    r"""^\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*(?P<value>.*?)\s*$""",
    re.DOTALL,
)
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}


@dataclass(frozen=True)
class Matcher:
    name: str
    op: Op
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op is Op.EQ:
            return actual == self.value
        if self.op is Op.NE:
            return actual != self.value
        assert self._regex is not None
        found = self._regex.fullmatch(actual) is not None
        return found if self.op is Op.RE else not found

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op.value}"{escaped}"'


def _unquote(raw: str) -> str:
    if not raw.startswith('"'):
        if any(c in raw for c in '"{},'):
            raise MatcherError(f"unquoted value {raw!r} contains a reserved character; quote it")
        return raw
    if len(raw) < 2 or not raw.endswith('"'):
        raise MatcherError(f"unterminated quoted value {raw}")
    out: list[str] = []
    body = raw[1:-1]
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            if i + 1 >= len(body):
                raise MatcherError(f"value {raw} ends in a lone backslash")
            nxt = body[i + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
            continue
        if c == '"':
            raise MatcherError(f'unescaped " inside the value {raw}')
        out.append(c)
        i += 1
    return "".join(out)


def parse_matcher(text: str) -> Matcher:
    """Parse one matcher; raises MatcherError with a message fit for a config error."""
    if not isinstance(text, str):
        raise MatcherError("a matcher must be a string like severity=\"critical\"")
    m = _SYNTAX.match(text)
    if m is None:
        raise MatcherError(
            f"invalid matcher {text!r}: expected label=\"value\", label!=\"value\", "
            'label=~"regex" or label!~"regex"'
        )
    op = Op(m.group("op"))
    value = _unquote(m.group("value"))
    regex = None
    if op in (Op.RE, Op.NRE):
        try:
            regex = re.compile(value)
        except re.error as exc:
            raise MatcherError(f"invalid regular expression {value!r} in {text!r}: {exc}") from exc
    return Matcher(m.group("name"), op, value, regex)


def matches_all(matchers: list[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
