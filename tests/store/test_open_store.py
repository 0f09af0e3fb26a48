"""open_store picks the adapter from the URL, and says clearly when it cannot."""

from __future__ import annotations

import sqlite3

import pytest

from ledger.store import open_store, sqlite_path
from ledger.store.postgres import PostgresStore
from ledger.store.sqlite import SQLiteStore


@pytest.mark.parametrize(
    ("url", "path"),
    [
        (None, "./ledger.db"),
        ("", "./ledger.db"),
        ("sqlite:///var/ledger.db", "var/ledger.db"),
        ("sqlite:////srv/ledger/ledger.db", "/srv/ledger/ledger.db"),
        ("sqlite:///my%20cases.db", "my cases.db"),
    ],
)
def test_sqlite_urls(url: str | None, path: str) -> None:
    store = open_store(url)
    assert isinstance(store, SQLiteStore)
    assert store.path == path


@pytest.mark.parametrize("url", ["postgresql://u@db:5432/ledger", "postgres://u@db/ledger"])
def test_postgres_urls(url: str) -> None:
    store = open_store(url, hooks=[])
    assert isinstance(store, PostgresStore)
    assert store.url == url


@pytest.mark.parametrize(
    "url",
    ["mysql://root:secret@db/ledger", "sqlite://ledger.db", "sqlite:///:memory:", "ledger.db"],
)
def test_other_urls_are_refused_clearly(url: str) -> None:
    with pytest.raises(ValueError, match=r"sqlite|postgres") as refused:
        open_store(url)
    assert "secret" not in str(refused.value)


def test_hooks_are_passed_on() -> None:
    hook = object()
    assert open_store("sqlite:///x.db", hooks=[hook]).hooks == (hook,)  # type: ignore[list-item,attr-defined]
    assert open_store("postgresql://db/x", hooks=[hook]).hooks == (hook,)  # type: ignore[list-item,attr-defined]


async def test_sqlite_file_is_in_wal_mode(sqlite_url: str) -> None:
    async with SQLiteStore(sqlite_path(sqlite_url)):
        with sqlite3.connect(sqlite_path(sqlite_url)) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
