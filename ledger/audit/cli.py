"""The audit subcommands of the ``ledger`` CLI.

``ledger.cli`` calls ``register(subparsers)``; every command sets ``run(settings, args)``, which
returns the exit code (0 ok, 1 a fault was found or the operation failed, 3 a bundle verified
only against its own embedded keys). ``settings`` is the CLI's ``ledger.config.Settings``: the
database is its ``database_url`` (``LEDGER_DATABASE_URL``, default ``sqlite:///./ledger.db``) and
the keys are in its ``key_dir``; ``LEDGER_ORIGIN`` and ``LEDGER_WITNESS_KEYS`` are read as
described in ``ledger.audit.keys``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec

from ledger.audit.bundle import verify_bundle
from ledger.audit.checkpoints import verify_signed
from ledger.audit.errors import AuditError
from ledger.audit.keys import (
    DEPARTMENTS,
    LEDGER_KEY,
    SIG_ED25519,
    KeyConfig,
    KeyFileError,
    TrustedKeys,
    init_keys,
    load_signer,
    load_trusted,
    read_vkeys,
)
from ledger.audit.repair import catch_up
from ledger.audit.service import AuditService
from ledger.audit.views import ConsistencyProofView, InclusionProofView
from ledger.audit.witness import cosign, http_transport, load_state
from ledger.bootstrap import key_config, open_ledger
from ledger.config import Settings


def _out(obj: Any) -> None:
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(obj), indent=2).decode() + "\n")


def _err(message: str) -> None:
    sys.stderr.write(f"ledger: {message}\n")


Work = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]


def _keys(settings: Settings) -> KeyConfig:
    return key_config(settings)


def _run(work: Work) -> Callable[[Settings, argparse.Namespace], int]:
    """Run an async command; known failures become a message and exit code 1."""

    def command(settings: Settings, args: argparse.Namespace) -> int:
        try:
            return asyncio.run(work(settings, args))
        except (AuditError, KeyFileError, ValueError, OSError) as exc:
            _err(str(exc))
            return 1

    return command


async def _with_service(
    settings: Settings, work: Callable[[AuditService], Awaitable[int]], signing: bool = False
) -> int:
    async with open_ledger(settings, audit=True, signing=signing) as ledger:
        return await work(ledger.audit)


def _keys_init(settings: Settings, args: argparse.Namespace) -> int:
    config = _keys(settings)
    try:
        written = init_keys(
            args.dir or config.key_dir,
            args.origin or config.origin,
            args.only or (LEDGER_KEY, *DEPARTMENTS),
        )
    except KeyFileError as exc:
        _err(str(exc))
        return 1
    for path in written:
        print(path)
    return 0


async def _checkpoint(settings: Settings, args: argparse.Namespace) -> int:
    async def work(service: AuditService) -> int:
        stored = await service.make_checkpoint()
        sys.stdout.write(stored.full_note())
        return 0

    return await _with_service(settings, work, signing=True)


class _ProgressBar:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - self.started, 1e-9)
        share = done / total if total else 1.0
        bar = "#" * int(share * 30)
        sys.stderr.write(
            f"\rverifying [{bar:<30}] {share:6.1%} {done}/{total} events {rate:,.0f}/s"
        )
        sys.stderr.flush()


async def _verify(settings: Settings, args: argparse.Namespace) -> int:
    async def work(service: AuditService) -> int:
        held = []
        for path in args.witness_state or ():
            state = load_state(Path(path))
            if state is None:
                raise ValueError(f"no witness state at {path}")
            held.append(verify_signed(state.note, service.trusted)[0])
        bar = None if args.quiet else _ProgressBar()
        report = await service.verify(progress=bar, external=held)
        if bar is not None:
            sys.stderr.write("\n")
        if args.json:
            _out(report)
        if report.ok:
            print(
                f"ok: {report.events_checked} events, {report.checkpoints_checked} "
                f"checkpoints, {report.cosignatures_checked} cosignatures in "
                f"{report.seconds:.2f} s",
                file=sys.stderr,
            )
            return 0
        _err(f"FAULT at position {report.first_bad_position}: {report.problem}")
        return 1

    return await _with_service(settings, work)


async def _evidence(settings: Settings, args: argparse.Namespace) -> int:
    async def work(service: AuditService) -> int:
        data = await service.evidence(UUID(args.case_id))
        if args.output in (None, "-"):
            sys.stdout.buffer.write(data)
        else:
            await asyncio.to_thread(Path(args.output).write_bytes, data)
        return 0

    return await _with_service(settings, work, signing=True)  # may have to make a checkpoint


def _trusted_from(paths: list[str]) -> TrustedKeys:
    keys = [k for p in paths for k in read_vkeys(Path(p))]
    ledgers = [k for k in keys if k.sig_type == SIG_ED25519]
    if len(ledgers) != 1:
        raise KeyFileError(f"--trust needs exactly one ledger key (type 0x01), got {len(ledgers)}")
    return TrustedKeys(ledgers[0], tuple(k for k in keys if k.sig_type != SIG_ED25519))


def _verify_bundle(settings: Settings, args: argparse.Namespace) -> int:
    try:
        if args.trust:
            trusted: TrustedKeys | None = _trusted_from(args.trust)
        else:
            config = _keys(settings)
            has_dir = (config.key_dir / "ledger.vkey").exists()
            trusted = load_trusted(config) if has_dir else None
        report = verify_bundle(Path(args.file).read_bytes(), trusted)
    except (KeyFileError, OSError) as exc:
        _err(str(exc))
        return 1
    _out(report)
    if not report.ok:
        _err(f"bundle FAILED: {report.problems[0]}")
        return 1
    if not report.keys_pinned:
        _err(
            "bundle is self-consistent, but no trusted keys were given (--trust): "
            "anyone could have signed it"
        )
        return 3
    return 0


async def _witness_cosign(settings: Settings, args: argparse.Namespace) -> int:
    config = _keys(settings)
    key = Path(args.key) if args.key else config.key_dir / f"witness-{args.department}.key"
    witness = load_signer(key)
    if witness.public.department != args.department:
        raise KeyFileError(f"{key} is not the {args.department} witness key")
    ledger_key = read_vkeys(Path(args.ledger_key or config.key_dir / "ledger.vkey"))[0]
    outcome = await cosign(
        witness, ledger_key, Path(args.state), *http_transport(args.url, args.token)
    )
    print(f"cosigned size {outcome.size} (previously {outcome.previous_size})")
    return 0


async def _catch_up(settings: Settings, args: argparse.Namespace) -> int:
    async def work(service: AuditService) -> int:
        added = await catch_up(service.store)
        print(f"the Merkle tree now covers {await service.tree_size()} events ({added} added)")
        return 0

    return await _with_service(settings, work)


async def _proof(settings: Settings, args: argparse.Namespace) -> int:
    async def work(service: AuditService) -> int:
        if args.kind == "inclusion":
            _out(InclusionProofView.of(await service.inclusion_proof(args.position, args.size)))
        else:
            size = args.to if args.to is not None else await service.tree_size()
            _out(ConsistencyProofView.of(await service.consistency_proof(args.first, size)))
        return 0

    return await _with_service(settings, work)


def register(subparsers: Any) -> None:
    """Add the audit commands to the ``ledger`` CLI's subparsers."""
    keys = subparsers.add_parser("keys", help="ledger and witness keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    init = keys_sub.add_parser("init", help="generate keys (refuses to overwrite)")
    init.add_argument("--dir", type=Path, help="key directory (default $LEDGER_KEY_DIR or ./keys)")
    init.add_argument("--origin", help="log name (default $LEDGER_ORIGIN)")
    init.add_argument(
        "--only",
        nargs="+",
        choices=(LEDGER_KEY, *DEPARTMENTS),
        help="generate only these keys (a witness generates its own)",
    )
    init.set_defaults(run=_keys_init)

    cp = subparsers.add_parser("checkpoint", help="sign a checkpoint of the log now")
    cp.set_defaults(run=_run(_checkpoint))

    verify = subparsers.add_parser("verify", help="verify the whole chain, tree and signatures")
    verify.add_argument("--witness-state", nargs="*", help="witness state files to check against")
    verify.add_argument("--json", action="store_true", help="print the full report as JSON")
    verify.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    verify.set_defaults(run=_run(_verify))

    evidence = subparsers.add_parser("evidence", help="write a case's evidence bundle")
    evidence.add_argument("case_id")
    evidence.add_argument("-o", "--output", help="file (default: stdout)")
    evidence.set_defaults(run=_run(_evidence))

    vb = subparsers.add_parser("verify-bundle", help="check an evidence bundle offline")
    vb.add_argument("file")
    vb.add_argument(
        "--trust",
        nargs="+",
        metavar="KEYFILE",
        help="vkey files: the ledger's key and the witness keys to trust",
    )
    vb.set_defaults(run=_verify_bundle)

    witness = subparsers.add_parser("witness", help="witness operations")
    witness_sub = witness.add_subparsers(dest="witness_command", required=True)
    wc = witness_sub.add_parser("cosign", help="check consistency, then cosign the latest")
    wc.add_argument("--department", required=True, choices=DEPARTMENTS)
    wc.add_argument("--url", required=True, help="the ledger API, e.g. https://ledger.example")
    wc.add_argument("--token", required=True, help="a bearer token with the witness role")
    wc.add_argument("--state", required=True, help="this witness's state file")
    wc.add_argument("--key", help="private key (default $LEDGER_KEY_DIR/witness-DEPT.key)")
    wc.add_argument("--ledger-key", help="the ledger's vkey (default $LEDGER_KEY_DIR/ledger.vkey)")
    wc.set_defaults(run=_run(_witness_cosign))

    tree = subparsers.add_parser("tree", help="Merkle tree maintenance")
    tree_sub = tree.add_subparsers(dest="tree_command", required=True)
    catch = tree_sub.add_parser(
        "catch-up", help="add events appended without the audit hook to the tree (check first)"
    )
    catch.set_defaults(run=_run(_catch_up))

    proof = subparsers.add_parser("proof", help="RFC 9162 proofs from the stored tree")
    proof_sub = proof.add_subparsers(dest="kind", required=True)
    inc = proof_sub.add_parser("inclusion")
    inc.add_argument("--position", type=int, required=True)
    inc.add_argument("--size", type=int, help="tree size (default: current)")
    inc.set_defaults(run=_run(_proof))
    con = proof_sub.add_parser("consistency")
    con.add_argument("--from", dest="first", type=int, required=True)
    con.add_argument("--to", type=int, help="tree size (default: current)")
    con.set_defaults(run=_run(_proof))
