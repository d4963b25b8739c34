"""Our names for a vendor's objects: unique slugs and environment variable names.

Vendor names are free text ("Checkout — Primary (EU)"); ours are lowercase slugs unique per
kind. The same input in the same order gives the same names every run, so re-importing shows
only real changes in a diff.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME = 63


def slug(name: str, taken: set[str]) -> str:
    """A unique name of our pattern (1-63 lowercase letters, digits, '-') for `name`, added
    to `taken`; a clash gets `-2`, `-3`... in the order names are asked for."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:55].strip("-") or "unnamed"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


def env_name(prefix: str, *parts: str) -> str:
    """An environment variable name for a secret: `env_name("PAGERDUTY_KEY", "checkout",
    "Datadog")` is `PAGERDUTY_KEY_CHECKOUT_DATADOG`."""
    words = [re.sub(r"[^A-Z0-9]+", "_", p.upper()).strip("_") for p in parts]
    return "_".join([prefix, *[w for w in words if w]])


def unique_env_name(prefix: str, taken: set[str], *parts: str) -> str:
    """`env_name`, made unique among `taken` (`_2`, `_3`...) and added to it."""
    base = env_name(prefix, *parts)
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}_{n}"
    taken.add(candidate)
    return candidate
