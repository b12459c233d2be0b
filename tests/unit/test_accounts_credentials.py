"""Each account of the lab signs with its own key (lab.model.ids): the key names its account, a key
no account has is unknown, and only the EC2 front takes another account's key (lab.services.sigv4)."""

from __future__ import annotations

import hashlib

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given
from hypothesis import strategies as st

from lab.model import ids
from lab.realize.services import credentials_text
from lab.services import sigv4


def test_the_lab_account_keeps_aws_documentations_example_pair():
    assert ids.credentials(ids.ACCOUNT_ID) == (ids.ACCESS_KEY_ID, ids.SECRET_ACCESS_KEY)
    assert ids.account_of(ids.ACCESS_KEY_ID) == ids.ACCOUNT_ID


@given(st.from_regex(r"[0-9]{12}", fullmatch=True))
def test_another_accounts_key_names_it_and_looks_like_an_access_key(account):
    key, secret = ids.credentials(account)
    assert len(key) == 20 and key.startswith("AKIA") and len(secret) == 40
    assert ids.account_of(key) == account


@pytest.mark.parametrize("key", ["AKIA444455556666AAAA", "AKIA44445555666", "ASIA444455556666" + "ABCD", ""])
def test_a_key_no_account_has_is_unknown(key):
    real = ids.credentials("444455556666")[0]
    assert key != real and ids.account_of(key) is None


def signed_environ(account: str) -> dict:
    key, secret = ids.credentials(account)
    request = AWSRequest("POST", "https://ec2.ap-northeast-2.amazonaws.com/", data=b"Action=DescribeVpcs&Version=2016-11-15")
    request.headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    SigV4Auth(Credentials(key, secret), "ec2", "ap-northeast-2").add_auth(request)
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "QUERY_STRING": "", "HTTP_HOST": "ec2.ap-northeast-2.amazonaws.com"}
    environ |= {"HTTP_" + k.upper().replace("-", "_"): v for k, v in request.headers.items() if k.lower() != "content-type"}
    environ["CONTENT_TYPE"] = request.headers["Content-Type"]
    return environ


def test_only_the_ec2_front_takes_another_accounts_key():
    environ = signed_environ("444455556666")
    signed = sigv4.claimed(environ)
    payload = hashlib.sha256(b"Action=DescribeVpcs&Version=2016-11-15").hexdigest()
    where = {"service": "ec2", "region": "ap-northeast-2", "s3": False}
    sigv4.verify(environ, signed, "/", payload, **where, every_account=True)
    with pytest.raises(sigv4.SignatureProblem, match="unknown-key"):
        sigv4.verify(environ, signed, "/", payload, **where)


def test_the_credentials_file_has_a_profile_per_account():
    text = credentials_text(("444455556666", ids.ACCOUNT_ID))
    assert text.index("[default]") < text.index("[444455556666]")
    assert f"aws_access_key_id = {ids.credentials('444455556666')[0]}" in text
    assert text.count("[") == 2
