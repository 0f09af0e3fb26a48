"""C2SP signed notes (c2sp.org/signed-note): text, a blank line, then ``— <name> <base64>`` lines.

Only parsing, formatting and the Ed25519 note signature live here; what a checkpoint says and what a
cosignature signs are in ``checkpoints``.
"""

from __future__ import annotations

import base64
import binascii

import msgspec

from ledger.audit.keys import SIG_ED25519, PublicKey, Signer

EM_DASH = "\u2014"
MAX_SIGNATURES = 64  # the spec asks verifiers to accept at least 16


class NoteError(ValueError):
    """A note is malformed, or a signature on it does not verify."""


class NoteSignature(msgspec.Struct, frozen=True):
    name: str
    key_id: bytes  # 4 bytes
    signature: bytes  # what follows the key ID: algorithm-specific

    def line(self) -> str:
        blob = base64.b64encode(self.key_id + self.signature).decode()
        return f"{EM_DASH} {self.name} {blob}\n"


def _b64(text: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise NoteError(f"bad base64 {text[:20]!r}") from exc
    if base64.b64encode(raw).decode() != text:  # no alternative encodings of the same bytes
        raise NoteError(f"non-canonical base64 {text[:20]!r}")
    return raw


def parse_signature_line(line: str) -> NoteSignature:
    parts = line.removesuffix("\n").split(" ")
    if len(parts) != 3 or parts[0] != EM_DASH or not parts[1] or "\n" in line.rstrip("\n"):
        raise NoteError(f"malformed signature line {line[:60]!r}")
    blob = _b64(parts[2])
    if len(blob) < 5:
        raise NoteError(f"signature by {parts[1]!r} is too short")
    return NoteSignature(parts[1], blob[:4], blob[4:])


def parse_note(note: str) -> tuple[str, list[NoteSignature]]:
    """Split a note into its text (with final newline) and signatures. Syntax only."""
    if any(c < " " and c != "\n" for c in note):
        raise NoteError("note contains control characters")
    if not note.endswith("\n"):
        raise NoteError("note does not end with a newline")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteError("note has no signature block")
    text, block = note[: cut + 1], note[cut + 2 :]
    lines = block.splitlines(keepends=True)
    if not lines or len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has {len(lines)} signatures (1..{MAX_SIGNATURES} allowed)")
    return text, [parse_signature_line(ln) for ln in lines]


def format_note(text: str, signatures: list[NoteSignature]) -> str:
    if not text.endswith("\n") or not signatures:
        raise NoteError("a note needs text ending in a newline and at least one signature")
    return text + "\n" + "".join(sig.line() for sig in signatures)


def sign_text(text: str, signer: Signer) -> NoteSignature:
    if signer.public.sig_type != SIG_ED25519:
        raise NoteError(f"{signer.name} is not a note-signing (0x01) key")
    return NoteSignature(signer.name, signer.public.key_id, signer.sign(text.encode()))


def verify_text(text: str, signatures: list[NoteSignature], key: PublicKey) -> None:
    """Require a valid signature by ``key``; any signature by it that fails rejects the note."""
    mine = [s for s in signatures if s.name == key.name and s.key_id == key.key_id]
    if not mine:
        raise NoteError(f"note is not signed by {key.name} ({key.key_id.hex()})")
    for sig in mine:
        if not key.verify(sig.signature, text.encode()):
            raise NoteError(f"signature by {key.name} does not verify")
