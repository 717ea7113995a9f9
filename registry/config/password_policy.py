"""The password policy: what hth.json's initial admin and every user password must meet.
On the ground floor, so the settings can check it without importing auth (registry/auth/
passwords.py hashes and checks passwords)."""

from __future__ import annotations

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024


class WeakPassword(ValueError):
    """A password the policy refuses (the message never contains the password)."""


def check_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"password must have at most {MAX_PASSWORD_LENGTH} characters")
