"""The kubelet endpoint's TLS: a serving certificate (given, or self-signed at start) and client-certificate checks.

The apiserver connects to a kubelet with its kubelet client certificate and, unless it runs
with `--kubelet-certificate-authority`, does not verify the kubelet's serving certificate
(that is why a self-signed one works; docs/kubelet-api.md says how to provide one it can
verify). Client certificates are verified here against the cluster CA during the handshake
(`CERT_OPTIONAL`: a request without one may still authenticate with a bearer token; one
that presents a certificate the CA did not sign is refused before any HTTP is spoken).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import tempfile
from pathlib import Path

SERVICE_ACCOUNT_CA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
"""The cluster CA every pod gets: it signs the apiserver's kubelet client certificate on most clusters."""


def self_signed(hosts: list[str], days: int = 365) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) for `hosts` (IP addresses or DNS names), ECDSA P-256, valid `days` days."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0] if hosts else "aci-connector-kubelet")])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    certificate = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def serving_files(tls_dir: str, hosts: list[str]) -> tuple[str, str]:
    """(cert, key) files: `tls.crt`/`tls.key` of a mounted kubernetes.io/tls Secret, else a new self-signed pair."""
    if tls_dir:
        cert, key = Path(tls_dir, "tls.crt"), Path(tls_dir, "tls.key")
        missing = [str(p) for p in (cert, key) if not p.is_file()]
        if missing:
            from shared.errors import ConfigError

            raise ConfigError(f"setting RELAY_KUBELET_TLS_DIR: {', '.join(missing)} not found")
        return str(cert), str(key)
    cert_pem, key_pem = self_signed(hosts)
    folder = tempfile.mkdtemp(prefix="kubelet-tls-")
    cert_file, key_file = os.path.join(folder, "tls.crt"), os.path.join(folder, "tls.key")
    Path(cert_file).write_bytes(cert_pem)
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key_pem)
    return cert_file, key_file


def client_ca_file(setting: str) -> str | None:
    """The CA that signs client certificates: the setting, else the ServiceAccount mount, else None (tokens only)."""
    if setting:
        if not Path(setting).is_file():
            from shared.errors import ConfigError

            raise ConfigError(f"setting RELAY_KUBELET_CLIENT_CA: {setting} not found")
        return setting
    return SERVICE_ACCOUNT_CA if Path(SERVICE_ACCOUNT_CA).is_file() else None


def server_context(cert_file: str, key_file: str, client_ca: str | None) -> ssl.SSLContext:
    """TLS 1.2+; client certificates optional, and verified against `client_ca` when presented."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    if client_ca:
        context.load_verify_locations(cafile=client_ca)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def certificate_identity(peercert: dict | None) -> tuple[str, list[str]] | None:
    """(user, groups) from a verified client certificate: CommonName and Organizations, as Kubernetes reads them."""
    if not peercert:
        return None
    user = ""
    groups: list[str] = []
    for rdn in peercert.get("subject") or ():
        for key, value in rdn:
            if key == "commonName":
                user = value
            elif key == "organizationName":
                groups.append(value)
    return (user, groups) if user else None
