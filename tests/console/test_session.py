"""The console's session cookie: signed, 30 minutes idle, 8 hours at most."""

from __future__ import annotations

from console.session import ABSOLUTE_SECONDS, IDLE_SECONDS, Sessions, session_key


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_ends_after_thirty_idle_minutes_or_eight_hours() -> None:
    clock = Clock()
    sessions = Sessions(session_key("secret"), clock)
    cookie = sessions.issue("T1001")
    signed_in = clock.now
    clock.now += IDLE_SECONDS - 1
    session = sessions.read(cookie)
    assert session is not None
    assert session.staff_id == "T1001"
    clock.now += 2
    assert sessions.read(cookie) is None  # idle too long
    # Kept alive by requests (each renews the cookie), it still ends 8 hours after sign-in.
    clock.now = signed_in
    cookie = sessions.issue("T1001")
    while clock.now - signed_in < ABSOLUTE_SECONDS - IDLE_SECONDS:
        clock.now += IDLE_SECONDS - 60
        read = sessions.read(cookie)
        assert read is not None
        cookie = sessions.issue(read.staff_id, read.signed_in)
    clock.now = signed_in + ABSOLUTE_SECONDS + 1
    assert sessions.read(cookie) is None


def test_a_forged_or_foreign_cookie_is_no_session() -> None:
    sessions = Sessions(session_key("secret"))
    cookie = sessions.issue("T1001")
    body, signature = cookie.split(".")
    forged = Sessions(session_key("another secret")).issue("T0001")
    for bad in (None, "", "x", forged, f"{forged.split('.')[0]}.{signature}", f"{body}.x", body):
        assert sessions.read(bad) is None
