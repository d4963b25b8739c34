"""What is stored of a secret token (a session, an acknowledge link, a partner's sign-in link):
its SHA-256. A token is 256 random bits, so a fast hash is enough, and a copy of the database
opens nothing."""

from __future__ import annotations

import hashlib


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
