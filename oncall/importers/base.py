"""What every importer reads from and what it returns.

An importer turns one vendor's REST API (live, or the same responses saved as files) into our
own config objects. It never writes files or talks to the database: `oncall.importers.writer`
writes the YAML, `oncall.importers.parity` proves who is on call matches.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from oncall.config.models import ConfigObject
from oncall.importers.names import slug


class ImportFailed(Exception):
    """The source cannot be read (HTTP error, missing file, malformed response): exit 2."""


class Source(Protocol):
    """A vendor's REST API, by path relative to its base URL (`schedules/P1ABC23`)."""

    def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        """The decoded JSON response of `GET path?params`."""


@dataclass(frozen=True)
class Unmapped:
    """Something in the source that has no equivalent here, and why: reported, never dropped."""

    kind: str
    """The vendor's object type: `schedule`, `escalation_policy`, `layer`, `user`..."""
    source_id: str
    name: str
    reason: str


@dataclass(frozen=True)
class RenderedShift:
    """One entry of the vendor's own final (rendered) schedule: who it says is on call."""

    start: datetime
    end: datetime
    who: str | None
    """The person's email; None for a gap nobody covers."""


@dataclass
class Imported:
    """The result of reading one vendor account."""

    vendor: str
    objects: list[ConfigObject] = field(default_factory=list)
    """Teams, Schedules, EscalationPolicies, Services and Integrations, ready to be written."""
    unmapped: list[Unmapped] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)
    """Environment variable name -> what it must hold (an integration key, to be set where
    oncall runs); the values themselves are never written into the YAML."""
    secret_values: dict[str, str] = field(default_factory=dict)
    """Environment variable name -> the value itself, where the vendor's API gives it (an
    integration key): written only to `secrets.env` when the CLI is asked (`--write-secrets`),
    never into YAML or the report."""
    rendered: dict[str, list[RenderedShift]] = field(default_factory=dict)
    """Our schedule name -> the vendor's final schedule over `window`, in time order."""
    window: tuple[datetime, datetime] | None = None


class Reader:
    """What every vendor's reader does alike: names made unique per kind, each object validated
    as it is made, and whatever cannot be mapped reported with why (a vendor object that fails
    our validation is reported too, never a traceback and never silently dropped)."""

    LABELS: tuple[str, ...] = ("name",)
    """The vendor fields that name an object in the report, first present wins."""

    def __init__(self, vendor: str, source: Source, since: datetime | None,
                 days: int | None) -> None:
        self.source, self.since, self.days = source, since, days
        self.out = Imported(vendor)
        self.taken: dict[str, set[str]] = {}

    def name(self, kind: str, vendor_name: str) -> str:
        return slug(vendor_name, self.taken.setdefault(kind, set()))

    def unmapped(self, kind: str, item: Mapping[str, Any], reason: str) -> None:
        label = next((str(item[k]) for k in self.LABELS if item.get(k)), "")
        self.out.unmapped.append(Unmapped(kind, str(item.get("id", "")), label, reason))

    def add(self, model: type[ConfigObject], doc: dict[str, Any]) -> bool:
        try:
            self.out.objects.append(model.model_validate(doc))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}"
                                 for e in exc.errors())
            self.out.unmapped.append(Unmapped(model.KIND, "", str(doc.get("name")),
                                              f"does not validate: {problems}"))
            return False
        return True


class DirectorySource:
    """Saved responses: `GET path` is read from `DIR/path.json` (query parameters ignored, so a
    saved list holds every item in one response)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        file = self.root / f"{path.strip('/')}.json"
        try:
            return json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ImportFailed(f"{file}: no such file (saved response of GET /{path})") from None
        except (OSError, ValueError) as exc:
            raise ImportFailed(f"{file}: {exc}") from None


def ssl_context(environ: Mapping[str, str] | None = None) -> ssl.SSLContext:
    """TLS verification as `requests` and OpenSSL tools do behind a corporate proxy or private
    CA: `REQUESTS_CA_BUNDLE`, else `SSL_CERT_FILE`, else the system's trust store."""
    env = os.environ if environ is None else environ
    bundle = env.get("REQUESTS_CA_BUNDLE") or env.get("SSL_CERT_FILE")
    context = ssl.create_default_context()
    if bundle:
        context.load_verify_locations(cafile=bundle)
    return context


class HttpSource:
    """A vendor's live API over HTTPS (or plain http to a local test peer only when the caller
    allows it), with the vendor's own authorization header."""

    def __init__(self, base_url: str, headers: Mapping[str, str],
                 context: ssl.SSLContext | None = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers)
        self.context = context if context is not None else ssl_context()
        self.timeout = timeout

    def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        url = f"{self.base_url}/{path.lstrip('/')}"
        if params:
            url += "?" + urllib.parse.urlencode({k: str(v) for k, v in params.items()})
        request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                       **self.headers})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout,
                                        context=self.context) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            body = exc.read()[:500].decode("utf-8", "replace")
            raise ImportFailed(f"GET {url}: HTTP {exc.code}: {body}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ImportFailed(f"GET {url}: {exc}") from None
