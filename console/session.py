"""The console's session: a signed cookie naming the signed-in member of staff.

The cookie holds the staff id, the sign-in time and the time of the last request, signed with
HMAC-SHA256 under a key derived from the token secret; it is HttpOnly, SameSite=Lax, Secure when
the console is served over TLS, and it ends after 30 minutes without a request or 8 hours after
sign-in, whichever comes first. Who the staff member is (unit, roles …) is read from their
account on every request, so a disabled account or changed roles take effect at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

import msgspec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

COOKIE = "ledger_console"
IDLE_SECONDS = 30 * 60
ABSOLUTE_SECONDS = 8 * 60 * 60


class _Claims(msgspec.Struct, frozen=True):
    sub: str
    iat: int  # signed in (Unix seconds)
    seen: int  # last request


@dataclass(frozen=True)
class Session:
    staff_id: str
    signed_in: int
    seen: int


def session_key(secret: str) -> bytes:
    kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"ledger console session")
    return kdf.derive(secret.encode())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    def __init__(self, key: bytes, clock: object = time.time) -> None:
        self._key = key
        self._clock = clock

    def now(self) -> int:
        return int(self._clock())  # type: ignore[operator]

    def issue(self, staff_id: str, signed_in: int | None = None) -> str:
        now = self.now()
        claims = _Claims(sub=staff_id, iat=signed_in if signed_in is not None else now, seen=now)
        body = _b64(msgspec.json.encode(claims))
        return f"{body}.{self._sign(body)}"

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def read(self, cookie: str | None) -> Session | None:
        """The session the cookie carries, or None: absent, forged, idle or too old."""
        if not cookie or cookie.count(".") != 1:
            return None
        body, signature = cookie.split(".")
        if not hmac.compare_digest(signature, self._sign(body)):
            return None
        try:
            claims = msgspec.json.decode(_unb64(body), type=_Claims)
        except (msgspec.DecodeError, ValueError):
            return None
        now = self.now()
        if now - claims.seen > IDLE_SECONDS or now - claims.iat > ABSOLUTE_SECONDS:
            return None
        return Session(claims.sub, claims.iat, claims.seen)
