"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile).

A hash is never compared by hand: ``verify`` asks argon2 and says whether the stored hash should
be upgraded to current parameters. ``dummy_hash()`` lets a sign-in for an unknown address cost the
same time as one for a known address, so timing does not tell which addresses have accounts. It is
made on first use (an argon2 hash costs ~0.1-0.2 s of a server's start), and the server's warm-up
(explorer/web/warmup.py) makes it before it says it is ready."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
MIN_LENGTH = 10
MAX_LENGTH = 1024   # argon2 takes any length; a megabyte "password" should not cost a CPU second


def check_strength(password: str) -> str | None:
    """None when acceptable, else what is wrong (shown next to the field)."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    if password.strip() == "" or len(set(password)) < 4:
        return "Use a password with more different characters."
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(stored_hash: str | None, password: str) -> tuple[bool, bool]:
    """(matches, needs_rehash)."""
    if not stored_hash or len(password) > MAX_LENGTH:
        try:
            _hasher.verify(dummy_hash(), password[:MAX_LENGTH])
        except (VerificationError, InvalidHashError):
            pass
        return False, False
    try:
        _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, False
    return True, _hasher.check_needs_rehash(stored_hash)


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    return _hasher.hash("not a real password, only for equal timing")
