"""VPC Flow Logs' record fields and formats: which fields exist, in which version, and how a record
is written as AWS writes it (space-separated, `-` where a field does not apply).

Fields and versions: https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html
("Available fields"); `version` is the highest version among the fields a format names. The
v4 sublocation fields (Local Zones, Wavelength, Outposts) and the v7+ ECS fields have no lab
counterpart: they are accepted in a format and always written `-`, as AWS writes them for an ENI
outside those places and outside ECS.
"""

from __future__ import annotations

import re

from lab.errors import BadArgument

FIELDS = {
    **dict.fromkeys(
        (
            "version",
            "account-id",
            "interface-id",
            "srcaddr",
            "dstaddr",
            "srcport",
            "dstport",
            "protocol",
            "packets",
            "bytes",
            "start",
            "end",
            "action",
            "log-status",
        ),
        2,
    ),
    **dict.fromkeys(("vpc-id", "subnet-id", "instance-id", "tcp-flags", "type", "pkt-srcaddr", "pkt-dstaddr"), 3),
    **dict.fromkeys(("region", "az-id", "sublocation-type", "sublocation-id"), 4),
    **dict.fromkeys(("pkt-src-aws-service", "pkt-dst-aws-service", "flow-direction", "traffic-path"), 5),
    **dict.fromkeys(
        (
            "ecs-cluster-arn",
            "ecs-cluster-name",
            "ecs-container-instance-arn",
            "ecs-container-instance-id",
            "ecs-container-id",
            "ecs-second-container-id",
            "ecs-service-name",
            "ecs-task-definition-arn",
            "ecs-task-arn",
            "ecs-task-id",
        ),
        7,
    ),
}
DEFAULT_FORMAT = " ".join(f"${{{name}}}" for name, version in FIELDS.items() if version == 2)
FIELD_REF = re.compile(r"\$\{([a-z0-9-]+)\}")

# Region code -> the short form AWS AZ ids start with (use1-az1, apne2-az1): the region's parts,
# the direction words shortened to their initials.
DIRECTIONS = {
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "central": "c",
}


def parse_format(text: str) -> list[str]:
    """`${field} ${field} ...` -> the field names, in order; an unknown field or stray text is an
    error, as CreateFlowLogs answers (InvalidParameter)."""
    names = FIELD_REF.findall(text)
    leftover = FIELD_REF.sub("", text).strip()
    if leftover or not names:
        raise BadArgument(
            f"InvalidParameter: flow log format {text!r}: write fields as ${{field}} separated by spaces, e.g. {DEFAULT_FORMAT!r}"
        )
    unknown = [n for n in names if n not in FIELDS]
    if unknown:
        raise BadArgument(
            f"InvalidParameter: flow log format: unknown field {', '.join(unknown)} "
            f"(fields: {', '.join(FIELDS)}; see https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html)"
        )
    return names


def format_version(names: list[str]) -> int:
    """AWS: 'the version is the highest version among the fields' a custom format names."""
    return max(FIELDS[n] for n in names)


def az_id(az: str | None) -> str:
    """A lab-made AZ id for an AZ name: apne2-az1 for ap-northeast-2a. AWS maps AZ names to AZ ids
    per account (https://docs.aws.amazon.com/ram/latest/userguide/working-with-az-ids.html), so a
    real account may see ap-northeast-2a as apne2-az3; the lab maps the letter's rank, always."""
    if not az or not az[-1].isalpha():
        return "-"
    region, letter = az[:-1], az[-1]
    parts = region.split("-")
    if len(parts) < 3:
        return "-"
    middle = "".join(DIRECTIONS.get(p, p[:1]) for p in parts[1:-1])
    return f"{parts[0]}{middle}{parts[-1]}-az{ord(letter) - ord('a') + 1}"
