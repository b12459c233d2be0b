"""The condition keys vpclab's policies may test: those the service fronts fill for every request,
and those AWS itself leaves out of this lab's requests. A policy that tests any other key is refused
when the topology loads: the fronts would judge it as if the key were absent, so a Deny on it would
never apply where AWS applies it.

Global keys: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html;
S3's: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html#amazons3-policy-keys.
The lab's caller is the account's root user with a long-term access key, or anonymous, calling
directly: no organization, no session, no MFA, no tags, no service calling on its behalf, so the
keys about those are absent in AWS too.
"""

from __future__ import annotations

from lab.model.s3_requests import HEADER_KEYS, LIST_KEYS

FILLED_GLOBAL = frozenset(
    {
        "aws:sourcevpce",
        "aws:sourcevpc",
        "aws:vpcsourceip",
        "aws:sourceip",
        "aws:securetransport",
        "aws:principalarn",
        "aws:principalaccount",
        "aws:principaltype",
        "aws:userid",
        "aws:useragent",
        "aws:referer",
        "aws:requestedregion",
        "aws:resourceaccount",
        "aws:currenttime",
        "aws:epochtime",
        "aws:viaawsservice",
        "aws:principalisawsservice",
    }
)
FILLED_S3 = frozenset(
    {f"s3:{h}" for h in HEADER_KEYS}
    | {f"s3:{p}" for keys in LIST_KEYS.values() for p in keys}
    | {"s3:versionid", "s3:authtype", "s3:signatureversion", "s3:resourceaccount"}
)
FILLED_PREFIXES = ("s3:requestobjecttag/", "s3:existingobjecttag/")
ABSENT_FOR_THE_LAB = frozenset(
    {
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principalservicename",
        "aws:principalservicenameslist",
        "aws:multifactorauthpresent",
        "aws:multifactorauthage",
        "aws:tokenissuetime",
        "aws:username",
        "aws:federatedprovider",
        "aws:sourceidentity",
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:sourceorgid",
        "aws:sourceorgpaths",
        "aws:calledvia",
        "aws:calledviafirst",
        "aws:calledvialast",
        "aws:ec2instancesourcevpc",
        "aws:ec2instancesourceprivateipv4",
        "aws:assumedroot",
    }
)
ABSENT_PREFIXES = ("aws:principaltag/",)


def key_problem(key: str) -> str | None:
    """Why a policy may not test `key` (any case), or None."""
    lowered = key.lower()
    if lowered in FILLED_GLOBAL | FILLED_S3 | ABSENT_FOR_THE_LAB or lowered.startswith(FILLED_PREFIXES + ABSENT_PREFIXES):
        return None
    return (
        f"vpclab's service fronts do not fill the condition key {key}, so a statement testing it would be "
        "judged as if the key were absent, where AWS may fill it; test one of the keys listed in "
        'docs/topology-format.md ("Policies")'
    )
