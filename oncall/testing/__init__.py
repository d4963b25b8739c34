"""Test and offline-run helpers that ship with the package (no test framework needed)."""
