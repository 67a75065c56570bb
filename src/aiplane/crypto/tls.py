"""TLS for the platform's ports: certificate files checked at start-up, a self-signed pair made
on first start, and server contexts that speak TLS 1.2 and newer only.

A server context is built once per process and kept: `reload` loads the files again into the
same context, so connections already open keep their session and every new handshake gets the
new certificate (what `aiplane up` does on SIGHUP).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from aiplane.domain.errors import InvalidInput

_VALID_DAYS = 397  # the longest lifetime browsers accept for a server certificate


@dataclass(frozen=True)
class CertificatePair:
    cert: Path
    key: Path

    def read(self) -> tuple[bytes, bytes]:
        """(certificate chain PEM, private key PEM), for gRPC's credentials."""
        return self.cert.read_bytes(), self.key.read_bytes()


def self_signed(folder: Path, host: str) -> tuple[CertificatePair, bool]:
    """The pair in `folder` (server.crt, server.key), made now when missing; True when made."""
    pair = CertificatePair(folder / "server.crt", folder / "server.key")
    if pair.cert.exists() and pair.key.exists():
        return pair, False
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aiplane self-signed")])
    now = datetime.datetime.now(datetime.timezone.utc)
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                     x509.IPAddress(ipaddress.ip_address("::1"))]
    names += _host_names(host)
    public = key.public_key()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=_VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
            .sign(key, hashes.SHA256()))
    _write_private(pair.key, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    _write_private(pair.cert, cert.public_bytes(serialization.Encoding.PEM))
    return pair, True


def _host_names(host: str) -> list[x509.GeneralName]:
    if host in ("", "0.0.0.0", "::", "127.0.0.1", "::1", "localhost"):
        return []
    try:
        return [x509.IPAddress(ipaddress.ip_address(host))]
    except ValueError:
        return [x509.DNSName(host)]


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    path.chmod(0o600)


def fingerprint(cert: Path) -> str:
    """The certificate's SHA-256 fingerprint, as browsers and `openssl x509 -fingerprint` show it."""
    loaded = x509.load_pem_x509_certificate(cert.read_bytes())
    return ":".join(f"{b:02X}" for b in loaded.fingerprint(hashes.SHA256()))


class ServerTLS:
    """One process's TLS: the live HTTP context and a generation the gRPC server watches, both
    moved on by `reload` (SIGHUP)."""

    def __init__(self, pair: CertificatePair) -> None:
        self.pair = pair
        self.context = server_context(pair)
        self.generation = 0

    def reload(self) -> None:
        """Load the files again; a bad file raises InvalidInput and leaves the served pair as it was."""
        server_context(self.pair)  # check on a scratch context first: a half-loaded live one would break
        reload(self.context, self.pair)
        self.generation += 1


def configured(cert: str, key: str) -> CertificatePair | None:
    """The pair the settings name, or None for plain HTTP; InvalidInput when only one is given."""
    if not cert and not key:
        return None
    if not (cert and key):
        raise InvalidInput("TLS needs both --tls-cert and --tls-key (AIPLANE_TLS_CERT, AIPLANE_TLS_KEY); give both, "
                           "or --tls-self-signed.")
    return CertificatePair(Path(cert), Path(key))


def server_context(pair: CertificatePair) -> ssl.SSLContext:
    """A server context for the pair (TLS 1.2+); InvalidInput with one sentence when the files
    are missing, unreadable, not PEM, or do not belong together."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    reload(context, pair)
    return context


def reload(context: ssl.SSLContext, pair: CertificatePair) -> None:
    """Load the pair's files (again) into `context`; the next handshakes use them."""
    for what, path in (("certificate", pair.cert), ("private key", pair.key)):
        if not path.is_file():
            raise InvalidInput(f"the TLS {what} file {str(path)!r} does not exist; pass an existing file or use "
                               "--tls-self-signed.")
    try:
        x509.load_pem_x509_certificates(pair.cert.read_bytes())
    except (ValueError, OSError) as exc:
        raise InvalidInput(f"the TLS certificate file {str(pair.cert)!r} is not a PEM certificate ({exc}); "
                           "pass the server certificate (and its chain) in PEM.") from None
    try:
        context.load_cert_chain(pair.cert, pair.key)
    except (ssl.SSLError, OSError) as exc:
        raise InvalidInput(f"the TLS key {str(pair.key)!r} cannot be used with certificate {str(pair.cert)!r} "
                           f"({exc.strerror or exc}); pass the PEM private key that belongs to the certificate."
                           ) from None
