"""Checks of template.yaml that cfn-lint cannot know about: our own promises.

Run: python -m pytest tests/template
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
OPERATIONS = ROOT / "docs" / "operations.md"

FUNCTION_TYPE = "AWS::Serverless::Function"
ALARM_TYPE = "AWS::CloudWatch::Alarm"


class Intrinsic:
    """A CloudFormation short-form intrinsic (!Ref X, !GetAtt A.B, !If [...]) kept as tag + value."""

    def __init__(self, tag: str, value):
        self.tag = tag
        self.value = value

    def __eq__(self, other):
        return isinstance(other, Intrinsic) and (self.tag, self.value) == (other.tag, other.value)

    def __repr__(self):
        return f"!{self.tag} {self.value!r}"


class CloudFormationLoader(yaml.SafeLoader):
    """Safe YAML loading that accepts CloudFormation's short tags."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Intrinsic:
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return Intrinsic(tag_suffix, value)


CloudFormationLoader.add_multi_constructor("!", _intrinsic)


@pytest.fixture(scope="module")
def template() -> dict:
    return yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=CloudFormationLoader)


@pytest.fixture(scope="module")
def resources(template) -> dict:
    return template["Resources"]


def of_type(resources: dict, type_name: str) -> dict:
    return {name: res for name, res in resources.items() if res.get("Type") == type_name}


def walk(value):
    """Every dict, list and scalar in a value, intrinsics included."""
    yield value
    if isinstance(value, Intrinsic):
        yield from walk(value.value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def runbook_alarms() -> list[str]:
    """The alarm logical IDs that docs/operations.md has a runbook section for (## headings)."""
    text = OPERATIONS.read_text(encoding="utf-8")
    headings = re.findall(r"^##\s+`?([A-Za-z0-9]+)`?\s*$", text, flags=re.MULTILINE)
    return [h for h in headings if h.endswith("Alarm")]


def test_template_loads_with_short_tags(template):
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    assert isinstance(template["Resources"]["OrdersTable"]["Properties"]["KeySchema"], list)


# ---------------------------------------------------------------- alarms and runbooks


def test_operations_has_runbooks():
    assert len(runbook_alarms()) >= 10, "docs/operations.md should have a '## <AlarmLogicalId>' section per alarm"


@pytest.mark.parametrize("alarm", runbook_alarms())
def test_every_runbook_names_an_alarm_of_the_template(resources, alarm):
    assert alarm in resources, f"docs/operations.md has a runbook for {alarm}, which template.yaml does not define"
    assert resources[alarm]["Type"] == ALARM_TYPE


def test_every_alarm_has_a_runbook(resources):
    missing = sorted(set(of_type(resources, ALARM_TYPE)) - set(runbook_alarms()))
    assert not missing, f"alarms without a '## <name>' runbook in docs/operations.md: {missing}"


def test_every_alarm_notifies_and_ignores_missing_data(resources):
    for name, alarm in of_type(resources, ALARM_TYPE).items():
        properties = alarm["Properties"]
        assert properties.get("AlarmActions"), f"{name} notifies no one"
        assert properties.get("TreatMissingData") == "notBreaching", name


# ---------------------------------------------------------------- functions


def test_five_functions_with_their_binaries(resources):
    binaries = {
        res["Metadata"]["BuildProperties"]["Binary"]
        for res in of_type(resources, FUNCTION_TYPE).values()
        if res.get("Metadata", {}).get("BuildMethod") == "rust-cargolambda"
    }
    assert binaries == {"openid", "prepay", "notify", "reconcile", "events"}


def test_every_function_has_reserved_concurrency_from_a_parameter(template, resources):
    parameters = template["Parameters"]
    conditions = template["Conditions"]
    for name, function in of_type(resources, FUNCTION_TYPE).items():
        reserved = function["Properties"].get("ReservedConcurrentExecutions")
        assert isinstance(reserved, Intrinsic) and reserved.tag == "If", f"{name}: ReservedConcurrentExecutions must be !If [cond, !Ref Param, !Ref AWS::NoValue]"
        condition, when_set, when_unset = reserved.value
        assert condition in conditions, f"{name}: unknown condition {condition}"
        assert when_set == Intrinsic("Ref", when_set.value) and when_set.value in parameters, name
        assert when_unset == Intrinsic("Ref", "AWS::NoValue"), f"{name}: unset must mean no reservation"
        # Off by default: the parameter's default leaves the condition false.
        assert parameters[when_set.value].get("Default") == "", f"{name}: reserved concurrency must be off by default"


def test_every_function_has_a_log_group_with_retention(resources):
    groups = [res["Properties"] for res in of_type(resources, "AWS::Logs::LogGroup").values()]
    for name in of_type(resources, FUNCTION_TYPE):
        matching = [g for g in groups if isinstance(g.get("LogGroupName"), Intrinsic) and f"${{{name}}}" in g["LogGroupName"].value]
        assert matching and "RetentionInDays" in matching[0], f"{name} has no log group with a retention"


# ---------------------------------------------------------------- table


def test_table_has_the_due_index_and_the_stream(resources):
    (table,) = of_type(resources, "AWS::DynamoDB::Table").values()
    properties = table["Properties"]
    assert properties["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    (due,) = [i for i in properties["GlobalSecondaryIndexes"] if i["IndexName"] == "due"]
    assert due["KeySchema"] == [
        {"AttributeName": "dueShard", "KeyType": "HASH"},
        {"AttributeName": "dueAt", "KeyType": "RANGE"},
    ]
    assert due["Projection"] == {"ProjectionType": "ALL"}
    types = {d["AttributeName"]: d["AttributeType"] for d in properties["AttributeDefinitions"]}
    assert types == {
        "pk": "S",
        "sk": "S",
        "dueShard": "S",
        "dueAt": "N",
        "reviewKey": "S",
        "updatedAt": "N",
        "orderKey": "S",
        "createdAt": "N",
    }
    indexes = {i["IndexName"]: i for i in properties["GlobalSecondaryIndexes"]}
    assert [k["AttributeName"] for k in indexes["review"]["KeySchema"]] == ["reviewKey", "updatedAt"]
    assert [k["AttributeName"] for k in indexes["attempts"]["KeySchema"]] == ["orderKey", "createdAt"]
    assert properties["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


# ---------------------------------------------------------------- events


def events_mapping(resources) -> dict:
    mappings = [
        res["Properties"]
        for res in of_type(resources, "AWS::Lambda::EventSourceMapping").values()
        if res["Properties"].get("FunctionName") == Intrinsic("Ref", "EventsFunction")
    ]
    assert len(mappings) == 1, "the events function needs exactly one event source mapping"
    return mappings[0]


def test_events_function_reads_the_stream_with_partial_failures_and_a_dead_letter_queue(resources):
    mapping = events_mapping(resources)
    assert mapping["EventSourceArn"] == Intrinsic("GetAtt", "OrdersTable.StreamArn")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert 0 <= mapping["MaximumRetryAttempts"] <= 100
    assert 60 <= mapping["MaximumRecordAgeInSeconds"] < 86400, "records must reach the DLQ while the stream still has them"
    destination = mapping["DestinationConfig"]["OnFailure"]["Destination"]
    assert isinstance(destination, Intrinsic) and destination.tag == "GetAtt"
    queue = destination.value.split(".")[0]
    assert resources[queue]["Type"] == "AWS::SQS::Queue"
    assert resources[queue]["Properties"]["MessageRetentionPeriod"] == 1209600
    assert resources[queue]["Properties"].get("SqsManagedSseEnabled") or resources[queue]["Properties"].get("KmsMasterKeyId")


def test_events_function_sees_order_items_only(resources):
    (flt,) = events_mapping(resources)["FilterCriteria"]["Filters"]
    assert json.loads(flt["Pattern"]) == {"dynamodb": {"Keys": {"sk": {"S": ["ORDER"]}}}}


# ---------------------------------------------------------------- IAM


def policy_statements(resources):
    """Every IAM statement: SAM function Policies (through !If too) and plain IAM resources."""
    for name, res in resources.items():
        for value in walk(res.get("Properties", {})):
            if isinstance(value, dict) and "Effect" in value and "Action" in value:
                yield name, value


def actions_of(statement) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_no_statement_allows_scan(resources):
    for name, statement in policy_statements(resources):
        if statement["Effect"] != "Allow":
            continue
        for action in actions_of(statement):
            assert action.lower() not in ("dynamodb:scan", "dynamodb:*", "*"), f"{name} allows {action}"


def test_no_function_may_delete_or_batch_write(resources):
    for name, statement in policy_statements(resources):
        if statement["Effect"] == "Allow":
            for action in actions_of(statement):
                assert action not in ("dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:DeleteTable"), name


def test_reconcile_queries_the_due_index_only(resources):
    statements = [s for n, s in policy_statements(resources) if n == "ReconcileFunction"]
    (query,) = [s for s in statements if "dynamodb:Query" in actions_of(s)]
    assert query["Resource"] == Intrinsic("Sub", "${OrdersTable.Arn}/index/due")


def test_events_publishes_to_the_bus_only(resources):
    statements = [s for n, s in policy_statements(resources) if n == "EventsFunction"]
    (put,) = [s for s in statements if "events:PutEvents" in actions_of(s)]
    assert put["Resource"] != "*"
    assert not any(a.startswith("dynamodb:") and a not in {
        "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"
    } for s in statements for a in actions_of(s)), "events reads the stream, never the table"


def test_secret_parameters_are_noecho(template):
    parameters = template["Parameters"]
    for name in (
        "PgwSecretKey", "PgwSecretKeyPrevious", "WechatAppSecret", "SessionSecret",
        "SessionSecretPrevious", "OrderSigningKey", "OrderSigningKeyPrevious",
    ):
        assert parameters[name].get("NoEcho") is True, name


def test_the_event_source_pattern_refuses_what_the_events_function_would_refuse(template):
    # CloudFormation matches AllowedPattern against the whole value (Java regex; lookahead works there too).
    pattern = re.compile(template["Parameters"]["EventSource"]["AllowedPattern"])
    for accepted in ("wcmini.payments", "shop-1_payments", "a" * 256):
        assert pattern.fullmatch(accepted), accepted
    for refused in ("aws.payments", "aws.", "", "a" * 257, "with space"):
        assert not pattern.fullmatch(refused), refused
