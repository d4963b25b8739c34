"""Reflex state: one module per page family, all under the signed-in `SessionState`."""
