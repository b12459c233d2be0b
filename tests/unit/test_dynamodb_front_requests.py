"""What moto runs is what the DynamoDB front authorized: the X-Amz-Target operation and no other, the
table a PartiQL statement names as moto's own engine reads it, every table a call names (by name or
ARN, as source, target or backup) in the lab's account, and a body moto cannot take answered in
DynamoDB's words instead of moto's traceback. Over the real moto app; each test reads moto's tables.

Resources per operation: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/api-permissions-reference.html,
restores: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/backuprestore_IAM.html.
"""

from __future__ import annotations

import json

import pytest
from moto.dynamodb.models import dynamodb_backends

from dynamodb_calls import kind, send
from fronts import REGION, dynamodb_fronts, stored_items
from lab.model.ids import ACCOUNT_ID
from lab.model.policy import parse_policy
from lab.services.dynamodb_call import service_model
from lab.services.dynamodb_partiql import moto_tables
from lab.services.dynamodb_tables import NO_RESOURCE, STATEMENTS, TABLE_SHAPES, named, resource_shapes

ITEM = {"id": {"S": "o-1"}, "total": {"N": "42"}}
SECRET = {"id": {"S": "s-1"}, "v": {"S": "TOP SECRET"}}
SECRET_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/secret"


def tables() -> set[str]:
    return set(dynamodb_backends[ACCOUNT_ID][REGION].tables)


def with_secret(fronts):
    """Table secret created and filled over the internet ingress, and an item in orders."""
    assert (
        send(
            fronts.internet,
            "CreateTable",
            {
                "TableName": "secret",
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST",
            },
        )[0]
        == 200
    )
    assert send(fronts.internet, "PutItem", {"TableName": "secret", "Item": SECRET})[0] == 200
    assert send(fronts.internet, "PutItem", {"TableName": "orders", "Item": ITEM})[0] == 200
    return fronts


def policy(*statements: dict):
    return parse_policy({"Version": "2012-10-17", "Statement": [{"Principal": "*", **s} for s in statements]}, "t")


@pytest.fixture
def read_only(tmp_path):
    """ddb-gw's read-only endpoint policy on orders (policies/orders-read-only.json)."""
    return with_secret(dynamodb_fronts(tmp_path))


@pytest.fixture
def all_but_secret(tmp_path):
    """An endpoint policy allowing everything but a Deny on table secret and its backups, indexes, streams."""
    return with_secret(
        dynamodb_fronts(
            tmp_path,
            policy(
                {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "dynamodb:*", "Resource": [SECRET_ARN, f"{SECRET_ARN}/*"]},
            ),
        )
    )


@pytest.fixture
def partiql_orders(tmp_path):
    """An endpoint policy allowing PartiQL on orders only."""
    return with_secret(
        dynamodb_fronts(
            tmp_path,
            policy(
                {
                    "Effect": "Allow",
                    "Action": "dynamodb:PartiQL*",
                    "Resource": f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/orders",
                }
            ),
        )
    )


@pytest.mark.parametrize(
    "operation, body",
    [
        (
            "GetItem",
            {"TableName": "orders", "Key": {"id": {"S": "o-1"}}, "Item": {"id": {"S": "pwned"}}, "x": "&Action=PutItem&"},
        ),
        ("DescribeTable", {"TableName": "orders", "x": "&Action=DeleteTable&"}),
        ("DescribeTable", {"TableName": "orders", "Action": "DeleteTable"}),
    ],
)
def test_an_action_in_the_body_does_not_replace_the_target_operation(read_only, operation, body):
    assert send(read_only.endpoint, operation, body)[0] == 200
    assert stored_items("orders") == [ITEM] and "orders" in tables()


def test_an_attribute_value_holding_an_action_is_stored_as_data(read_only):
    item = {"id": {"S": "&Action=DeleteTable&"}}
    assert send(read_only.internet, "PutItem", {"TableName": "orders", "Item": item})[0] == 200
    assert sorted(map(json.dumps, stored_items("orders"))) == sorted(map(json.dumps, [ITEM, item]))


def test_a_query_string_or_a_form_body_cannot_name_the_operation(read_only):
    assert send(read_only.endpoint, "DescribeTable", {"TableName": "orders"}, query="Action=DeleteTable")[0] == 200
    form = send(
        read_only.endpoint,
        "DescribeTable",
        b"Action=DeleteTable&TableName=orders",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert kind(form) == (400, "SerializationException")
    assert "orders" in tables()


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT v, id\tFROM\torders FROM secret",
        "SELECT * FROM orders FROM secret",
        "SELECT * /* FROM secret */ FROM orders",
        'DELETE FROM orders"secret"',
        "DELETE FROM orders'secret'",
    ],
)
def test_a_statement_moto_would_read_as_another_table_is_refused(partiql_orders, statement):
    answer = send(partiql_orders.endpoint, "ExecuteStatement", {"Statement": statement})
    assert answer == (
        400,
        {
            "__type": "com.amazon.coral.validate#ValidationException",
            "message": "Statement wasn't well formed, can't be processed",
        },
    )
    assert stored_items("secret") == [SECRET]


def test_the_same_statements_in_a_batch_or_a_transaction_are_refused(partiql_orders):
    for op, member in (("BatchExecuteStatement", "Statements"), ("ExecuteTransaction", "TransactStatements")):
        body = {member: [{"Statement": "SELECT * FROM orders WHERE id = 'o-1'"}, {"Statement": 'DELETE FROM orders"secret"'}]}
        assert kind(send(partiql_orders.endpoint, op, body)) == (400, "ValidationException")
    assert stored_items("secret") == [SECRET]


def test_statements_both_readers_agree_on_are_served_and_denied_by_the_policy(partiql_orders):
    got = send(partiql_orders.endpoint, "ExecuteStatement", {"Statement": "SELECT * FROM orders"})
    assert got == (200, {"Items": [ITEM]})
    denied = send(partiql_orders.endpoint, "ExecuteStatement", {"Statement": 'SELECT * FROM "secret"'})
    assert kind(denied) == (400, "AccessDeniedException")
    # moto cannot run an unquoted number, but the policy answers first, as DynamoDB's would
    assert kind(send(partiql_orders.endpoint, "ExecuteStatement", {"Statement": "UPDATE secret SET v = 0 WHERE id = 's-1'"})) == (
        400,
        "AccessDeniedException",
    )


@pytest.mark.parametrize(
    "statement, tables_read",
    [
        ("SELECT * FROM orders", {"orders"}),
        ("SELECT * FROM \"orders\" WHERE id = '1'", {"orders"}),
        ("SELECT v\tFROM\torders FROM secret", {"secret"}),
        ('DELETE FROM orders"secret"', {"secret"}),
        ("INSERT INTO orders VALUE {'id': 'x'}", {"orders"}),
        ("UPDATE orders SET a = 'b' WHERE id = '1'", {"orders"}),
        ("SELECT * FROM orders.by_total", {"orders.by_total"}),
    ],
)
def test_moto_tables_is_what_motos_engine_reads(statement, tables_read):
    assert moto_tables(statement, []) == tables_read


@pytest.mark.parametrize(
    "table, expected",
    [
        (SECRET_ARN, "AccessDeniedException"),
        ("arn:aws:dynamodb:ap-northeast-2:123456789012:table/secret", "ResourceNotFoundException"),  # moto's old account
        (f"arn:aws:dynamodb:us-east-1:{ACCOUNT_ID}:table/secret", "ValidationException"),
        (f"{SECRET_ARN}/index/by-v", "ValidationException"),
        (f"{SECRET_ARN}/stream/2026", "ValidationException"),
        ("arn:aws:dynamodb:ap-northeast-2:111122223333:table/orders/../secret", "ValidationException"),
    ],
)
def test_a_table_arn_is_the_lab_accounts_table_in_this_region(all_but_secret, table, expected):
    answer = send(all_but_secret.endpoint, "GetItem", {"TableName": table, "Key": {"id": {"S": "s-1"}}})
    assert kind(answer) == (400, expected) and "Item" not in answer[1]


def test_an_arn_in_the_region_names_the_table_moto_serves(all_but_secret):
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/orders"
    assert send(all_but_secret.endpoint, "GetItem", {"TableName": arn, "Key": {"id": {"S": "o-1"}}}) == (200, {"Item": ITEM})
    batch = send(all_but_secret.endpoint, "BatchGetItem", {"RequestItems": {SECRET_ARN: {"Keys": [{"id": {"S": "s-1"}}]}}})
    assert kind(batch) == (400, "AccessDeniedException")
    described = send(all_but_secret.internet, "DescribeTable", {"TableName": "orders"})[1]["Table"]
    assert described["TableArn"] == arn  # moto serves the lab's account


@pytest.mark.parametrize(
    "operation, body",
    [
        ("RestoreTableToPointInTime", {"SourceTableName": "secret", "TargetTableName": "loot", "UseLatestRestorableTime": True}),
        ("RestoreTableToPointInTime", {"SourceTableArn": SECRET_ARN, "TargetTableName": "loot", "UseLatestRestorableTime": True}),
        ("RestoreTableToPointInTime", {"SourceTableName": "orders", "TargetTableName": "secret"}),  # write on the target
        ("CreateBackup", {"TableName": "secret", "BackupName": "bkp"}),
        (
            "UpdateContinuousBackups",
            {"TableName": "secret", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}},
        ),
        ("TagResource", {"ResourceArn": SECRET_ARN, "Tags": [{"Key": "k", "Value": "v"}]}),
        ("DeleteBackup", {"BackupArn": f"{SECRET_ARN}/backup/01700000000000-abcdefgh"}),
        ("TransactWriteItems", {"TransactItems": [{"Delete": {"TableName": SECRET_ARN, "Key": {"id": {"S": "s-1"}}}}]}),
    ],
)
def test_every_member_that_names_a_table_is_authorized(all_but_secret, operation, body):
    assert (
        kind(
            send(
                all_but_secret.internet,
                "UpdateContinuousBackups",
                {"TableName": "secret", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}},
            )
        )[0]
        == 200
    )
    assert kind(send(all_but_secret.endpoint, operation, body)) == (400, "AccessDeniedException")
    assert tables() == {"orders", "secret"} and stored_items("secret") == [SECRET]


def test_resource_star_is_for_calls_that_name_no_table_only(all_but_secret):
    listed = send(all_but_secret.endpoint, "ListTables", {})
    assert listed == (200, {"TableNames": ["orders", "secret"]})
    assert all_but_secret.logged()[-1]["action"] == "dynamodb:ListTables"
    nameless = send(all_but_secret.endpoint, "RestoreTableToPointInTime", {"TargetTableName": "loot"})
    assert kind(nameless) == (400, "ValidationException") and tables() == {"orders", "secret"}


@pytest.mark.parametrize(
    "operation, body, expected, message",
    [
        ("PutItem", {"TableName": "orders", "Item": "notadict"}, "SerializationException", "Unexpected field type"),
        (
            "PutItem",
            {"TableName": "orders", "Item": {"id": ["x"]}},
            "SerializationException",
            "Start of list found where not expected",
        ),
        ("PutItem", {"TableName": 7, "Item": {}}, "SerializationException", "NUMBER_VALUE can not be converted to String"),
        (
            "PutItem",
            {"TableName": "orders", "Item": {"id": {}}},
            "ValidationException",
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
        ),
        (
            "PutItem",
            {"Item": {"id": {"S": "x"}}},
            "ValidationException",
            "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null",
        ),
        (
            "Scan",
            {"TableName": "orders", "Limit": 0, "Select": "SOME"},
            "ValidationException",
            "2 validation errors detected: Value 0 at 'limit' failed to satisfy constraint: Member must have value greater "
            "than or equal to 1; Value 'SOME' at 'select' failed to satisfy constraint: Member must satisfy enum value set: "
            "[ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES, SPECIFIC_ATTRIBUTES, COUNT]",
        ),
        (
            "PutItem",
            {
                "TableName": "orders",
                "Item": {"id": {"S": "x"}, "deep": json.loads('{"M": {"a": ' * 60 + '{"S": "x"}' + "}}" * 60)},
            },
            "ValidationException",
            "Nesting Levels have exceeded supported limits",
        ),
        (
            "ExecuteStatement",
            {"Statement": "SELECT * FROM orders WHERE id='o-1'"},
            "ValidationException",
            "Statement wasn't well formed, can't be processed",
        ),  # moto's engine cannot read it: it raised
    ],
)
def test_a_call_moto_would_raise_on_is_answered_in_dynamodbs_words(read_only, operation, body, expected, message):
    status, document = send(read_only.internet, operation, body)
    assert (status, document["__type"].rpartition("#")[2]) == (400, expected)
    assert document.get("message", document.get("Message")) == message
    assert read_only.logged()[-1]["status"] == 400
    assert stored_items("orders") == [ITEM]


def test_what_moto_still_raises_on_is_an_internal_server_error(read_only):
    """CreateGlobalTable (2017 version) is DynamoDB's, not moto's: moto raises NotImplementedError."""
    status, document = send(
        read_only.internet, "CreateGlobalTable", {"GlobalTableName": "orders", "ReplicationGroup": [{"RegionName": REGION}]}
    )
    assert (status, document) == (
        500,
        {
            "__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
            "message": "The lab's DynamoDB (moto) does not implement CreateGlobalTable",
        },
    )
    assert read_only.logged()[-1]["status"] == 500
    status, document = send(read_only.internet, "CreateTable", {"TableName": "keyless"})  # moto reads KeySchema
    assert (status, document["__type"].rpartition("#")[2]) == (500, "InternalServerError")
    assert "keyless" not in tables()


def test_a_client_cannot_choose_motos_account(read_only):
    """moto takes x-moto-account-id from a client unless MOTO_ACCOUNT_ID is set, as the front sets it."""
    answer = send(
        read_only.endpoint, "GetItem", {"TableName": "orders", "Key": {"id": {"S": "o-1"}}}, {"x-moto-account-id": "999999999999"}
    )
    assert answer == (200, {"Item": ITEM})


OPERATIONS = sorted(service_model().operation_names)


@pytest.mark.parametrize("op", OPERATIONS)
def test_every_operation_is_authorized_on_what_it_names_or_names_nothing(op):
    """botocore's model marks the member that names an operation's resource (contextParams, or
    operationContextParams for batches and transactions): the walk finds it, and only the calls IAM
    authorizes on no resource, and the PartiQL ones (their tables are in the statement), name none."""
    model = service_model().operation_model(op)
    if op in STATEMENTS:
        assert model.input_shape.name not in resource_shapes()
        return
    if op not in NO_RESOURCE:
        assert model.input_shape.name in resource_shapes()
    for param in model.context_parameters:
        member = model.input_shape.members[param.member_name]
        value = SECRET_ARN if member.name.endswith("Arn") and member.name not in TABLE_SHAPES else "secret"
        found = list(named(model.input_shape, {param.member_name: value}))
        assert [(path, v) for path, _, v in found] == [((param.member_name,), value)]


def test_an_unknown_key_is_refused_before_the_body_is_read(tmp_path):
    """DynamoDB's signature covers the body, but the key, scope and time do not need it: an unknown
    key with a large body is refused without reading a byte of it."""
    from botocore.credentials import Credentials

    from signing import call, signed_environ

    class Unreadable:
        def read(self, *_):
            raise AssertionError("the body was read")

    fronts = dynamodb_fronts(tmp_path)
    env = signed_environ(
        "POST",
        f"https://dynamodb.{REGION}.amazonaws.com/",
        b"{}",
        {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"},
        service="dynamodb",
        credentials=Credentials("AKIANOTTHELABSKEY", "x"),
    )
    env.update({"wsgi.input": Unreadable(), "CONTENT_LENGTH": str(200 * 1024 * 1024)})
    response = call(fronts.internet, env)
    assert (response.status_code, json.loads(response.data)["__type"].rpartition("#")[2]) == (400, "UnrecognizedClientException")
