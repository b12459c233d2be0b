"""Everything region-specific that the lab uses, in one place, with where each fact comes from.

Sources (see ../shared/reference/aws-behaviour.md for the full notes):
- IPR: AWS ip-ranges.json, syncToken 1787433425 (2026-08-22), https://ip-ranges.amazonaws.com/ip-ranges.json
  (S3, DYNAMODB and EC2 entries; EC2 ranges give the lab's public and Elastic IPs).
- PL: prefix-list ids as seen in `aws ec2 describe-prefix-lists` output. us-east-1 S3 pl-63a5400a is
  AWS's own CLI example; the others come from public deployments (not AWS-authored). AWS publishes
  no id for ap-northeast-2 DynamoDB: vpclab uses a lab-made id, marked below.
- Names: https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html (S3 endpoints,
  including the legacy global s3.amazonaws.com that boto3 still uses in us-east-1),
  https://docs.aws.amazon.com/general/latest/gr/ddb.html (dynamodb.<region>.amazonaws.com),
  https://docs.aws.amazon.com/general/latest/gr/sqs-service.html (sqs.<region>.amazonaws.com, and
  the legacy <region>.queue.amazonaws.com that the AWS CLI v1 still sends to),
  https://docs.aws.amazon.com/general/latest/gr/sts.html (sts.<region>.amazonaws.com; the global
  sts.amazonaws.com is served in us-east-1) and
  https://docs.aws.amazon.com/general/latest/gr/asm.html (secretsmanager.<region>.amazonaws.com),
  https://docs.aws.amazon.com/general/latest/gr/kms.html (kms.<region>.amazonaws.com).
- LAB: SQS, STS, Secrets Manager, KMS and the EC2 API have no entries of their own in ip-ranges.json
  (their endpoints sit in the AMAZON ranges; the EC2 entries are the ranges of instances' public
  and Elastic IPs, not of the API) and no prefix list. The lab gives each a /28 of its own, carved by
  the lab out of one AMAZON range of the region (IPR: 43.249.45.0/24 in ap-northeast-2, 52.95.208.0/22
  in us-east-1, neither an EC2, S3 or DYNAMODB range): real AWS addresses of the right region and
  owner, but which of them AWS gives each service is the lab's choice, not AWS's. The EC2 API's
  names: https://docs.aws.amazon.com/general/latest/gr/ec2-service.html (ec2.<region>.amazonaws.com).
The prefix list's entries are taken to be the service's ip-ranges entries for the region; AWS's real
lists may aggregate differently (aws-behaviour.md section 10), which does not change any lesson.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

Net = ipaddress.IPv4Network

GATEWAY_SERVICES = ("s3", "dynamodb")  # the only services with gateway endpoints (PL gateway-endpoints)
# Interface-only services the lab serves (moto behind a front each, lab.services.catalog).
INTERFACE_SERVICES_EMULATED = ("sqs", "sts", "secretsmanager", "kms")
# Services answered by the lab's controller, not moto: the EC2 API describes and changes the running
# lab itself (lab.services.ec2_front); reached like the others, from the internet or an endpoint.
CONTROLLER_SERVICES = ("ec2",)
# AWS services reached through interface endpoints only: a selection of "AWS services that integrate
# with AWS PrivateLink" (https://docs.aws.amazon.com/vpc/latest/privatelink/aws-services-privatelink-support.html).
# A gateway endpoint to one of them is AWS's type mismatch (InvalidParameter); to a name AWS has no
# endpoint service for at all, InvalidServiceName.
INTERFACE_ONLY_AWS_SERVICES = frozenset(
    {
        "account",
        "apigateway",
        "athena",
        "cloudformation",
        "ec2",
        "ec2messages",
        "ecr.api",
        "ecr.dkr",
        "ecs",
        "elasticloadbalancing",
        "events",
        "execute-api",
        "glue",
        "kinesis-firehose",
        "kinesis-streams",
        "kms",
        "lambda",
        "logs",
        "monitoring",
        "rds",
        "secretsmanager",
        "sns",
        "sqs",
        "ssm",
        "ssmmessages",
        "sts",
    }
)


@dataclass(frozen=True)
class RegionalService:
    """An AWS service as it appears in one region: its public ranges, prefix list and names."""

    service: str
    region: str
    ranges: tuple[Net, ...]
    prefix_list_id: str | None  # None: AWS manages no prefix list for the service (interface-only ones)
    hostnames: tuple[str, ...]  # names that resolve to the service's public addresses; '*.' = any label
    # of those, the names an interface endpoint's private DNS does not take over (SQS's legacy names)
    public_only: tuple[str, ...] = ()

    @property
    def prefix_list_name(self) -> str:
        return service_name(self.region, self.service)

    @property
    def service_name(self) -> str:
        return service_name(self.region, self.service)

    @property
    def addresses(self) -> tuple[ipaddress.IPv4Address, ...]:
        """The public addresses the lab's service front answers on: one host in each of the first two ranges."""
        return tuple(net.network_address + 10 for net in self.ranges[:2])

    @property
    def has_gateway_endpoint(self) -> bool:
        return self.service in GATEWAY_SERVICES

    def covers(self, address: ipaddress.IPv4Address) -> bool:
        return any(address in net for net in self.ranges)


@dataclass(frozen=True)
class Region:
    name: str
    azs: tuple[str, ...]  # zone letters offered; AZ names are the region name plus the letter
    ec2_ranges: tuple[Net, ...]  # where the lab draws public IPs and Elastic IPs from (IPR, EC2)
    services: dict[str, RegionalService]


def service_name(region: str, service: str) -> str:
    """The endpoint service name, as in `aws ec2 create-vpc-endpoint --service-name`, and the
    name of the service's prefix list: the one place the lab spells it (lab.plan.names exports it)."""
    return f"com.amazonaws.{region}.{service}"


def _nets(*cidrs: str) -> tuple[Net, ...]:
    return tuple(ipaddress.IPv4Network(c) for c in cidrs)


def _interface_services(region: str, carve_from: str) -> dict[str, RegionalService]:
    """The interface-only services the lab emulates (lab.services.catalog), each on a /28 of its own
    carved out of `carve_from`, an AMAZON range of the region (LAB above), named as AWS names them."""
    cut = ipaddress.IPv4Network(carve_from).subnets(new_prefix=28)
    found = {}
    for service in INTERFACE_SERVICES_EMULATED + CONTROLLER_SERVICES:
        names: tuple[str, ...] = (f"{service}.{region}.amazonaws.com",)
        if service == "sts" and region == "us-east-1":
            names += ("sts.amazonaws.com",)  # STS's global endpoint, served in us-east-1
        legacy: tuple[str, ...] = ()
        if service == "sqs":  # the legacy names, which the AWS CLI v1 still uses; private DNS takes only
            # sqs.<region>.amazonaws.com (sqs-internetwork-traffic-privacy.html: "enable private DNS and
            # specify endpoints in the format sqs.us-east-2.amazonaws.com")
            legacy = (f"{region}.queue.amazonaws.com",) + (("queue.amazonaws.com",) if region == "us-east-1" else ())
        found[service] = RegionalService(service, region, (next(cut),), None, names + legacy, legacy)
    return found


def _s3_names(region: str, legacy_global: bool) -> tuple[str, ...]:
    names = (
        f"s3.{region}.amazonaws.com",
        f"*.s3.{region}.amazonaws.com",
        f"s3.dualstack.{region}.amazonaws.com",
        f"*.s3.dualstack.{region}.amazonaws.com",
    )
    return names + (("s3.amazonaws.com", "*.s3.amazonaws.com") if legacy_global else ())


REGIONS: dict[str, Region] = {
    "ap-northeast-2": Region(
        name="ap-northeast-2",
        azs=("a", "b", "c", "d"),
        ec2_ranges=_nets("13.124.0.0/16", "13.125.0.0/16"),
        services={
            "s3": RegionalService(
                "s3",
                "ap-northeast-2",
                _nets(
                    "52.219.60.0/23",
                    "3.5.140.0/22",
                    "52.219.204.0/22",
                    "52.219.148.0/23",
                    "3.5.184.0/21",
                    "52.219.202.0/23",
                    "3.5.144.0/23",
                    "52.219.56.0/22",
                    "52.219.144.0/22",
                    "1.178.91.0/24",
                    "3.2.75.0/24",
                    "3.36.167.64/28",
                    "3.36.167.80/28",
                ),
                "pl-78a54011",
                _s3_names("ap-northeast-2", legacy_global=False),
            ),
            "dynamodb": RegionalService(
                "dynamodb",
                "ap-northeast-2",
                _nets("52.94.6.0/24", "35.71.109.0/24"),
                "pl-0d2e4a7b",  # lab-made: no published id for this region
                ("dynamodb.ap-northeast-2.amazonaws.com",),
            ),
            **_interface_services("ap-northeast-2", "43.249.45.0/24"),
        },
    ),
    "us-east-1": Region(
        name="us-east-1",
        azs=("a", "b", "c", "d", "e", "f"),
        ec2_ranges=_nets("23.20.0.0/14"),
        services={
            "s3": RegionalService(
                "s3",
                "us-east-1",
                _nets("52.216.0.0/15", "54.231.0.0/16", "3.5.0.0/19", "16.182.0.0/16", "18.34.0.0/19", "16.15.192.0/18"),
                "pl-63a5400a",
                _s3_names("us-east-1", legacy_global=True),
            ),
            "dynamodb": RegionalService(
                "dynamodb",
                "us-east-1",
                _nets("52.94.0.0/22", "3.218.180.0/22", "52.119.224.0/21", "52.119.232.0/21"),
                "pl-02cd2c6b",
                ("dynamodb.us-east-1.amazonaws.com",),
            ),
            **_interface_services("us-east-1", "52.95.208.0/22"),
        },
    ),
}


def region(name: str) -> Region:
    return REGIONS[name]


def emulated_services() -> tuple[str, ...]:
    """Every service the lab serves, gateway ones first, in one order for every region."""
    return GATEWAY_SERVICES + INTERFACE_SERVICES_EMULATED + CONTROLLER_SERVICES


def moto_services() -> tuple[str, ...]:
    """The services whose front has moto behind it (every one but the controller's)."""
    return GATEWAY_SERVICES + INTERFACE_SERVICES_EMULATED


def all_services() -> list[RegionalService]:
    return [svc for reg in REGIONS.values() for svc in reg.services.values()]


def parse_service_name(name: str, default_region: str) -> tuple[str, str] | None:
    """'s3' or 'com.amazonaws.<region>.s3' -> (region, service); None if it is neither form. A
    service's own name may hold dots (ecr.api): short, it must then be one AWS knows."""
    parts = name.split(".")
    if len(parts) == 1 or name in INTERFACE_ONLY_AWS_SERVICES:
        return default_region, name
    if len(parts) >= 4 and parts[:2] == ["com", "amazonaws"]:
        return parts[2], ".".join(parts[3:])
    return None


def service_for_address(address: ipaddress.IPv4Address) -> RegionalService | None:
    """The regional service whose published ranges hold `address`, if any."""
    return next((svc for svc in all_services() if svc.covers(address)), None)


def service_for_prefix_list(pl_id: str) -> RegionalService | None:
    return next((svc for svc in all_services() if svc.prefix_list_id == pl_id), None)


def hostname_matches(pattern: str, name: str) -> bool:
    """DNS wildcard match: '*.' stands for exactly one or more leading labels, as in a zone's wildcard."""
    name = name.lower().rstrip(".")
    if pattern.startswith("*."):
        return name.endswith(pattern[1:]) and len(name) > len(pattern) - 1
    return name == pattern


def service_for_hostname(name: str) -> RegionalService | None:
    return next((svc for svc in all_services() if any(hostname_matches(p, name) for p in svc.hostnames)), None)
