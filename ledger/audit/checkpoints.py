"""Checkpoints (c2sp.org/tlog-checkpoint) signed by the ledger and co-signed by witnesses.

A checkpoint's text is four lines: the origin, the tree size in decimal, the base64 root hash and
one extension line ``time <RFC 3339 UTC>`` (when it was made). The ledger signs the text as a
signed note (key type 0x01). A witness cosignature is a tlog-cosignature/v1 note signature (type
0x04): Ed25519 over ``"cosignature/v1\\ntime <posix>\\n" ‖ text`` prefixed by the 8-byte
timestamp — the C2SP formats, so off-the-shelf witnesses and verifiers can take part.

Stored checkpoints and cosignatures live in ``ledger.audit.db``; the formats here are pure, and
``CheckpointScheduler`` makes checkpoints every N events or T seconds.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
from datetime import UTC, datetime
from typing import Protocol

import msgspec

from ledger.audit.db import StoredCheckpoint
from ledger.audit.keys import SIG_COSIGNATURE, PublicKey, Signer, TrustedKeys
from ledger.audit.merkle import HASH_SIZE
from ledger.audit.note import NoteError, NoteSignature, format_note, parse_note, sign_text
from ledger.audit.note import verify_text as _verify_text

COSIGNATURE_HEADER = "cosignature/v1\n"
_log = logging.getLogger(__name__)


class CheckpointError(ValueError):
    """A checkpoint or cosignature is malformed, unsigned, forged or not acceptable."""


def _utc(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(microsecond=0)


class Checkpoint(msgspec.Struct, frozen=True):
    origin: str
    size: int
    root: bytes
    time: datetime

    @classmethod
    def make(cls, origin: str, size: int, root: bytes, time: datetime | None = None) -> Checkpoint:
        """A checkpoint stamped now (to the second: the text has no finer time)."""
        return cls(origin, size, root, _utc(time or datetime.now(UTC)))

    def text(self) -> str:
        root = base64.b64encode(self.root).decode()
        when = _utc(self.time).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{self.origin}\n{self.size}\n{root}\ntime {when}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) != 5 or lines[4] != "" or not lines[3].startswith("time "):
            raise CheckpointError("checkpoint text is not origin/size/root/time lines")
        origin, size, root_b64, when = lines[0], lines[1], lines[2], lines[3][5:]
        try:
            root = base64.b64decode(root_b64, validate=True)
            stamp = datetime.strptime(when, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            cp = cls(origin, int(size), root, stamp)
        except ValueError as exc:
            raise CheckpointError(f"malformed checkpoint: {exc}") from exc
        if len(root) != HASH_SIZE or cp.text() != text:  # exactly one spelling of each checkpoint
            raise CheckpointError("checkpoint text is not in canonical form")
        return cp


class SignedCheckpoint(msgspec.Struct, frozen=True):
    """A checkpoint with its ledger signature and any cosignatures, as one signed note."""

    checkpoint: Checkpoint
    signature: NoteSignature  # the ledger's
    cosignatures: tuple[NoteSignature, ...] = ()

    def note(self) -> str:
        return format_note(self.checkpoint.text(), [self.signature, *self.cosignatures])


def sign_checkpoint(cp: Checkpoint, ledger: Signer) -> SignedCheckpoint:
    if cp.origin != ledger.name:
        raise CheckpointError(f"origin {cp.origin!r} is not the ledger key's name {ledger.name!r}")
    return SignedCheckpoint(cp, sign_text(cp.text(), ledger))


def open_checkpoint(note: str, ledger: PublicKey) -> tuple[Checkpoint, list[NoteSignature]]:
    """Verify the ledger's signature on a checkpoint note; return it and the other signatures."""
    try:
        text, sigs = parse_note(note)
        _verify_text(text, sigs, ledger)
    except NoteError as exc:
        raise CheckpointError(str(exc)) from exc
    cp = Checkpoint.parse(text)
    if cp.origin != ledger.name:
        raise CheckpointError(f"checkpoint origin {cp.origin!r} is not {ledger.name!r}")
    others = [s for s in sigs if not (s.name == ledger.name and s.key_id == ledger.key_id)]
    return cp, others


def cosigned_message(text: str, timestamp: int) -> bytes:
    return f"{COSIGNATURE_HEADER}time {timestamp}\n{text}".encode()


def cosign(cp: Checkpoint, witness: Signer, now: datetime | None = None) -> NoteSignature:
    """The witness's tlog-cosignature/v1 over ``cp`` (call only after checking consistency)."""
    if witness.public.sig_type != SIG_COSIGNATURE:
        raise CheckpointError(f"{witness.name} is not a cosigner (0x04) key")
    stamp = int((now or datetime.now(UTC)).timestamp())
    sig = witness.sign(cosigned_message(cp.text(), stamp))
    return NoteSignature(witness.name, witness.public.key_id, stamp.to_bytes(8, "big") + sig)


def check_cosignature(cp: Checkpoint, sig: NoteSignature, trusted: TrustedKeys) -> PublicKey:
    """Accept a cosignature only from a configured witness key and only if it verifies."""
    key = trusted.witness(sig.name, sig.key_id)
    if key is None:
        raise CheckpointError(f"{sig.name} ({sig.key_id.hex()}) is not a configured witness key")
    if len(sig.signature) != 8 + 64:
        raise CheckpointError(f"cosignature by {sig.name} has the wrong length")
    stamp = int.from_bytes(sig.signature[:8], "big")
    if stamp >= 1 << 63:
        raise CheckpointError(f"cosignature by {sig.name} has an impossible timestamp")
    if not key.verify(sig.signature[8:], cosigned_message(cp.text(), stamp)):
        raise CheckpointError(f"cosignature by {sig.name} does not verify for checkpoint {cp.size}")
    return key


def cosignature_time(sig: NoteSignature) -> datetime:
    return datetime.fromtimestamp(int.from_bytes(sig.signature[:8], "big"), UTC)


def verify_signed(note: str, trusted: TrustedKeys) -> tuple[Checkpoint, list[PublicKey]]:
    """Verify a full note: the ledger signature and every cosignature by a trusted witness.

    Signatures by unknown keys are ignored (c2sp signed-note); one by a known key that fails
    rejects the whole note.
    """
    cp, others = open_checkpoint(note, trusted.ledger)
    good = [
        check_cosignature(cp, s, trusted)
        for s in others
        if trusted.witness(s.name, s.key_id) is not None
    ]
    return cp, good


class CheckpointSource(Protocol):
    """What the scheduler needs (``AuditService`` is one)."""

    async def tree_size(self) -> int: ...

    async def latest_checkpoint(self) -> StoredCheckpoint | None: ...

    async def make_checkpoint(self) -> StoredCheckpoint: ...


class CheckpointScheduler:
    """Makes a checkpoint when ``every_events`` events or ``every_seconds`` passed since the last.

    Polls the (cheap) tree size every ``poll_seconds``. Several processes may each run one: a
    checkpoint per size is stored once, and checkpoints of different sizes are all consistent.
    Configured by ``LEDGER_CHECKPOINT_EVERY`` (events, default 1000) and
    ``LEDGER_CHECKPOINT_SECONDS`` (default 60) via ``from_env``.
    """

    def __init__(
        self,
        source: CheckpointSource,
        every_events: int = 1000,
        every_seconds: float = 60.0,
        poll_seconds: float = 1.0,
    ) -> None:
        if every_events < 1 or every_seconds <= 0 or poll_seconds <= 0:
            raise ValueError("checkpoint intervals must be positive")
        self.source, self.every_events = source, every_events
        self.every_seconds, self.poll_seconds = every_seconds, poll_seconds
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_env(
        cls,
        source: CheckpointSource,
        env: dict[str, str] | None = None,
    ) -> CheckpointScheduler:
        env = dict(os.environ) if env is None else env
        return cls(
            source,
            int(env.get("LEDGER_CHECKPOINT_EVERY", "1000")),
            float(env.get("LEDGER_CHECKPOINT_SECONDS", "60")),
        )

    async def tick(self, now: datetime | None = None) -> StoredCheckpoint | None:
        """Make a checkpoint if one is due; return it (None if none was due)."""
        size = await self.source.tree_size()
        latest = await self.source.latest_checkpoint()
        last_size = latest.size if latest is not None else 0
        if size <= last_size:
            return None
        age = (now or datetime.now(UTC)) - latest.made_at if latest is not None else None
        if (
            size - last_size >= self.every_events
            or age is None
            or age.total_seconds() >= self.every_seconds
        ):
            return await self.source.make_checkpoint()
        return None

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # a failed round (database restart, …) must not stop the next
                _log.exception("checkpoint round failed")
            await asyncio.sleep(self.poll_seconds)

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name="ledger-checkpoints")
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
