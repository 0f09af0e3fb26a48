"""Evidence bundles: verifiable offline; one changed byte anywhere makes them fail."""

from __future__ import annotations

import random
from pathlib import Path

import msgspec
import pytest

from ledger.audit.bundle import verify_bundle
from ledger.audit.keys import KeyConfig, Signer, TrustedKeys, load_signer
from ledger.audit.service import AuditService
from ledger.audit.witness import cosign
from ledger.store.port import CaseNotFound

from .helpers import fill, local_transport


async def test_bundle_verifies_offline_and_any_altered_byte_fails(
    audit: AuditService, key_config: KeyConfig, tmp_path: Path
) -> None:
    cases = await fill(audit.store, 6, 5)
    await audit.make_checkpoint()
    tax = load_signer(key_config.key_dir / "witness-tax.key")
    await cosign(tax, audit.trusted.ledger, tmp_path / "tax.json", *local_transport(audit))
    await fill(audit.store, 3, 2, seed=9)  # later events: the cosigned checkpoint still covers
    data = await audit.evidence(cases[2])

    report = verify_bundle(data, audit.trusted)
    assert report.ok, report.problems
    assert report.keys_pinned
    assert (report.events, report.checkpoint_size, report.cosigned_by) == (5, 30, [tax.name])
    embedded = verify_bundle(data)  # self-consistent, but nobody's keys were pinned
    assert embedded.ok
    assert not embedded.keys_pinned

    # someone else's ledger key: pinned verification fails, naming it
    other = Signer.from_seed(audit.origin, 1, b"\x05" * 32)
    assert "not the trusted one" in verify_bundle(data, TrustedKeys(other.public)).problems[0]

    rng = random.Random(7)
    positions = sorted(
        {
            *range(0, len(data), max(1, len(data) // 400)),
            *rng.sample(range(len(data)), 200),
            len(data) - 1,
        }
    )
    for i in positions:
        altered = bytearray(data)
        altered[i] ^= 1 << rng.randrange(8)
        result = verify_bundle(bytes(altered), audit.trusted)
        assert not result.ok, f"byte {i} ({data[i : i + 1]!r}) altered, bundle still verified"
        assert result.problems, i


async def test_bundle_problems_name_what_failed(audit: AuditService) -> None:
    cases = await fill(audit.store, 2, 4)
    data = await audit.evidence(cases[0])  # no checkpoint yet: one is made on demand
    assert (await audit.latest_checkpoint()) is not None
    doc = msgspec.json.decode(data)

    def check(mutate: object, expected: str) -> None:
        copy = msgspec.json.decode(data)
        mutate(copy)  # type: ignore[operator]
        report = verify_bundle(msgspec.json.encode(copy), audit.trusted)
        assert not report.ok
        assert any(expected in p for p in report.problems), report.problems

    first_hash = doc["events"][0]["hash"]
    check(lambda d: d["events"][1].update(topic="ledger.Forged"), "event 2 (position")
    check(lambda d: d["events"][0].update(hash="00" * 32), "hash does not match")
    check(lambda d: d["events"].pop(1), "version 3 where 2 was expected")
    check(lambda d: d["events"][2]["inclusion_proof"].reverse(), "inclusion proof")
    check(lambda d: d.update(checkpoint=d["checkpoint"].replace("\n", "\n\n", 1)), "checkpoint")
    check(lambda d: d["events"][0].update(hash=first_hash.upper()), "not lowercase hex")
    check(lambda d: d.update(format="v0"), "unknown format")
    with pytest.raises(CaseNotFound):
        await audit.evidence(__import__("uuid").uuid4())
