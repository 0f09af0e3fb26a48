"""The witness side: check the ledger grew append-only, then cosign (c2sp.org/tlog-witness style).

``cosign`` is transport-free: it is given functions to fetch the latest checkpoint note, fetch a
consistency proof and submit a cosignature, so the CLI plugs in HTTP (``http_transport``) and tests
plug in the service directly. The state file holds the last checkpoint this witness cosigned; the
witness only ever signs a checkpoint that is provably an extension of it, and it writes the new
state (fsync, atomic rename) *before* releasing the signature, so a crash can never let it sign
two diverging histories.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from ledger.audit.checkpoints import CheckpointError, open_checkpoint
from ledger.audit.checkpoints import cosign as make_cosignature
from ledger.audit.errors import WitnessRefused
from ledger.audit.keys import PublicKey, Signer
from ledger.audit.merkle import verify_consistency
from ledger.audit.note import format_note, parse_note

FetchLatest = Callable[[], Awaitable[str]]  # → the latest checkpoint as a signed note
FetchConsistency = Callable[[int, int], Awaitable[list[bytes]]]  # (from, to) → proof hashes
Submit = Callable[[int, str], Awaitable[None]]  # (size, signature line)


class WitnessState(msgspec.Struct, frozen=True):
    ledger_key: str  # the ledger's vkey, pinned at the first cosignature
    size: int
    root: bytes
    note: str  # the ledger-signed checkpoint last cosigned: evidence of what the log said
    cosigned_at: datetime


class CosignOutcome(msgspec.Struct, frozen=True):
    size: int
    previous_size: int
    signature: str


def load_state(path: Path) -> WitnessState | None:
    try:
        return msgspec.json.decode(path.read_bytes(), type=WitnessState)
    except FileNotFoundError:
        return None


def save_state(path: Path, state: WitnessState) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(msgspec.json.format(msgspec.json.encode(state), indent=2))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)


async def cosign(
    witness: Signer,
    ledger_key: PublicKey,
    state_file: Path,
    fetch_latest: FetchLatest,
    fetch_consistency_proof: FetchConsistency,
    submit: Submit,
) -> CosignOutcome:
    """Cosign the ledger's latest checkpoint if it extends what this witness cosigned before."""
    note = await fetch_latest()
    try:
        cp, _ = open_checkpoint(note, ledger_key)
    except CheckpointError as exc:
        raise WitnessRefused(f"the latest checkpoint is not validly signed: {exc}") from exc
    state = load_state(state_file)
    if state is not None:
        if state.ledger_key != ledger_key.vkey():
            raise WitnessRefused("the ledger key differs from the one this witness pinned")
        if cp.size < state.size:
            raise WitnessRefused(
                f"rollback: the ledger shows size {cp.size} but this witness "
                f"already cosigned size {state.size}"
            )
        if cp.size == state.size and cp.root != state.root:
            raise WitnessRefused(f"fork: size {cp.size} has another root than the one cosigned")
        if cp.size > state.size:
            proof = await fetch_consistency_proof(state.size, cp.size)
            if not verify_consistency(state.size, cp.size, state.root, cp.root, proof):
                raise WitnessRefused(
                    f"the consistency proof from size {state.size} to {cp.size} "
                    "does not verify: the log was rewritten"
                )
    signature = make_cosignature(cp, witness)
    text, sigs = parse_note(note)
    as_signed = format_note(
        text, [s for s in sigs if s.name == ledger_key.name and s.key_id == ledger_key.key_id]
    )
    save_state(
        state_file, WitnessState(ledger_key.vkey(), cp.size, cp.root, as_signed, datetime.now(UTC))
    )
    await submit(cp.size, signature.line())
    return CosignOutcome(cp.size, state.size if state else 0, signature.line())


def http_transport(
    base_url: str, token: str, timeout: float = 30.0
) -> tuple[FetchLatest, FetchConsistency, Submit]:
    """The three functions over the ledger's HTTP API (blocking urllib, run in a thread)."""
    import asyncio

    base = base_url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ValueError(f"the ledger API URL must be http(s)://…, not {base_url!r}")

    def call(method: str, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            base + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            result: dict[str, object] = json.loads(response.read())
            return result

    async def fetch_latest() -> str:
        view = await asyncio.to_thread(call, "GET", "/v1/ledger/checkpoint")
        return str(view["note"])

    async def fetch_consistency(first: int, second: int) -> list[bytes]:
        view = await asyncio.to_thread(
            call, "GET", f"/v1/ledger/proofs/consistency?from={first}&to={second}"
        )
        proof = view["proof"]
        assert isinstance(proof, list)
        return [bytes.fromhex(str(h)) for h in proof]

    async def submit(size: int, line: str) -> None:
        await asyncio.to_thread(
            call, "POST", f"/v1/ledger/checkpoints/{size}/cosign", {"signature": line}
        )

    return fetch_latest, fetch_consistency, submit
