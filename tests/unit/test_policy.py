"""The IAM policy language as S3 applies it, tested on the examples of AWS's own documentation.

Requests are built as the front builds them (`lab.services.authorize.context`): through an endpoint
they carry aws:SourceVpce, aws:SourceVpc and aws:VpcSourceIp and no aws:SourceIp; from the internet
only aws:SourceIp. Each AWS example names the page it comes from.
"""

from __future__ import annotations

import json
from datetime import UTC

import pytest

from lab.model.policy import DEFAULT_ENDPOINT_POLICY, MalformedPolicy, Request, Scope, decide, parse_policy
from lab.model.source import json_line
from lab.services.access import Access
from lab.services.authorize import ROOT, context
from lab.services.config import Ingress

VPCE = "vpce-1a2b3c4d"
VPC = "vpc-111bbb22"


def request(
    action: str = "s3:GetObject",
    resource: str = "arn:aws:s3:::awsexamplebucket1/k",
    *,
    vpce: str | None = VPCE,
    source_ip: str = "172.31.5.5",
    scheme: str = "https",
    principal: str | None = ROOT,
) -> Request:
    """A request through endpoint `vpce` (None: from the internet), as the front describes it."""
    ingress = Ingress(vpce or "internet", 1, 2, VPC if vpce else None)
    access = Access(0.0, "s3", ingress.name, ingress.vpce_id, source_ip, 40000, scheme, "GET", "host", "/")
    return Request(principal, action, resource, context(access, ingress, principal is not None, "ap-northeast-2"))


def internet(**kw) -> Request:
    return request(vpce=None, source_ip=kw.pop("source_ip", "203.0.113.7"), **kw)


def bucket_verdict(document: dict, req: Request) -> str | None:
    return decide(req, None, Scope("bucket policy of awsexamplebucket1", parse_policy(document, "test")))


# A bucket policy that lets anyone in: an anonymous request needs one (ACLs are disabled), so the
# endpoint policy's own verdict on anonymous requests is seen beside it.
PUBLIC_BUCKET = Scope(
    "bucket policy of public-bucket",
    parse_policy({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}, "test"),
)


def endpoint_verdict(document: dict, req: Request) -> str | None:
    bucket = PUBLIC_BUCKET if req.principal is None else None
    return decide(req, Scope(f"endpoint policy of {VPCE}", parse_policy(document, "test")), bucket)


def test_an_anonymous_request_needs_a_bucket_policy_that_allows_it():
    """S3 Object Ownership 'bucket owner enforced' (the default since April 2023) disables ACLs:
    only a bucket policy can grant an unsigned request anything (about-object-ownership.html)."""
    anonymous = request("s3:GetObject", "arn:aws:s3:::b/k", principal=None)
    assert decide(anonymous, None, None) == (
        "the bucket: no statement allows anonymous s3:GetObject on "
        "arn:aws:s3:::b/k (ACLs are disabled, so only a bucket policy can)"
    )
    assert decide(anonymous, None, PUBLIC_BUCKET) is None
    assert decide(request("s3:GetObject", "arn:aws:s3:::b/k"), None, None) is None  # the account's own caller


# https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-bucket-policies-vpc-endpoint.html
# "Restricting access to a specific VPC endpoint"
ONLY_VPCE = {
    "Version": "2012-10-17",
    "Id": "Policy1415115909152",
    "Statement": [
        {
            "Sid": "Access-to-specific-VPCE-only",
            "Principal": "*",
            "Action": "s3:*",
            "Effect": "Deny",
            "Resource": ["arn:aws:s3:::awsexamplebucket1", "arn:aws:s3:::awsexamplebucket1/*"],
            "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}},
        }
    ],
}


def test_bucket_policy_restricting_access_to_a_specific_vpc_endpoint():
    assert bucket_verdict(ONLY_VPCE, request()) is None
    assert (
        bucket_verdict(ONLY_VPCE, request(vpce="vpce-0ffffffffffffffff"))
        == "bucket policy of awsexamplebucket1: explicit Deny in statement 'Access-to-specific-VPCE-only'"
    )
    # from the internet aws:SourceVpce is absent, and a negated operator on an absent key matches:
    # "If the policy condition requires that the key is not matched ... and the right key is not
    # present, the condition is true" (reference_policies_elements_condition_operators.html)
    assert bucket_verdict(ONLY_VPCE, internet()) is not None
    assert bucket_verdict(ONLY_VPCE, request(resource="arn:aws:s3:::otherbucket/k", vpce=None)) is None


def test_bucket_policy_restricting_access_to_a_specific_vpc():
    # same page, "Restricting access to a specific VPC"
    only_vpc = {
        "Version": "2012-10-17",
        "Id": "Policy1415115909153",
        "Statement": [
            {
                "Sid": "Access-to-specific-VPC-only",
                "Principal": "*",
                "Action": "s3:*",
                "Effect": "Deny",
                "Resource": ["arn:aws:s3:::awsexamplebucket1", "arn:aws:s3:::awsexamplebucket1/*"],
                "Condition": {"StringNotEquals": {"aws:SourceVpc": "vpc-111bbb22"}},
            }
        ],
    }
    assert bucket_verdict(only_vpc, request()) is None
    assert bucket_verdict(only_vpc, request(vpce="vpce-0ffffffffffffffff")) is None  # another endpoint, same VPC
    assert bucket_verdict(only_vpc, internet(action="s3:ListBucket", resource="arn:aws:s3:::awsexamplebucket1"))


def test_bucket_policy_on_the_private_address_seen_through_an_endpoint():
    # https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-s3.html (bucket policies):
    # Deny unless aws:VpcSourceIp is in 172.31.0.0/16
    private_range = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
                "Resource": ["arn:aws:s3:::awsexamplebucket1", "arn:aws:s3:::awsexamplebucket1/*"],
                "Condition": {"NotIpAddress": {"aws:VpcSourceIp": "172.31.0.0/16"}},
            }
        ],
    }
    assert bucket_verdict(private_range, request(source_ip="172.31.5.5")) is None
    assert (
        bucket_verdict(private_range, request(source_ip="10.0.2.15"))
        == "bucket policy of awsexamplebucket1: explicit Deny in Statement[0]"
    )
    assert bucket_verdict(private_range, internet(source_ip="172.31.5.5"))  # no aws:VpcSourceIp at all


def test_aws_source_ip_never_matches_through_an_endpoint():
    # VPC User Guide, vpc-endpoints-s3.html, "Using Amazon S3 Bucket Policies": through an endpoint a
    # Deny with NotIpAddress aws:SourceIp always applies, a Deny with IpAddress never does
    def deny(operator: str) -> dict:
        return {
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": "*",
                    "Condition": {operator: {"aws:SourceIp": "203.0.113.0/24"}},
                }
            ]
        }

    assert bucket_verdict(deny("NotIpAddress"), request(source_ip="203.0.113.7")) is not None
    assert bucket_verdict(deny("IpAddress"), request(source_ip="203.0.113.7")) is None
    assert bucket_verdict(deny("IpAddress"), internet(source_ip="203.0.113.7")) is not None
    assert bucket_verdict(deny("NotIpAddress"), internet(source_ip="203.0.113.7")) is None


# VPC User Guide, vpc-endpoints-s3.html, "Restricting Access to a Specific Bucket" (endpoint policy)
ONE_BUCKET = {
    "Statement": [
        {
            "Sid": "Access-to-specific-bucket-only",
            "Principal": "*",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Effect": "Allow",
            "Resource": ["arn:aws:s3:::my_secure_bucket", "arn:aws:s3:::my_secure_bucket/*"],
        }
    ]
}


def test_endpoint_policy_allowing_one_bucket_must_allow_every_request_through_it():
    assert endpoint_verdict(ONE_BUCKET, request("s3:PutObject", "arn:aws:s3:::my_secure_bucket/a/b")) is None
    assert (
        endpoint_verdict(ONE_BUCKET, request("s3:GetObject", "arn:aws:s3:::other-bucket/k"))
        == f"endpoint policy of {VPCE}: no statement allows s3:GetObject on arn:aws:s3:::other-bucket/k"
    )
    assert endpoint_verdict(ONE_BUCKET, request("s3:ListBucket", "arn:aws:s3:::my_secure_bucket"))
    assert endpoint_verdict(ONE_BUCKET, request("s3:ListAllMyBuckets", "*"))


def test_the_default_endpoint_policy_allows_everything():
    # https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html ("Default endpoint policy")
    for action, resource in (
        ("s3:GetObject", "arn:aws:s3:::b/k"),
        ("s3:ListAllMyBuckets", "*"),
        ("s3:DeleteBucket", "arn:aws:s3:::b"),
    ):
        assert endpoint_verdict(DEFAULT_ENDPOINT_POLICY, request(action, resource)) is None
        assert endpoint_verdict(DEFAULT_ENDPOINT_POLICY, request(action, resource, principal=None)) is None


def test_an_explicit_deny_beats_any_allow():
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html
    both = {
        "Statement": [
            {"Sid": "All", "Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"},
            {"Sid": "NoDeletes", "Effect": "Deny", "Principal": "*", "Action": "s3:Delete*", "Resource": "*"},
        ]
    }
    assert (
        endpoint_verdict(both, request("s3:DeleteObject")) == f"endpoint policy of {VPCE}: explicit Deny in statement 'NoDeletes'"
    )
    assert endpoint_verdict(both, request("s3:GetObject")) is None
    # the endpoint allows everything, the bucket denies: denied, by the bucket policy
    verdict = decide(
        request(vpce="vpce-0ffffffffffffffff"),
        Scope("endpoint policy", parse_policy(DEFAULT_ENDPOINT_POLICY, "")),
        Scope("bucket policy of awsexamplebucket1", parse_policy(ONLY_VPCE, "")),
    )
    assert verdict.startswith("bucket policy of awsexamplebucket1: explicit Deny")


def test_a_bucket_policy_need_not_allow_the_accounts_own_caller():
    # reference_policies_evaluation-logic_policy-eval-basics.html: within one account an identity
    # policy OR a resource policy may allow; the lab's caller is the root user, who has full access
    only_reads = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "111122223333"},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::awsexamplebucket1/*",
            }
        ]
    }
    assert bucket_verdict(only_reads, internet(action="s3:PutObject")) is None


def test_not_action_and_not_resource():
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html
    deny_all_but_reads = {
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "NotAction": ["s3:GetObject", "s3:List*"],
                "NotResource": "arn:aws:s3:::scratch/*",
            }
        ]
    }
    assert bucket_verdict(deny_all_but_reads, request("s3:GetObject")) is None
    assert bucket_verdict(deny_all_but_reads, request("s3:ListBucket", "arn:aws:s3:::awsexamplebucket1")) is None
    assert bucket_verdict(deny_all_but_reads, request("s3:PutObject")) is not None
    assert bucket_verdict(deny_all_but_reads, request("s3:PutObject", "arn:aws:s3:::scratch/k")) is None


@pytest.mark.parametrize(
    "pattern, resource, matches",
    [
        ("arn:aws:s3:::lab-bucket/*", "arn:aws:s3:::lab-bucket/a/b/c.txt", True),  # * spans slashes
        ("arn:aws:s3:::lab-bucket/*", "arn:aws:s3:::lab-bucket", False),
        ("arn:aws:s3:::lab-bucket*", "arn:aws:s3:::lab-bucket", True),
        ("arn:aws:s3:::log?/x", "arn:aws:s3:::logs/x", True),
        ("arn:aws:s3:::log?/x", "arn:aws:s3:::log/x", False),
        ("arn:aws:s3:::Lab-Bucket/*", "arn:aws:s3:::lab-bucket/k", False),  # resources are case-sensitive
        ("arn:aws:s3:::a.b/*", "arn:aws:s3:::axb/k", False),  # only * and ? are wildcards
        ("*", "*", True),
    ],
)
def test_resource_wildcards(pattern, resource, matches):
    allow = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": pattern}]}
    assert (endpoint_verdict(allow, request(resource=resource)) is None) == matches


@pytest.mark.parametrize(
    "pattern, action, matches",
    [
        ("s3:GetObject", "s3:GetObject", True),
        ("s3:getobject", "s3:GetObject", True),  # "The prefix and the action name are case insensitive"
        ("S3:Get*", "s3:GetObjectVersion", True),
        ("s3:Get*", "s3:PutObject", False),
        ("s3:?etObject", "s3:GetObject", True),
        ("dynamodb:*", "s3:GetObject", False),
        ("*", "s3:ListAllMyBuckets", True),
    ],
)
def test_action_wildcards_ignore_case(pattern, action, matches):
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
    allow = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": pattern, "Resource": "*"}]}
    assert (endpoint_verdict(allow, request(action)) is None) == matches


def test_condition_keys_ignore_case_values_do_not():
    # the VPC User Guide's own example writes aws:sourceVpce; keys are case-insensitive
    lower = {
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:sourcevpce": VPCE}},
            }
        ]
    }
    assert bucket_verdict(lower, request()) is None
    upper_value = {"Statement": [{**lower["Statement"][0], "Condition": {"StringNotEquals": {"AWS:SOURCEVPCE": VPCE.upper()}}}]}
    assert bucket_verdict(upper_value, request()) is not None
    ignore_case = {
        "Statement": [{**lower["Statement"][0], "Condition": {"StringNotEqualsIgnoreCase": {"aws:SourceVpce": VPCE.upper()}}}]
    }
    assert bucket_verdict(ignore_case, request()) is None


def test_several_values_or_several_keys_and():
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html
    def deny(condition: dict) -> dict:
        return {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*", "Condition": condition}]}

    either = deny({"StringNotEquals": {"aws:SourceVpce": ["vpce-0ffffffffffffffff", VPCE]}})  # NOR of the values
    assert bucket_verdict(either, request()) is None
    assert bucket_verdict(either, request(vpce="vpce-0eeeeeeeeeeeeeeee")) is not None
    both = deny({"StringEquals": {"aws:SourceVpce": VPCE, "aws:SourceVpc": "vpc-0ffffffffffffffff"}})
    assert bucket_verdict(both, request()) is None  # the second key does not match: no deny


@pytest.mark.parametrize(
    "operator, through_endpoint, from_internet",
    [
        ("StringEquals", True, False),
        ("StringNotEquals", False, True),  # negated: an absent key matches
        ("StringEqualsIfExists", True, True),  # IfExists: an absent key matches
        ("StringNotEqualsIfExists", False, True),
        ("StringLike", True, False),
        ("StringNotLike", False, True),
        ("ForAnyValue:StringEquals", True, False),  # an absent key: ForAnyValue false, ForAllValues true
        ("ForAllValues:StringEquals", True, True),
    ],
)
def test_operators_on_a_key_absent_from_the_internet(operator, through_endpoint, from_internet):
    value = "vpce-1a2b*" if "Like" in operator else VPCE
    deny = {
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {operator: {"aws:SourceVpce": value}},
            }
        ]
    }
    assert (bucket_verdict(deny, request()) is not None, bucket_verdict(deny, internet()) is not None) == (
        through_endpoint,
        from_internet,
    )


def test_null_bool_and_arn_operators():
    def deny(condition: dict) -> dict:
        return {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*", "Condition": condition}]}

    not_via_endpoint = deny({"Null": {"aws:SourceVpce": "true"}})
    assert (bucket_verdict(not_via_endpoint, request()), bucket_verdict(not_via_endpoint, internet()) is not None) == (None, True)
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-bucket-policies.html (HTTPS only)
    insecure = deny({"Bool": {"aws:SecureTransport": False}})
    assert bucket_verdict(insecure, request(scheme="http")) is not None
    assert bucket_verdict(insecure, request(scheme="https")) is None
    # gateway endpoints name principals with aws:PrincipalArn (vpc-endpoints-access.html)
    other_account = deny({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:*"}})
    assert bucket_verdict(other_account, request()) is None
    assert bucket_verdict(other_account, request(principal=None)) is not None  # unsigned: no principal


def test_principals():
    def allow(principal) -> dict:
        return {"Statement": [{"Effect": "Allow", "Principal": principal, "Action": "*", "Resource": "*"}]}

    for principal in ("*", {"AWS": "*"}, {"AWS": "111122223333"}, {"AWS": [ROOT]}):
        assert endpoint_verdict(allow(principal), request()) is None, principal
    for principal in ({"AWS": "444455556666"}, {"AWS": "arn:aws:iam::111122223333:user/bob"}, {"Service": "ec2.amazonaws.com"}):
        assert endpoint_verdict(allow(principal), request()) is not None, principal
    assert endpoint_verdict(allow("*"), request(principal=None)) is None  # "*" includes anonymous
    assert endpoint_verdict(allow({"AWS": "*"}), request(principal=None)) is not None  # {"AWS": "*"} does not
    not_root = {"Statement": [{"Effect": "Deny", "NotPrincipal": {"AWS": ROOT}, "Action": "*", "Resource": "*"}]}
    assert (bucket_verdict(not_root, request()), bucket_verdict(not_root, request(principal=None)) is not None) == (None, True)


@pytest.mark.parametrize(
    "document, message",
    [
        ({"Version": "2012-10-17"}, "test: a policy is an object with a Statement"),
        ({"Statement": [], "Versoin": "x"}, "test: unknown field Versoin (a policy takes Version, Id, Statement)"),
        ({"Version": "2020-01-01", "Statement": []}, 'test.Version: expected one of 2012-10-17, 2008-10-17, got "2020-01-01"'),
        ({"Statement": [{"Effect": "allow"}]}, 'test.Statement[0].Effect: expected "Allow" or "Deny", got "allow"'),
        (
            {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
            "test.Statement[0]: a statement needs exactly one of Principal and NotPrincipal",
        ),
        (
            {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "GetObject", "Resource": "*"}]},
            "test.Statement[0]: action 'GetObject' needs a service prefix, as in s3:GetObject",
        ),
        (
            {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": [], "Resource": "*"}]},
            "test.Statement[0].Action: expected a string or a list of strings, got []",
        ),
        (
            {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "lab-bucket/*"}]},
            "test.Statement[0]: resource 'lab-bucket/*' is neither '*' nor an ARN (arn:aws:s3:::bucket/key)",
        ),
        (
            {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condtion": {}}]},
            "test.Statement[0]: unknown field Condtion (a statement takes Sid, Effect, Principal, NotPrincipal, "
            "Action, NotAction, Resource, NotResource, Condition)",
        ),
        (
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "*",
                        "Resource": "*",
                        "Condition": {"StringEqual": {"aws:SourceVpce": VPCE}},
                    }
                ]
            },
            "test.Statement[0].Condition.StringEqual: vpclab does not evaluate the condition operator 'StringEqual' "
            "(it knows StringEquals, StringNotEquals, StringEqualsIgnoreCase, StringNotEqualsIgnoreCase, StringLike, "
            "StringNotLike, IpAddress, NotIpAddress, ArnEquals, ArnLike, ArnNotEquals, ArnNotLike, Bool, Null, "
            "...IfExists, ForAnyValue:, ForAllValues:)",
        ),
        (
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "*",
                        "Resource": "*",
                        "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/33"}},
                    }
                ]
            },
            "test.Statement[0].Condition.IpAddress.aws:SourceIp: '10.0.0.0/33' is not an IP address or CIDR block",
        ),
    ],
)
def test_malformed_policies_say_where(document, message):
    with pytest.raises(MalformedPolicy) as e:
        parse_policy(document, "test")
    assert str(e.value) == message


def test_a_malformed_policy_is_located_in_its_json_text():
    text = (
        '{\n "Version": "2012-10-17",\n "Statement": [\n'
        '  {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},\n'
        '  {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*",\n'
        '   "Condition": {\n    "IpAddress": {"aws:SourceIp": "10.0.0.0/33"}}}\n ]\n}\n'
    )
    with pytest.raises(MalformedPolicy) as e:
        parse_policy(json.loads(text), "policy")
    assert e.value.path == ("Statement", 1, "Condition", "IpAddress", "aws:SourceIp")
    assert json_line(text, e.value.path) == 7
    assert json_line(text, ("Statement", 1, "Effect")) == 5
    assert json_line(text, ("Statement", 9)) == 3  # no such statement: the deepest part that exists
    assert json_line("[not, {json", ("Statement",)) == 1


def test_a_lone_statement_object_is_located_too():
    text = '{\n "Version": "2012-10-17",\n "Statement": {\n  "Principal": "*",\n  "Effect": "allow"\n }\n}\n'
    with pytest.raises(MalformedPolicy) as e:
        parse_policy(json.loads(text), "policy")
    assert json_line(text, e.value.path) == 5


def test_a_condition_key_the_fronts_do_not_fill_is_refused_and_absent_ones_are_not():
    """A Deny on a key the fronts never fill would never apply where AWS applies it."""
    from lab.model.policy import MalformedPolicy, parse_policy

    def with_key(key: str) -> dict:
        return {
            "Statement": [
                {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {key: "x"}}}
            ]
        }

    with pytest.raises(MalformedPolicy) as refused:
        parse_policy(with_key("dynamodb:LeadingKeys"), "policy")
    assert refused.value.code == "vpclab.ConditionKeyNotEmulated" and "dynamodb:LeadingKeys" in str(refused.value)
    for key in (
        "aws:SourceVpce",
        "s3:prefix",
        "s3:RequestObjectTag/env",
        "aws:PrincipalOrgID",
        "aws:PrincipalTag/team",
        "AWS:CurrentTime",
    ):
        parse_policy(with_key(key), "policy")


def test_the_always_present_global_keys_are_filled():
    from datetime import datetime

    from lab.model.s3_requests import request_context

    when = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)
    keys = request_context(True, True, "10.0.2.4", "vpce-0a1b2c3d4e5f60718", "vpc-0a1b2c3d4e5f60718", when)
    assert (keys["aws:currenttime"], keys["aws:epochtime"], keys["aws:principaltype"], keys["aws:userid"]) == (
        "2026-12-06T15:00:00Z",
        str(int(when.timestamp())),
        "Account",
        "111122223333",
    )
    anonymous = request_context(False, False, "203.0.113.9", None, None, when)
    assert (anonymous["aws:principaltype"], anonymous["aws:userid"], "aws:principalarn" in anonymous) == (
        "Anonymous",
        "anonymous",
        False,
    )
