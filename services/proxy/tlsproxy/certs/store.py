"""The certificate folder on disk: atomic writes, file modes, backups and careful loading.

Every write goes to a temporary file in the same folder, is flushed to disk, and is
then renamed over the target, so a crash leaves either the old file or the new one,
never half a private key. Loading turns every failure into a CertsError that names
the file and the fix.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .errors import CertsError
from .keys import PrivateKey


@dataclass(frozen=True)
class Folder:
    """File names inside the certificate folder.

    The CA pair sits at the top; ``served/`` holds only what the proxy serves (the server
    pair and a copy of the CA certificate for client verification), so the proxy can be
    given that subfolder alone and never the CA key.
    """

    root: Path
    served_root: Path | None = None  # CERTS_SERVED_DIR: elsewhere than root/served

    @property
    def ca(self) -> Path:
        return self.root / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca-key.pem"

    @property
    def served(self) -> Path:
        return self.served_root or self.root / "served"

    @property
    def server(self) -> Path:
        return self.served / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.served / "server-key.pem"

    @property
    def served_ca(self) -> Path:
        return self.served / "ca.pem"

    @property
    def clients(self) -> Path:
        return self.root / "clients"

    def client(self, name: str, suffix: str) -> Path:
        return self.clients / f"{name}{suffix}"


DIR_MODE = 0o700
KEY_MODE = 0o600
CERT_MODE = 0o644


def ensure_dir(path: Path) -> None:
    """Create the folder 0700, or tighten an existing one we own."""
    try:
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    except OSError as error:
        raise CertsError(
            f"Cannot create the certificate folder {path}: {error.strerror}. Create it yourself "
            "(mkdir -m 700) or point CERTS_DIR / --dir at a folder you can write to."
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise CertsError(
            f"The certificate folder {path} is not writable by uid {os.getuid()}. Make it "
            "yours (sudo chown -R $(id -u):$(id -g) certs) or run the container with "
            "--user $(id -u):$(id -g); nothing was written."
        )
    try:
        os.chmod(path, DIR_MODE)
    except OSError as error:
        # A bind mount owned by someone else: still usable, the keys themselves are 0600.
        print(f"warning: could not set {path} to mode 0700: {error.strerror}", file=sys.stderr)


def atomic_write(path: Path, data: bytes, mode: int, *, exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` with ``mode`` so that readers see old or new, never half.

    ``exclusive`` refuses to replace an existing file, even one another run created a
    moment ago: the CA files are written this way so a CA is never overwritten silently.
    """
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        # mkstemp makes the file 0600; widen only after the content is complete.
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        if exclusive:
            os.link(temporary, path)  # atomic, and fails if path exists
        else:
            os.replace(temporary, path)
    except FileExistsError:
        raise CertsError(
            f"{path} appeared while this run was working (another run of the tool?) and was "
            "left as it is. Run the command again."
        ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    # Makes the rename itself durable; not every filesystem allows opening a folder.
    with contextlib.suppress(OSError):
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def adopt_old_layout(folder: Folder) -> list[Path]:
    """Move a server pair from the folder's top (the layout before ``served/``) into it."""
    moved = []
    for path in (folder.server_key, folder.server):
        old = folder.root / path.name
        if present(old) and not present(path):
            ensure_dir(folder.served)
            os.rename(old, path)
            moved.append(path)
    if moved:
        _fsync_dir(folder.root)
        _fsync_dir(folder.served)
    return moved


def backup_name(path: Path, now: datetime) -> Path:
    return path.with_name(f"{path.name}.{now.strftime('%Y%m%dT%H%M%SZ')}.bak")


def back_up(path: Path, now: datetime) -> Path | None:
    """Move ``path`` aside under a timestamped name; never deletes anything."""
    if not present(path):
        return None
    target = backup_name(path, now)
    counter = 1
    while target.exists():
        target = backup_name(path, now).with_suffix(f".{counter}.bak")
        counter += 1
    os.rename(path, target)
    return target


def present(path: Path) -> bool:
    """Whether ``path`` exists; a folder we may not look into is an error, not a no."""
    try:
        path.stat()
    except FileNotFoundError:
        return False
    except PermissionError:
        raise CertsError(
            f"Cannot look into {path.parent}: permission denied for uid {os.getuid()}. Make the "
            "certificate folder yours (sudo chown -R $(id -u):$(id -g) certs) or run the "
            "container with --user $(id -u):$(id -g)."
        ) from None
    return True


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except PermissionError:
        raise CertsError(
            f"Cannot read the {what} {path}: permission denied. Run as the user that owns "
            f"the certificate folder, or fix the ownership (chown) of {path.parent}."
        ) from None
    except FileNotFoundError:
        raise CertsError(
            f"The {what} {path} does not exist. Run `python -m tlsproxy.certs ensure` first "
            "(`make up` does), or point CERTS_DIR / --dir at the folder that holds it."
        ) from None
    except OSError as error:
        raise CertsError(f"Cannot read the {what} {path}: {error.strerror}.") from None


_RESTORE = "Restore it from a backup, or move it aside and run the command again to make a new one."


def load_certs(path: Path, what: str = "certificate") -> list[x509.Certificate]:
    """Read one or more certificates, PEM or DER."""
    return parse_certs(_read(path, what), f"The {what} {path}", _RESTORE)


def parse_certs(data: bytes, source: str, fix: str) -> list[x509.Certificate]:
    """Every certificate in PEM ``data`` (other PEM blocks, such as a key, are skipped)
    or one DER certificate; a CertsError '{source} is not ... {fix}' otherwise."""
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise CertsError(f"{source} is not a readable certificate (PEM or DER). {fix}") from None


def key_block(data: bytes, source: str, fix: str) -> bytes:
    """The one PEM private-key block in ``data``."""
    blocks = re.findall(
        rb"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", data, re.S
    )
    if len(blocks) != 1:
        raise CertsError(f"{source} holds {len(blocks)} private keys, not one. {fix}")
    return blocks[0] + b"\n"


def load_cert(path: Path, what: str = "certificate") -> x509.Certificate:
    return load_certs(path, what)[0]


def load_key(path: Path, what: str = "private key") -> PrivateKey:
    return parse_key(_read(path, what), f"The {what} {path}", _RESTORE)


def parse_key(data: bytes, source: str, fix: str) -> PrivateKey:
    """An unencrypted PEM ECDSA or RSA key, or a CertsError: '{source} is not ... {fix}'."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise CertsError(f"{source} is not a readable unencrypted PEM private key. {fix}") from None
    if not isinstance(key, PrivateKey):
        raise CertsError(f"{source} is neither an ECDSA nor an RSA key. {fix}")
    return key
