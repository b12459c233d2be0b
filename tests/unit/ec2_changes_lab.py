"""A lab as the EC2 API's controller holds it, for the unit tests of lab.plan.ec2_changes: a
topology and its running plan, changed call by call and recompiled keeping what the running plan
holds (lab.plan.kept), each answer checked to be what botocore reads back from the EC2 front."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.parsers import create_parser

from lab.model.ec2_errors import Ec2Error
from lab.model.ids import ACCOUNT_ID
from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.plan.ec2_changes import change
from lab.plan.kept import Kept
from lab.services.ec2_query import model
from lab.services.ec2_xml import response

REPO = Path(__file__).resolve().parents[2]
REGION = "ap-northeast-2"


class Lab:
    """A topology and its running plan; `call` changes both as the controller would."""

    def __init__(self, name: str):
        self.topology = load_topology(REPO / "topologies" / name)
        self.plan = compile_plan(self.topology)

    def call(self, action: str, params: dict, account: str = ACCOUNT_ID, region: str = REGION) -> dict:
        changed, answer = change(self.topology, self.plan, action, params, region, account)
        self.plan = compile_plan(changed, self.plan.settings, Kept.of(self.plan))
        self.topology = changed
        assert read_back(action, answer) == answer
        return answer

    def refused(self, action: str, params: dict, account: str = ACCOUNT_ID) -> Ec2Error:
        with pytest.raises(Ec2Error) as caught:
            change(self.topology, self.plan, action, params, REGION, account)
        return caught.value

    def rtb(self, vpc: str, table: str | None) -> str:
        return self.plan.route_table(vpc, table).aws_id


def read_back(action: str, answer: dict) -> dict:
    """The answer as botocore reads it from the EC2 front's XML."""
    shape = model().operation_model(action).output_shape
    if shape is None:
        assert answer == {}
        return answer
    parsed = create_parser("ec2").parse({"body": response(action, answer, "r"), "headers": {}, "status_code": 200}, shape)
    parsed.pop("ResponseMetadata")
    return parsed
