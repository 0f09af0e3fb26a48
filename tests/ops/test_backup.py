"""Backup while the ledger is written, restore into a new database, and the restored ledger
verifies with the original's checkpoint roots; a ledger that holds events is replaced only with
``--force``."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from ledger.audit.checkpoints import verify_signed
from ledger.audit.keys import init_keys, load_signer
from ledger.audit.witness import cosign, load_state
from ledger.backup import BackupError, backup, restore
from ledger.bootstrap import open_ledger
from ledger.config import Settings
from ledger.demo import load_demo
from tests.api.processes import LEDGER, ROOT, create_database, drop_database, server_env
from tests.api.support import SECRET
from tests.audit.helpers import local_transport


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    path = tmp_path / "keys"
    init_keys(path)
    return path


@pytest.fixture
def target_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, new database of the same kind as ``database_url``."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    url = create_database("ledger_t_restore")
    yield url
    drop_database(url)


def _settings(url: str, key_dir: Path) -> Settings:
    return Settings(database_url=url, key_dir=str(key_dir), jwt_secret=SECRET)


async def test_a_backup_under_load_restores_and_verifies_with_the_original_roots(
    database_url: str, target_url: str, key_dir: Path, tmp_path: Path
) -> None:
    settings = _settings(database_url, key_dir)
    async with open_ledger(settings, audit=True, signing=True) as ledger:
        store, audit, service = ledger.store, ledger.audit, ledger.service
        await load_demo(service, cases=8, seed=1)
        await audit.make_checkpoint()
        writing = asyncio.create_task(load_demo(service, cases=12, seed=2))
        await asyncio.sleep(0.05)  # the writes are under way
        file = tmp_path / "ledger.backup"
        size = await backup(settings, file)
        await writing
        await audit.make_checkpoint()
        head = await store.head()

        restored = await restore(_settings(target_url, key_dir), file)
        assert restored.ok, restored.problem
        assert size > 0
        assert 0 < restored.events <= head
        assert restored.checkpoints_checked >= 1
        assert restored.checkpoint_size is not None
        original = await audit.checkpoint(restored.checkpoint_size)
        assert original.root.hex() == restored.checkpoint_root

        # A ledger that holds events is not overwritten by mistake …
        with pytest.raises(BackupError, match=r"holds \d+ events.*--force"):
            await restore(_settings(target_url, key_dir), file)
        # … but on purpose.
        again = await restore(_settings(target_url, key_dir), file, force=True)
        assert again == restored
        # A backup never overwrites a file.
        with pytest.raises(BackupError, match="exists"):
            await backup(settings, file)


def test_the_commands_back_up_and_restore_an_embedded_ledger(key_dir: Path, tmp_path: Path) -> None:
    def ledger(url: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*LEDGER, *args],
            env=server_env(url, key_dir),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    source, target = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    assert ledger(source, "demo", "--cases", "5").returncode == 0
    assert ledger(source, "checkpoint").returncode == 0
    made = ledger(source, "backup", str(tmp_path / "a.backup"))
    assert made.returncode == 0, made.stderr
    done = ledger(target, "restore", str(tmp_path / "a.backup"))
    assert done.returncode == 0, done.stderr
    assert msgspec.json.decode(done.stdout)["ok"] is True
    assert "ledger restore: ok" in done.stderr
    refused = ledger(target, "restore", str(tmp_path / "a.backup"))
    assert refused.returncode == 2
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "--force" in refused.stderr
    assert "Traceback" not in refused.stderr


async def test_a_restored_older_dump_written_on_is_placed_by_the_witness_at_its_first_rewrite(
    database_url: str, key_dir: Path, tmp_path: Path
) -> None:
    """A witness co-signed size S; the ledger is then restored from a dump taken at D < S and
    written on past S. Verifying against the witness's state names D + 1, the first position the
    witness saw otherwise, not position 1."""
    settings = _settings(database_url, key_dir)
    file = tmp_path / "older.backup"
    state = tmp_path / "witness-tax.json"
    async with open_ledger(settings, audit=True, signing=True) as ledger:
        await load_demo(ledger.service, cases=4, seed=1)
        await ledger.audit.make_checkpoint()
        await backup(settings, file)
        dumped = await ledger.store.head()
        await load_demo(ledger.service, cases=4, seed=2)
        await ledger.audit.make_checkpoint()
        witness = load_signer(key_dir / "witness-tax.key")
        await cosign(witness, ledger.audit.trusted.ledger, state, *local_transport(ledger.audit))
        witnessed = await ledger.store.head()
    assert witnessed > dumped
    await asyncio.sleep(1.1)  # checkpoint times are whole seconds
    assert (await restore(settings, file, force=True)).ok
    async with open_ledger(settings, audit=True) as ledger:
        while await ledger.store.head() <= witnessed:  # written on, past what the witness saw
            await load_demo(ledger.service, cases=4, seed=3)
        held = load_state(state)
        assert held is not None
        checkpoint = verify_signed(held.note, ledger.audit.trusted)[0]
        report = await ledger.audit.verify(external=[checkpoint])
    assert not report.ok
    assert report.first_bad_position == dumped + 1, report.problem
    assert report.problem is not None
    assert f"positions {dumped + 1}..{witnessed}" in report.problem
