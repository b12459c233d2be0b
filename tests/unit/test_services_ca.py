"""The lab CA: certificates that real TLS clients accept for every name a service front answers to.

Each check is a full TLS handshake between two in-memory `ssl` objects (no sockets), verifying the
server's certificate against ca.pem and the requested host name, as boto3 and curl do.
"""

from __future__ import annotations

import ssl

import pytest
from cryptography import x509

from lab.model import regions
from lab.services.ca import SYSTEM_BUNDLE, make_lab_ca

SEOUL_S3 = regions.region("ap-northeast-2").services["s3"]


def handshake(ca_file, cert, key, hostname: str) -> None:
    """Complete a TLS handshake for `hostname`; raises ssl.SSLCertVerificationError if it does not verify."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(ca_file))
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=hostname)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(10):
        for name, side in (("client", client), ("server", server)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return
    raise AssertionError("handshake did not finish")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    return make_lab_ca(tmp_path_factory.mktemp("ca"))


@pytest.mark.parametrize(
    "hostname",
    [
        "s3.ap-northeast-2.amazonaws.com",
        "lab-bucket.s3.ap-northeast-2.amazonaws.com",
        "lab-bucket.s3.dualstack.ap-northeast-2.amazonaws.com",
    ],
)
def test_s3_front_certificate_verifies_for_path_and_virtual_hosted_names(lab, hostname):
    cert, key = lab.issue_for(SEOUL_S3)
    handshake(lab.ca_path, cert, key, hostname)


@pytest.mark.parametrize(
    "hostname",
    [
        "a.b.s3.ap-northeast-2.amazonaws.com",  # a wildcard covers one label
        "lab-bucket.s3.us-east-1.amazonaws.com",
        "dynamodb.ap-northeast-2.amazonaws.com",
    ],
)
def test_names_outside_the_certificate_fail_verification(lab, hostname):
    cert, key = lab.issue_for(SEOUL_S3)
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        handshake(lab.ca_path, cert, key, hostname)


def test_us_east_1_covers_the_global_name_boto3_uses(lab):
    cert, key = lab.issue_for(regions.region("us-east-1").services["s3"])
    for hostname in ("s3.amazonaws.com", "lab-bucket.s3.amazonaws.com", "lab-bucket.s3.us-east-1.amazonaws.com"):
        handshake(lab.ca_path, cert, key, hostname)
    names = (
        x509.load_pem_x509_certificate(cert.read_bytes())
        .extensions.get_extension_for_class(x509.SubjectAlternativeName)
        .value.get_values_for_type(x509.DNSName)
    )
    assert names == list(regions.region("us-east-1").services["s3"].hostnames)


def test_dynamodb_front_certificate(lab):
    cert, key = lab.issue_for(regions.region("ap-northeast-2").services["dynamodb"])
    assert (cert.name, key.name) == ("dynamodb-ap-northeast-2-cert.pem", "dynamodb-ap-northeast-2-key.pem")
    handshake(lab.ca_path, cert, key, "dynamodb.ap-northeast-2.amazonaws.com")
    assert key.stat().st_mode & 0o077 == 0


def test_other_cas_do_not_vouch_for_the_lab(lab, tmp_path):
    other = make_lab_ca(tmp_path / "other", system_bundle=tmp_path / "none")
    cert, key = lab.issue_for(SEOUL_S3)
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer certificate"):
        handshake(other.ca_path, cert, key, "s3.ap-northeast-2.amazonaws.com")


def test_bundle_is_the_system_bundle_plus_the_lab_ca(tmp_path):
    system = tmp_path / "system.crt"
    system.write_text("-----BEGIN CERTIFICATE-----\nSYSTEM\n-----END CERTIFICATE-----")  # no final newline
    lab = make_lab_ca(tmp_path / "lab", system_bundle=system)
    assert lab.bundle_path.read_text() == system.read_text() + "\n" + lab.ca_path.read_text()
    alone = make_lab_ca(tmp_path / "alone", system_bundle=tmp_path / "missing.crt")
    assert alone.bundle_path.read_text() == alone.ca_path.read_text()


def test_bundle_verifies_the_lab_and_keeps_the_systems_cas(lab):
    context = ssl.create_default_context(cafile=str(lab.bundle_path))
    organizations = [dict(x[0] for x in c["subject"]).get("organizationName") for c in context.get_ca_certs()]
    assert "vpclab" in organizations
    if SYSTEM_BUNDLE.exists():
        assert len(organizations) > 1
    cert, key = lab.issue_for(SEOUL_S3)
    handshake(lab.bundle_path, cert, key, "s3.ap-northeast-2.amazonaws.com")
