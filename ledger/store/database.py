"""Where the ledger lives: a ``LEDGER_DATABASE_URL`` parsed once into one object.

Every adapter — the event store, the read models, the audit tables — is handed the same
``Database`` and asks it which dialect it is and where, instead of parsing the URL again or
guessing from another adapter's attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote

DEFAULT_URL = "sqlite:///./ledger.db"
_SQLITE = "sqlite:///"
_POSTGRES = ("postgresql://", "postgres://")


class Dialect(StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


@dataclass(frozen=True)
class Database:
    url: str
    dialect: Dialect
    path: str = ""  # the file, for SQLite

    @classmethod
    def parse(cls, url: str | None) -> Database:
        """The database of ``url``; None or '' means ``sqlite:///./ledger.db``. ``ValueError``
        names what is wrong with a URL no adapter serves."""
        url = url or DEFAULT_URL
        if url.startswith(_SQLITE):
            return cls(url, Dialect.SQLITE, sqlite_path(url))
        if url.startswith(_POSTGRES):
            return cls(url, Dialect.POSTGRESQL)
        scheme = url.split(":", 1)[0] if ":" in url else url
        raise ValueError(
            f"unsupported database URL scheme {scheme!r}: use sqlite:///relative/path, "
            "sqlite:////absolute/path, postgresql://… or postgres://…"
        )

    @property
    def is_sqlite(self) -> bool:
        return self.dialect is Dialect.SQLITE

    def __str__(self) -> str:
        return self.url


def sqlite_path(url: str) -> str:
    """The file of a ``sqlite:///relative/path`` or ``sqlite:////absolute/path`` URL."""
    if not url.startswith(_SQLITE):
        raise ValueError(f"not a sqlite URL: {url!r} (expected sqlite:///path)")
    path = unquote(url.removeprefix(_SQLITE).split("?", 1)[0])
    if not path or path == ":memory:":
        # Readers use their own connections, which an in-memory database cannot share.
        raise ValueError(f"a sqlite URL must name a file, not {url!r}")
    return path


def database(value: Database | str | None) -> Database:
    """``value`` as a ``Database`` (parsed if it is a URL)."""
    return value if isinstance(value, Database) else Database.parse(value)
