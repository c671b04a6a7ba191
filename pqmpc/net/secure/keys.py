"""Long-term identities: X-Wing key pairs in files, fingerprints, pre-shared keys.

``NAME.key`` holds the 32-byte X-Wing seed (the whole secret) and is created
with mode 0600 in one ``open`` call, so it is never readable by anyone else,
not even for a moment; loading refuses a key file that group or others can
read. ``NAME.pub`` holds the 1216-byte public key and its fingerprint and can
be shared freely.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

from ...errors import InputError, ParameterError
from .xwing import PK_BYTES, SEED_BYTES, XWingPrivateKey, check_public

KEY_TAG = "pqmpc-xwing-key-v1"
PUB_TAG = "pqmpc-xwing-pub-v1"
PSK_TAG = "pqmpc-psk-v1"
PSK_BYTES = 32


def fingerprint(public_bytes: bytes) -> str:
    """96 bits of SHA-256 over the public key, in six groups of four hex digits."""
    digest = hashlib.sha256(b"pqmpc fingerprint v1\0" + bytes(public_bytes)).hexdigest()[:24]
    return " ".join(digest[i:i + 4] for i in range(0, 24, 4))


class PublicKey:
    """A peer's public identity (what ``NAME.pub`` holds)."""

    __slots__ = ("raw",)

    def __init__(self, raw: bytes):
        raw = bytes(raw)
        if len(raw) != PK_BYTES:
            raise ParameterError(f"an X-Wing public key is {PK_BYTES} bytes, got {len(raw)}")
        check_public(raw)
        self.raw = raw

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.raw)

    def __eq__(self, other) -> bool:
        return isinstance(other, PublicKey) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"PublicKey({self.fingerprint})"

    def to_text(self) -> str:
        return (f"# pqmpc public identity (X-Wing: ML-KEM-768 + X25519)\n"
                f"# fingerprint: {self.fingerprint}\n"
                f"{PUB_TAG} {base64.b64encode(self.raw).decode()}\n")

    @classmethod
    def from_text(cls, text: str, source: str = "public key") -> PublicKey:
        for line in text.splitlines():
            if line.startswith(PUB_TAG + " "):
                try:
                    raw = base64.b64decode(line[len(PUB_TAG) + 1:].strip(), validate=True)
                except ValueError:
                    raise InputError(f"{source}: the public key is not valid base64") from None
                try:
                    return cls(raw)
                except Exception as exc:
                    raise InputError(f"{source}: not a usable X-Wing public key ({exc})") from None
        if KEY_TAG in text:
            raise InputError(f"{source} is a SECRET key file; give the peer's .pub file instead")
        raise InputError(f"{source}: no '{PUB_TAG}' line; is this a pqmpc .pub file?")

    def save(self, path) -> Path:
        path = Path(path)
        path.write_text(self.to_text())
        return path

    @classmethod
    def load(cls, path) -> PublicKey:
        path = Path(path)
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read public key {path}: {getattr(exc, 'strerror', None) or exc}") from None
        return cls.from_text(text, str(path))


def _check_private_mode(fd: int, path: Path) -> None:
    if os.name == "nt":  # no POSIX modes; rely on the ACLs of the user's profile
        return
    mode = stat.S_IMODE(os.fstat(fd).st_mode)
    if mode & 0o077:
        raise InputError(f"secret key {path} is readable by others (mode {mode:04o}); "
                         f"run: chmod 600 {path}")


def _write_private(path: Path, text: str, overwrite: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)  # created 0600 (umask can only remove bits)
    except FileExistsError:
        raise InputError(f"{path} already exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise InputError(f"cannot create {path}: {exc.strerror or exc}") from None
    try:
        if os.name != "nt":
            os.fchmod(fd, 0o600)  # an existing file kept its old mode when truncated
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_private(path: Path, tag: str) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise InputError(f"cannot read secret key {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(4096)
        text = data.decode("utf-8", "replace")
        if tag in text:  # other files get the caller's "not a key file" message
            _check_private_mode(fd, path)
    finally:
        os.close(fd)
    return text


class Identity:
    """This party's long-term key pair."""

    __slots__ = ("_key", "public")

    def __init__(self, seed: bytes):
        self._key = XWingPrivateKey(seed)
        self.public = PublicKey(self._key.public_bytes)

    @classmethod
    def generate(cls) -> Identity:
        return cls(os.urandom(SEED_BYTES))

    @property
    def fingerprint(self) -> str:
        return self.public.fingerprint

    @property
    def private_key(self) -> XWingPrivateKey:
        return self._key

    def __repr__(self) -> str:
        return f"Identity({self.fingerprint})"

    def save(self, path_prefix, overwrite: bool = False) -> tuple[Path, Path]:
        """Write ``PREFIX.key`` (mode 0600) and ``PREFIX.pub``; return both paths."""
        prefix = str(path_prefix)
        key_path, pub_path = Path(prefix + ".key"), Path(prefix + ".pub")
        if not overwrite and pub_path.exists():
            raise InputError(f"{pub_path} already exists; refusing to overwrite a key")
        _write_private(key_path, f"# pqmpc SECRET identity key: keep it private (mode 600)\n"
                                 f"# fingerprint: {self.fingerprint}\n"
                                 f"{KEY_TAG} {self._key.seed_bytes().hex()}\n", overwrite)
        self.public.save(pub_path)
        return key_path, pub_path

    @classmethod
    def load(cls, path) -> Identity:
        """Read a ``.key`` file; refuses one that group or others can read."""
        path = Path(path)
        text = _read_private(path, KEY_TAG)
        for line in text.splitlines():
            if line.startswith(KEY_TAG + " "):
                try:
                    seed = bytes.fromhex(line[len(KEY_TAG) + 1:].strip())
                except ValueError:
                    seed = b""
                if len(seed) != SEED_BYTES:
                    raise InputError(f"{path}: damaged secret key line")
                return cls(seed)
        if PUB_TAG in text:
            raise InputError(f"{path} is a public key; --identity needs the .key file")
        raise InputError(f"{path}: no '{KEY_TAG}' line; is this a pqmpc .key file?")


def generate_psk() -> bytes:
    return os.urandom(PSK_BYTES)


def save_psk(path, psk: bytes, overwrite: bool = False) -> Path:
    """Write a pre-shared key file (mode 0600) that :func:`load_psk` reads."""
    psk = check_psk(psk)
    path = Path(path)
    _write_private(path, f"# pqmpc pre-shared key: give it only to the peer, over a safe path\n"
                         f"{PSK_TAG} {psk.hex()}\n", overwrite)
    return path


def load_psk(path) -> bytes:
    path = Path(path)
    text = _read_private(path, PSK_TAG)
    for line in text.splitlines():
        if line.startswith(PSK_TAG + " "):
            try:
                return check_psk(bytes.fromhex(line[len(PSK_TAG) + 1:].strip()))
            except (ValueError, ParameterError):
                raise InputError(f"{path}: damaged pre-shared key line") from None
    raise InputError(f"{path}: no '{PSK_TAG}' line; is this a pqmpc PSK file?")


def check_psk(psk) -> bytes:
    # 32 uniformly random bytes, as Noise requires: a password would fall to an
    # offline dictionary attack by anyone who records one handshake.
    psk = bytes(psk)
    if len(psk) != PSK_BYTES:
        raise ParameterError(f"a pre-shared key is {PSK_BYTES} random bytes (got {len(psk)}); "
                             f"make one with generate_psk() / save_psk()")
    return psk
