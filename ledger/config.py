"""Configuration: environment variables read once into a typed settings object.

| variable | meaning | default |
|---|---|---|
| LEDGER_DATABASE_URL | ``sqlite:///path`` or ``postgresql://…`` | ``sqlite:///./ledger.db`` |
| LEDGER_KEY_DIR | the ledger's and witnesses' key files | ``./keys`` |
| LEDGER_POLICY_FILE | JSON deadline policy (DOMAIN.md FR defaults otherwise) | — |
| LEDGER_HOLIDAY_FILE | JSON holiday table for years the calendar package lacks | — |
| LEDGER_REFERENCE_FILE | JSON units and jurisdictions of the deployment | built-in 潜江市 list |
| LEDGER_JWT_SECRET | HS256 secret of bearer tokens; also seals snapshots (below) | a dev. secret |
| LEDGER_CHECKPOINT_EVERY | make a signed checkpoint every N events | 1000 |
| LEDGER_CHECKPOINT_SECONDS | … or every T seconds when new events exist | 60 |
| LEDGER_CASE_NUMBER_FORMAT | case numbers, e.g. ``潜社争〔{year}〕{seq:04d}号`` | that one |
| LEDGER_REPEAT_WINDOW_DAYS | FR7: working days after a closure a return is a repeat trip | 20 |
| LEDGER_REPEAT_WINDOW_UNSATISFIED_DAYS | … after an unsatisfied feedback or follow-up | 60 |
| LEDGER_REQUEST_TIMEOUT | the API answers every request within this (503 after) | 4 |
| LEDGER_DB_*_TIMEOUT, LEDGER_APPEND_TIMEOUT | database waits (``ledger.store.timeouts``) | |

The key that seals snapshots of cases (``ledger.snapshots``) is derived from the token secret,
which every writing process holds and the database does not; a new secret makes the old
snapshots unusable (cases are then folded from their events until new ones are kept, or until
``ledger snapshots refresh`` rewrites them).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ledger.domain.calendar import WorkingCalendar, parse_holiday_table
from ledger.domain.context import Context
from ledger.domain.policy import DeadlinePolicy, InvalidPolicy, RepeatWindow, parse_policy
from ledger.domain.reference import DEFAULT_REFERENCE, parse_reference
from ledger.store.timeouts import DatabaseTimeouts, seconds

DEFAULT_DATABASE_URL = "sqlite:///./ledger.db"
# A case's number: the year of its registration (Beijing time) and its place in that year.
DEFAULT_CASE_NUMBER_FORMAT = "潜社争〔{year}〕{seq:04d}号"
# Good enough for a laptop; a deployment sets its own (the API refuses to start on PostgreSQL
# with this one, see api.app).
DEVELOPMENT_JWT_SECRET = "ledger-development-secret-change-me-in-production"


class ConfigError(ValueError):
    pass


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str = DEFAULT_DATABASE_URL
    key_dir: str = "./keys"
    policy_file: str | None = None
    holiday_file: str | None = None
    reference_file: str | None = None
    jwt_secret: str = DEVELOPMENT_JWT_SECRET
    checkpoint_every: int = 1000
    checkpoint_seconds: float = 60.0
    case_number_format: str = DEFAULT_CASE_NUMBER_FORMAT
    request_timeout: float = 4.0
    repeat_window_days: int = 20  # FR7 (重复跑), working days after a closure
    repeat_window_unsatisfied_days: int = 60  # … after an unsatisfied feedback or follow-up
    timeouts: DatabaseTimeouts = msgspec.field(default_factory=DatabaseTimeouts)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        try:
            return cls(
                database_url=get("LEDGER_DATABASE_URL") or DEFAULT_DATABASE_URL,
                key_dir=get("LEDGER_KEY_DIR") or "./keys",
                policy_file=get("LEDGER_POLICY_FILE"),
                holiday_file=get("LEDGER_HOLIDAY_FILE"),
                reference_file=get("LEDGER_REFERENCE_FILE"),
                jwt_secret=get("LEDGER_JWT_SECRET") or DEVELOPMENT_JWT_SECRET,
                checkpoint_every=int(get("LEDGER_CHECKPOINT_EVERY") or 1000),
                checkpoint_seconds=float(get("LEDGER_CHECKPOINT_SECONDS") or 60),
                case_number_format=case_number_format(get("LEDGER_CASE_NUMBER_FORMAT")),
                request_timeout=seconds(
                    "LEDGER_REQUEST_TIMEOUT", get("LEDGER_REQUEST_TIMEOUT") or "4"
                ),
                timeouts=DatabaseTimeouts.from_env(env),
                repeat_window_days=int(get("LEDGER_REPEAT_WINDOW_DAYS") or 20),
                repeat_window_unsatisfied_days=int(
                    get("LEDGER_REPEAT_WINDOW_UNSATISFIED_DAYS") or 60
                ),
            )
        except ValueError as exc:
            raise ConfigError(f"bad configuration: {exc}") from None

    def snapshot_key(self) -> bytes:
        """The key that seals snapshots: HKDF-SHA256 of the token secret (see the module)."""
        kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"ledger snapshot seal")
        return kdf.derive(self.jwt_secret.encode())

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    def context(self) -> Context:
        """The rules' context: reference data, working-day calendar and deadline policy."""
        reference = (
            parse_reference(_read(self.reference_file, "LEDGER_REFERENCE_FILE"))
            if self.reference_file
            else DEFAULT_REFERENCE
        )
        holidays = (
            parse_holiday_table(_read(self.holiday_file, "LEDGER_HOLIDAY_FILE"))
            if self.holiday_file
            else None
        )
        policy = (
            parse_policy(_read(self.policy_file, "LEDGER_POLICY_FILE"))
            if self.policy_file
            else DeadlinePolicy()
        )
        try:
            window = RepeatWindow(
                days=self.repeat_window_days,
                unsatisfied_days=self.repeat_window_unsatisfied_days,
            )
        except InvalidPolicy as exc:
            raise ConfigError(f"LEDGER_REPEAT_WINDOW_*: {exc}") from None
        return Context(
            reference=reference,
            calendar=WorkingCalendar(holidays),
            policy=policy,
            repeat_window=window,
        )


def case_number_format(text: str | None) -> str:
    """LEDGER_CASE_NUMBER_FORMAT: a format with ``{seq}`` (the year's number) and ``{year}``."""
    if text is None:
        return DEFAULT_CASE_NUMBER_FORMAT
    try:
        a, b = text.format(year=2026, seq=1), text.format(year=2026, seq=2)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"LEDGER_CASE_NUMBER_FORMAT={text!r}: {exc!r}") from None
    if a == b or "{year}" not in text:
        raise ValueError(f"LEDGER_CASE_NUMBER_FORMAT={text!r} must hold {{year}} and {{seq}}")
    return text


def _read(path: str, variable: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{variable}={path}: {exc.strerror}") from None
