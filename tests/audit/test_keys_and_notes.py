"""Keys, signed notes, checkpoints and cosignatures: pure, no database."""

from __future__ import annotations

import base64
import os
import pickle
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ledger.audit import checkpoints as cps
from ledger.audit.keys import (
    SIG_COSIGNATURE,
    SIG_ED25519,
    KeyConfig,
    KeyFileError,
    PublicKey,
    Signer,
    TrustedKeys,
    init_keys,
    load_signer,
    load_trusted,
)
from ledger.audit.note import NoteError, format_note, parse_note, sign_text, verify_text

# golang.org/x/mod/sumdb/note note_test.go: the published PeterNeumann key pair and signature.
# Ed25519 is deterministic, so signing the same text must reproduce the signature byte for byte.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKv"
    "qfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def go_signer() -> Signer:
    material = base64.b64decode(GO_SKEY.split("+", 4)[4])
    assert material[0] == SIG_ED25519
    return Signer.from_seed("PeterNeumann", SIG_ED25519, material[1:])


def test_go_reference_note_vector() -> None:
    signer = go_signer()
    assert signer.public.vkey() == GO_VKEY
    assert PublicKey.parse(GO_VKEY) == signer.public
    assert sign_text(GO_TEXT, signer).line() == GO_SIG
    text, sigs = parse_note(GO_TEXT + "\n" + GO_SIG)
    assert text == GO_TEXT
    verify_text(text, sigs, signer.public)
    with pytest.raises(NoteError):
        verify_text(text.replace("cryptography", "cryptographY"), sigs, signer.public)


def test_mangled_vkeys_are_rejected() -> None:
    for bad in (
        GO_VKEY[:-1],
        GO_VKEY.replace("c74f20a3", "c74f20a4"),
        "PeterNeumann+c74f20a3",
        GO_VKEY.replace("ARpc", "BRpc"),
        "Peter Neumann+c74f20a3+" + GO_VKEY.split("+")[2],
    ):
        with pytest.raises(KeyFileError):
            PublicKey.parse(bad)


@pytest.mark.parametrize(
    "note",
    [
        GO_TEXT + GO_SIG,  # no blank line
        GO_TEXT + "\n",  # no signatures
        GO_TEXT + "\n" + GO_SIG.rstrip("\n"),  # no final newline
        GO_TEXT + "\n" + GO_SIG.replace("\u2014", "-"),
        GO_TEXT + "\n" + GO_SIG.replace("AM=", "AN="),  # non-canonical base64
        GO_TEXT.replace("problem,", "problem,\x07") + "\n" + GO_SIG,
    ],
)
def test_malformed_notes_are_rejected(note: str) -> None:
    with pytest.raises(NoteError):
        parse_note(note)


def test_init_keys_writes_private_keys_0600_and_refuses_overwrite(tmp_path: Path) -> None:
    key_dir = tmp_path / "keys"
    written = init_keys(key_dir, "ledger.test/log")
    assert len(written) == 12
    for path in written:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o600 if path.suffix == ".key" else 0o644), path
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        init_keys(key_dir, "ledger.test/log", which=["tax"])
    signer = load_signer(key_dir / "ledger.key")
    assert signer.public.sig_type == SIG_ED25519
    assert signer.name == "ledger.test/log"
    assert "PRIVATE" not in repr(signer)
    with pytest.raises(TypeError):
        pickle.dumps(signer)
    tax = load_signer(key_dir / "witness-tax.key")
    assert tax.public.sig_type == SIG_COSIGNATURE
    assert tax.public.department == "tax"
    assert b"BEGIN PUBLIC KEY" in (key_dir / "ledger.pub.pem").read_bytes()
    trusted = load_trusted(KeyConfig(key_dir, "ledger.test/log"))
    assert trusted.ledger == signer.public
    assert {k.department for k in trusted.witnesses} == {"tax", "hrss", "medical"}
    # an explicit list overrides the directory scan
    only = load_trusted(KeyConfig(key_dir, "x/y", (str(key_dir / "witness-hrss.vkey"),)))
    assert [k.department for k in only.witnesses] == ["hrss"]


def test_loose_private_key_permissions_are_refused(tmp_path: Path) -> None:
    init_keys(tmp_path, which=["ledger"])
    os.chmod(tmp_path / "ledger.key", 0o644)
    with pytest.raises(KeyFileError, match="readable by others"):
        load_signer(tmp_path / "ledger.key")


def test_key_config_from_env() -> None:
    cfg = KeyConfig.from_env({"LEDGER_KEY_DIR": "/k", "LEDGER_WITNESS_KEYS": f"a{os.pathsep}b"})
    assert cfg.key_dir == Path("/k")
    assert cfg.witness_keys == ("a", "b")


def make_keys() -> tuple[Signer, dict[str, Signer], TrustedKeys]:
    ledger = Signer.from_seed("ledger.test/log", SIG_ED25519, bytes(range(32)))
    witnesses = {
        d: Signer.from_seed(f"{d}.witness.ledger.test", SIG_COSIGNATURE, bytes([i]) * 32)
        for i, d in enumerate(("tax", "hrss", "medical"), 1)
    }
    return (
        ledger,
        witnesses,
        TrustedKeys(ledger.public, tuple(w.public for w in witnesses.values())),
    )


def test_checkpoint_sign_open_and_cosign() -> None:
    ledger, witnesses, trusted = make_keys()
    cp = cps.Checkpoint.make(
        "ledger.test/log", 42, bytes(32), datetime(2025, 1, 2, 3, 4, 5, 6, UTC)
    )
    assert cp.text() == (
        "ledger.test/log\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
        "time 2025-01-02T03:04:05Z\n"
    )
    signed = cps.sign_checkpoint(cp, ledger)
    cosigs = tuple(
        cps.cosign(cp, w, datetime(2025, 1, 2, 4, tzinfo=UTC)) for w in witnesses.values()
    )
    note = cps.SignedCheckpoint(cp, signed.signature, cosigs).note()
    got, good = cps.verify_signed(note, trusted)
    assert got == cp
    assert [k.department for k in good] == ["tax", "hrss", "medical"]
    assert cps.cosignature_time(cosigs[0]) == datetime(2025, 1, 2, 4, tzinfo=UTC)
    # a cosignature by an unknown key is ignored; a known one that fails rejects the note
    stranger = Signer.from_seed("evil.witness", SIG_COSIGNATURE, b"\x09" * 32)
    cps.verify_signed(note + cps.cosign(cp, stranger).line(), trusted)
    with pytest.raises(cps.CheckpointError, match="not a configured witness"):
        cps.check_cosignature(cp, cps.cosign(cp, stranger), trusted)
    other = cps.Checkpoint.make("ledger.test/log", 43, bytes(32), cp.time)
    with pytest.raises(cps.CheckpointError, match="does not verify"):
        cps.check_cosignature(other, cosigs[0], trusted)
    forged = format_note(cp.text().replace("42", "41"), [signed.signature])
    with pytest.raises(cps.CheckpointError, match="does not verify"):
        cps.open_checkpoint(forged, trusted.ledger)


def test_checkpoint_text_is_canonical() -> None:
    cp = cps.Checkpoint.make("o", 1, b"\x01" * 32)
    assert cps.Checkpoint.parse(cp.text()) == cp
    for bad in (
        cp.text().replace("\n1\n", "\n01\n"),
        cp.text().replace("Z\n", "+00:00\n"),
        cp.text() + "extra\n",
        cp.text().replace("time", "Time"),
    ):
        with pytest.raises(cps.CheckpointError):
            cps.Checkpoint.parse(bad)
