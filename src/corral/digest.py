"""SHA-256 without OpenSSL: hashlib loads libcrypto (milliseconds and megabytes) for what
CPython's built-in implementation does with the same result. Used on the status fast path and
by the supervisor, both of which must stay small."""

from __future__ import annotations


def sha256_hex(data: bytes) -> str:
    try:
        from _sha2 import sha256  # Python >= 3.12
    except ImportError:
        try:
            from _sha256 import sha256  # Python 3.11
        except ImportError:
            from hashlib import sha256
    return sha256(data).hexdigest()
