"""Golden files: expected output kept beside the tests, compared byte for byte.

`UPDATE_GOLDEN=1` rewrites a golden and then fails that test, so a rewritten file is never
compared with itself and counted as a pass: review the diff, then run again without it. Under
`CI=true` the flag is refused, and a missing golden is always a failure, never written silently.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def check(path: Path, actual: str, environ: Mapping[str, str] = os.environ) -> None:
    """Assert that `actual` is the content of the golden file `path`."""
    if environ.get("UPDATE_GOLDEN") == "1":
        if environ.get("CI") == "true":
            raise AssertionError("UPDATE_GOLDEN=1 is refused under CI=true: goldens are "
                                 "rewritten locally, reviewed and committed")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        raise AssertionError(f"{path} rewritten: review the diff, then run again without "
                             "UPDATE_GOLDEN")
    if not path.exists():
        raise AssertionError(f"{path} is missing: write it with UPDATE_GOLDEN=1 (not under CI), "
                             "review it and commit it")
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{path.name} differs from its golden file"
