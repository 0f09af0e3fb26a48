"""Fixtures for the audit tests: keys in a temporary directory, an AuditService on a real DB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ledger.audit.keys import KeyConfig, init_keys
from ledger.audit.service import AuditService

ORIGIN = "ledger.test/disputes"


@pytest.fixture
def key_config(tmp_path: Path) -> KeyConfig:
    init_keys(tmp_path / "keys", ORIGIN)
    return KeyConfig(tmp_path / "keys", ORIGIN)


@pytest.fixture
async def audit(database_url: str, key_config: KeyConfig) -> AsyncIterator[AuditService]:
    service = await AuditService.open(database_url, key_config)
    try:
        yield service
    finally:
        await service.close()
