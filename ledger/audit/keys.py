"""Ed25519 keys for the ledger (checkpoint signer) and the bureaux' witnesses (co-signers).

Public keys travel as C2SP signed-note *verifier keys* (``vkey``):
``<name>+<hex key ID>+<base64(type byte ‖ 32-byte raw key)>``; the type byte is 0x01 for the
ledger's note signatures and 0x04 for witness cosignatures (c2sp.org/tlog-cosignature), so each
key can only ever be used for its one purpose. ``keys init`` also writes SPKI PEM copies for other
tools.

Private keys are PKCS#8 PEM files created with mode 0600 and never overwritten; loading refuses
files that others can read. A ``Signer`` can sign but has no way to hand its private key out.

Configuration (environment, read by ``KeyConfig.from_env``):
- ``LEDGER_KEY_DIR`` (default ``./keys``): ``ledger.key``/``ledger.vkey`` and, for a demo or a
  witness's own machine, ``witness-<department>.key``/``.vkey``;
- ``LEDGER_ORIGIN`` (default ``ledger.local/disputes``): the log's name, the checkpoint origin line
  and the ledger key's name;
- ``LEDGER_WITNESS_KEYS``: the trusted witness public keys, ``os.pathsep``-separated; each item is a
  vkey string or a path to a file of vkey lines. Unset: every ``witness-*.vkey`` in the key dir.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIG_ED25519 = 0x01  # signed-note Ed25519 signature (the ledger's checkpoints)
SIG_COSIGNATURE = 0x04  # tlog-cosignature/v1 timestamped Ed25519 (the witnesses)
DEPARTMENTS = ("tax", "hrss", "medical")
DEFAULT_ORIGIN = "ledger.local/disputes"
LEDGER_KEY = "ledger"


class KeyFileError(Exception):
    """A key is missing, malformed, unsafe, or would be overwritten."""


def key_id(name: str, sig_type: int, raw: bytes) -> bytes:
    """SHA-256(name ‖ "\\n" ‖ type ‖ public key)[:4] (c2sp.org/signed-note)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + raw).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise KeyFileError(f"key name {name!r} must be non-empty, without spaces or '+'")


def witness_name(department: str, origin: str = DEFAULT_ORIGIN) -> str:
    return f"{department}.witness.{origin.split('/', 1)[0]}"


class PublicKey(msgspec.Struct, frozen=True):
    name: str
    sig_type: int
    raw: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.sig_type, self.raw)

    @property
    def department(self) -> str | None:
        """The bureau a witness key belongs to (first label of its name), if any."""
        first = self.name.split(".", 1)[0]
        return first if self.sig_type == SIG_COSIGNATURE and first in DEPARTMENTS else None

    def vkey(self) -> str:
        material = base64.b64encode(bytes([self.sig_type]) + self.raw).decode()
        return f"{self.name}+{self.key_id.hex()}+{material}"

    def pem(self) -> bytes:
        return Ed25519PublicKey.from_public_bytes(self.raw).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True

    @classmethod
    def parse(cls, vkey: str) -> PublicKey:
        """Parse a verifier key; only its one canonical spelling is accepted."""
        parts = vkey.split("+", 2)  # the base64 material may itself contain "+"
        if len(parts) != 3:
            raise KeyFileError(f"not a verifier key (name+id+key): {vkey[:40]!r}")
        name, hex_id, material = parts
        _check_name(name)
        try:
            blob = base64.b64decode(material, validate=True)
        except ValueError as exc:
            raise KeyFileError(f"verifier key {name!r}: bad base64") from exc
        if len(blob) != 33 or blob[0] not in (SIG_ED25519, SIG_COSIGNATURE):
            raise KeyFileError(f"verifier key {name!r}: not an Ed25519 signer or cosigner key")
        key = cls(name, blob[0], blob[1:])
        if key.vkey() != vkey:  # wrong key ID, or another spelling (hex case, base64 padding)
            raise KeyFileError(
                f"verifier key {name!r}: key ID {hex_id} does not match the key, "
                "or the key is not written canonically"
            )
        return key


class Signer:
    """An Ed25519 private key bound to its name and signature type. It only signs."""

    __slots__ = ("__key", "public")

    def __init__(self, name: str, sig_type: int, private: Ed25519PrivateKey) -> None:
        _check_name(name)
        self.__key = private
        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public = PublicKey(name, sig_type, raw)

    @classmethod
    def from_seed(cls, name: str, sig_type: int, seed: bytes) -> Signer:
        return cls(name, sig_type, Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def name(self) -> str:
        return self.public.name

    def sign(self, message: bytes) -> bytes:
        return self.__key.sign(message)

    def __repr__(self) -> str:
        return f"Signer({self.public.vkey()!r})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("signers cannot be pickled or copied")  # keeps keys out of caches/logs


class KeyConfig(msgspec.Struct, frozen=True):
    key_dir: Path = Path("keys")
    origin: str = DEFAULT_ORIGIN
    witness_keys: tuple[str, ...] = ()  # vkey strings or files; empty: witness-*.vkey in key_dir

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> KeyConfig:
        env = dict(os.environ) if env is None else env
        items = [i for i in env.get("LEDGER_WITNESS_KEYS", "").split(os.pathsep) if i.strip()]
        return cls(
            Path(env.get("LEDGER_KEY_DIR", "keys")),
            env.get("LEDGER_ORIGIN", DEFAULT_ORIGIN),
            tuple(items),
        )


def _write_new(path: Path, data: bytes, mode: int) -> None:
    # O_EXCL: never replace a key, even if another process created it since we looked.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(path, mode)  # the umask may have narrowed or (for public files) that is fine


def init_keys(
    key_dir: Path, origin: str = DEFAULT_ORIGIN, which: Iterable[str] = (LEDGER_KEY, *DEPARTMENTS)
) -> list[Path]:
    """Generate the ledger key and/or witness keys; refuse if any target file already exists."""
    _check_name(origin)
    wanted = list(which)
    unknown = set(wanted) - {LEDGER_KEY, *DEPARTMENTS}
    if unknown:
        raise KeyFileError(
            f"unknown key(s) {sorted(unknown)}: use ledger, {', '.join(DEPARTMENTS)}"
        )
    plans = []
    for who in wanted:
        stem = "ledger" if who == LEDGER_KEY else f"witness-{who}"
        name, kind = (
            (origin, SIG_ED25519)
            if who == LEDGER_KEY
            else (witness_name(who, origin), SIG_COSIGNATURE)
        )
        files = [key_dir / f"{stem}{ext}" for ext in (".key", ".vkey", ".pub.pem")]
        plans.append((name, kind, files))
    existing = [str(f) for _, _, files in plans for f in files if f.exists()]
    if existing:
        raise KeyFileError(f"refusing to overwrite existing key files: {', '.join(existing)}")
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    written: list[Path] = []
    for name, kind, (private_path, vkey_path, pem_path) in plans:
        private = Ed25519PrivateKey.generate()
        public = Signer(name, kind, private).public
        _write_new(
            private_path,
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            0o600,
        )
        _write_new(vkey_path, (public.vkey() + "\n").encode(), 0o644)
        _write_new(pem_path, public.pem(), 0o644)
        written += [private_path, vkey_path, pem_path]
    return written


def read_vkeys(spec: str | Path) -> list[PublicKey]:
    """Verifier keys from an inline vkey string or a file with one per line (# comments)."""
    text = str(spec)
    if "+" in text and not Path(text).exists():
        return [PublicKey.parse(text.strip())]
    try:
        lines = Path(spec).read_text().splitlines()
    except OSError as exc:
        raise KeyFileError(f"cannot read verifier key file {spec}: {exc}") from exc
    return [PublicKey.parse(ln.strip()) for ln in lines if ln.strip() and not ln.startswith("#")]


def load_signer(private_path: Path) -> Signer:
    """Load ``X.key`` with its ``X.vkey``; the two must be the same key."""
    vkey_path = private_path.with_suffix(".vkey")
    st = private_path.stat() if private_path.exists() else None
    if st is None:
        raise KeyFileError(f"no private key at {private_path} (run `ledger keys init`)")
    if st.st_mode & 0o077:
        raise KeyFileError(
            f"private key {private_path} is readable by others "
            f"(mode {st.st_mode & 0o777:o}); chmod 600 it"
        )
    (public,) = read_vkeys(vkey_path)
    private = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise KeyFileError(f"{private_path} is not an Ed25519 private key")
    signer = Signer(public.name, public.sig_type, private)
    if signer.public != public:
        raise KeyFileError(f"{private_path} and {vkey_path} are not the same key")
    return signer


class TrustedKeys(msgspec.Struct, frozen=True):
    """The public keys a verifier trusts: the ledger's and the configured witnesses'."""

    ledger: PublicKey
    witnesses: tuple[PublicKey, ...] = ()

    def witness(self, name: str, kid: bytes) -> PublicKey | None:
        for key in self.witnesses:
            if key.name == name and key.key_id == kid:
                return key
        return None


def load_trusted(config: KeyConfig) -> TrustedKeys:
    (ledger,) = read_vkeys(config.key_dir / "ledger.vkey")
    specs: list[str | Path] = list(config.witness_keys) or sorted(
        config.key_dir.glob("witness-*.vkey")
    )
    witnesses = tuple(k for spec in specs for k in read_vkeys(spec))
    wrong = [k.name for k in witnesses if k.sig_type != SIG_COSIGNATURE]
    if ledger.sig_type != SIG_ED25519 or wrong:
        raise KeyFileError(f"wrong key types: ledger must be 0x01, witnesses 0x04 ({wrong})")
    return TrustedKeys(ledger, witnesses)
