"""Client-side encryption of what goes into the backup and report stores: age (age-encryption.org/v1).

Server-side encryption protects the provider's disks, not the data from
whoever holds a bucket credential; every object holding personal data is
therefore encrypted before it leaves the process. age is a small standard
format with an independent command-line tool (Debian `age`), so a dump can
be decrypted and restored without this project's code:
`age -d -i key.txt factoria.dump | pg_restore -d URL`.

The keyring is `BACKUP_ENCRYPTION_KEYS`: age identities, newest first. The
newest one's recipient encrypts; every one is tried to decrypt, so backups
made before a rotation stay restorable as long as their key stays in the
list. Objects written before encryption was switched on (no age header) are
read as they are. pyrage is imported on first use (cold start).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from pyrage import x25519

    from shared.settings import Settings

AGE_HEADER = b"age-encryption.org/v1\n"


class MissingKeyError(RuntimeError):
    """The object is encrypted and no key in `BACKUP_ENCRYPTION_KEYS` opens it (operators: exit 2)."""


def is_encrypted(head: bytes) -> bool:
    return head.startswith(AGE_HEADER)


def generate_key() -> tuple[str, str]:
    """A new (identity, recipient) pair: the identity goes into BACKUP_ENCRYPTION_KEYS."""
    from pyrage import x25519

    identity = x25519.Identity.generate()
    return str(identity), str(identity.to_public())


@dataclass(frozen=True)
class Keyring:
    """Identities newest first; empty means objects are written in the clear (development)."""

    keys: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> "Keyring":
        if settings is None:
            from shared.settings import get_settings

            settings = get_settings()
        return cls(tuple(settings.backup_keys))

    @property
    def enabled(self) -> bool:
        return bool(self.keys)

    @property
    def recipient(self) -> str | None:
        """The public recipient new objects are encrypted to (None when encryption is off)."""
        if not self.keys:
            return None
        return str(self._identities()[0].to_public())

    def _identities(self) -> list[x25519.Identity]:
        from pyrage import x25519

        return [x25519.Identity.from_str(k) for k in self.keys]

    def seal(self, data: bytes) -> bytes:
        """`data` encrypted to the newest key, or unchanged when the keyring is empty."""
        if not self.keys:
            return data
        import pyrage

        return cast(bytes, pyrage.encrypt(data, [self._identities()[0].to_public()]))  # pyrage is untyped

    def seal_file(self, source: Path, dest: Path) -> bool:
        """Encrypt `source` into `dest` (streamed); False, and nothing written, when the keyring is empty."""
        if not self.keys:
            return False
        import pyrage

        pyrage.encrypt_file(str(source), str(dest), [self._identities()[0].to_public()])
        return True

    def open(self, data: bytes, what: str) -> bytes:
        """The plaintext of `data` (an age object, or a clear one written before encryption was on)."""
        if not is_encrypted(data):
            return data
        import pyrage

        if not self.keys:
            raise MissingKeyError(f"{what} is encrypted and BACKUP_ENCRYPTION_KEYS is not set")
        try:
            return cast(bytes, pyrage.decrypt(data, self._identities()))  # pyrage is untyped
        except pyrage.DecryptError:
            raise MissingKeyError(f"{what} is encrypted to a key not in BACKUP_ENCRYPTION_KEYS "
                                  "(or is damaged)") from None

    def open_file(self, source: Path, dest: Path, what: str) -> None:
        """Decrypt `source` into `dest` (streamed); a clear file is moved as it is."""
        with open(source, "rb") as fh:
            head = fh.read(len(AGE_HEADER))
        if not is_encrypted(head):
            source.replace(dest)
            return
        import pyrage

        if not self.keys:
            raise MissingKeyError(f"{what} is encrypted and BACKUP_ENCRYPTION_KEYS is not set")
        try:
            pyrage.decrypt_file(str(source), str(dest), self._identities())
        except pyrage.DecryptError:
            dest.unlink(missing_ok=True)
            raise MissingKeyError(f"{what} is encrypted to a key not in BACKUP_ENCRYPTION_KEYS "
                                  "(or is damaged)") from None
