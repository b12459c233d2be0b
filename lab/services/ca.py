"""The lab's own certificate authority, so that clients in the lab verify TLS to the service fronts.

Real clients (boto3, the AWS CLI, curl) verify certificates; the lab keeps them verifying, with a
CA that exists only for one lab run (trustme, measurements.md section 9). Inside each node the
realizer bind-mounts `bundle.pem` (the system's trusted CAs plus the lab CA) over
/etc/ssl/certs/ca-certificates.crt and points AWS_CA_BUNDLE, SSL_CERT_FILE and REQUESTS_CA_BUNDLE
at it; AWS_CA_BUNDLE must be set explicitly because a machine-wide value would win (Trap 15).

The CA's private key stays in memory: the realizer issues every certificate it needs while the
lab comes up, and nothing outside the run can mint more.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import trustme

from lab.model.regions import RegionalService
from lab.plan.names import front_node

SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


@dataclass(frozen=True)
class LabCa:
    directory: Path
    authority: trustme.CA

    @property
    def ca_path(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def bundle_path(self) -> Path:
        return self.directory / "bundle.pem"

    def issue(self, hostnames: Iterable[str], stem: str) -> tuple[Path, Path]:
        """A server certificate for `hostnames` ('*.' wildcards allowed): (`stem`-cert.pem, `stem`-key.pem)."""
        names = list(hostnames)
        issued = self.authority.issue_cert(*names, common_name=names[0])
        cert, key = self.directory / f"{stem}-cert.pem", self.directory / f"{stem}-key.pem"
        cert.write_bytes(b"".join(pem.bytes() for pem in issued.cert_chain_pems))
        issued.private_key_pem.write_to_path(str(key))
        key.chmod(0o600)
        return cert, key

    def issue_for(self, service: RegionalService, endpoint_names: Iterable[str] = ()) -> tuple[Path, Path]:
        """The certificate of a service front: every name the service answers to, wildcards included,
        so both `https://bucket.s3.<region>.amazonaws.com/` and `https://s3.<region>.amazonaws.com/bucket/`
        verify. Every S3 front also answers to the legacy global names: S3's DNS sends
        `<bucket>.s3.amazonaws.com` to the bucket's Region (lab.plan.dns), and clients verify that name.
        `endpoint_names`: the names of the interface endpoints that lead to this front
        (lab.plan.dns.certificate_names), which clients use as --endpoint-url."""
        names = list(service.hostnames)
        if service.service == "s3":
            names += [n for n in ("s3.amazonaws.com", "*.s3.amazonaws.com") if n not in names]
        names += [n for n in endpoint_names if n not in names]
        return self.issue(names, front_node(service.service, service.region))  # named as its front


def make_lab_ca(directory: Path, system_bundle: Path = SYSTEM_BUNDLE) -> LabCa:
    """A fresh CA in `directory`: ca.pem, and bundle.pem = `system_bundle` (if present) + ca.pem."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    lab = LabCa(directory, trustme.CA(organization_name="vpclab", organization_unit_name="lab CA"))
    lab.authority.cert_pem.write_to_path(str(lab.ca_path))
    system = system_bundle.read_bytes() if system_bundle.exists() else b""
    if system and not system.endswith(b"\n"):
        system += b"\n"
    lab.bundle_path.write_bytes(system + lab.authority.cert_pem.bytes())
    return lab
