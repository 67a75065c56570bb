"""Ed25519 signing of audit checkpoints."""

from __future__ import annotations

from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from aiplane.crypto import keyfiles
from aiplane.domain import checkpoints
from aiplane.domain.checkpoints import Checkpoint
from aiplane.domain.errors import InvalidInput

_RAW = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class Signer:
    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.verifier = Verifier(private.public_key())

    @classmethod
    def load_or_create(cls, path: Path) -> Signer:
        pem = keyfiles.load_or_create(path, _new_private_pem)
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidInput(f"{path} does not hold an Ed25519 private key; move it away to create a new one.")
        signer = cls(key)
        public = path.with_suffix(".pub")
        if not public.exists():
            public.write_bytes(signer.verifier.pem())
        return signer

    def sign(self, draft: Checkpoint) -> bytes:
        return self._private.sign(draft.body())


class Verifier:
    def __init__(self, public: Ed25519PublicKey) -> None:
        self._public = public
        self.key_id = checkpoints.key_id(public.public_bytes(*_RAW))

    @classmethod
    def from_pem(cls, pem: bytes, source: str) -> Verifier:
        try:
            key = serialization.load_pem_public_key(pem)
        except ValueError:
            raise InvalidInput(f"{source} is not a PEM public key; use the file from 'aiplane audit public-key'.") from None
        if not isinstance(key, Ed25519PublicKey):
            raise InvalidInput(f"{source} is not an Ed25519 public key; use the file from 'aiplane audit public-key'.")
        return cls(key)

    def pem(self) -> bytes:
        return self._public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def check(self, cp: Checkpoint) -> bool:
        try:
            self._public.verify(cp.signature, cp.body())
        except InvalidSignature:
            return False
        return True


def _new_private_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
