"""Debian tools the tests drive (Alertmanager, promtool): found on PATH, else installed by the
project's own script; missing after that, a failure under CI and a skip elsewhere."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def tool(binary: str, install: Path) -> str:
    """The path of `binary`, running `install` (a shell script) first when it is missing."""
    found = shutil.which(binary)
    if found is None:
        result = subprocess.run(["sh", str(install)], capture_output=True, text=True,
                                check=False)
        found = shutil.which(binary)
        if found is None:
            message = f"{binary} is not installed and {install.name} failed: {result.stderr}"
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)
    return found
