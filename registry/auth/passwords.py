"""Password hashing with argon2id (memory-hard), under the policy of
registry/config/password_policy.py. argon2 (and cffi) is imported to hash or check a
password: every process reads the policy with its settings, few check a password
(docs/benchmarks.md, "Footprint")."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from registry.config.password_policy import check_policy

if TYPE_CHECKING:
    from argon2 import PasswordHasher


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    # OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane (~20 ms per check here).
    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def hash_password(password: str) -> str:
    check_policy(password)
    return _hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user exists: an unknown user checks a dummy hash."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(stored_hash or _dummy_hash(), password) and bool(stored_hash)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash("not-a-password-of-anyone")
