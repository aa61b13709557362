"""User ids leave the sample stage pseudonymised: ``HMAC-SHA256(key, user_id)``, hex.

The bot rules still see the raw id inside the Spark job (they count requests per user);
``no_click_queries``, ``filtered_queries`` and ``samples`` carry only the keyed hash. The
same user keeps one pseudonym for a given key, so per-user analysis still works, but the
raw id cannot be recovered or guessed (by hashing candidate ids) without the key
(``INTENTMINE_SAMPLE__USER_KEY``; the default is a demo key, to be replaced).

HMAC is spelled with Spark's ``sha2`` on binary (RFC 2104), a column expression with no
Python UDF; :func:`pseudonym` is the Python reference it is tested against.
"""

from __future__ import annotations

import hashlib
import hmac

BLOCK = 64  # SHA-256 block size in bytes


def _padded_key(key: str) -> bytes:
    raw = key.encode("utf-8")
    if len(raw) > BLOCK:
        raw = hashlib.sha256(raw).digest()
    return raw.ljust(BLOCK, b"\0")


def pseudonym(user_id: str, key: str) -> str:
    """The pseudonym of one user id (hex HMAC-SHA256)."""
    return hmac.new(key.encode("utf-8"), user_id.encode("utf-8"), hashlib.sha256).hexdigest()


def pseudonymise(column: str, key: str):
    """A Spark column: ``pseudonym(column, key)`` for every row (null stays null)."""
    from pyspark.sql import functions as F

    padded = _padded_key(key)
    inner_pad = F.lit(bytes(b ^ 0x36 for b in padded))
    outer_pad = F.lit(bytes(b ^ 0x5C for b in padded))
    inner = F.unhex(F.sha2(F.concat(inner_pad, F.col(column).cast("binary")), 256))
    return F.sha2(F.concat(outer_pad, inner), 256)
