#!/usr/bin/env python3
"""Create the orders table on a DynamoDB-compatible server, from template.yaml's own definition.

The key schema, attribute definitions, billing mode, global secondary indexes (the sparse `due`
index that reconcile queries; `review` and `attempts`, which payments-admin queries) and stream
specification (the stream the events function reads) are read from the single AWS::DynamoDB::Table
resource of template.yaml, so the table used by local tests is the table `sam deploy` creates: the
two cannot drift apart.

Usage:
    python scripts/create_table.py --endpoint http://127.0.0.1:PORT --table NAME [--template template.yaml]
                                   [--without-stream]

The region comes from AWS_REGION (then AWS_DEFAULT_REGION), else us-east-1. A local server takes
any credentials, so dummy ones are set when none are. Creating a table that already exists is
not an error; an existing table that lacks an index or the stream of the template gets them added.
Exits non-zero with one line on stderr when something goes wrong.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import yaml

DEFAULT_TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"
TABLE_TYPE = "AWS::DynamoDB::Table"


class TemplateLoader(yaml.SafeLoader):
    """A safe loader that accepts CloudFormation's short tags (!Ref, !Sub, !GetAtt, !If, ...).

    Each tagged node is read as its long form ({"Ref": ...}, {"Fn::Sub": ...}), so the rest of the
    template parses; the table's keys, indexes, stream and billing mode must be literals, and a
    long-form intrinsic found there is reported instead of being sent to DynamoDB.
    """


def _untagged(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix in ("Ref", "Condition"):
        return {tag_suffix: value}
    return {f"Fn::{tag_suffix}": value}


TemplateLoader.add_multi_constructor("!", _untagged)


def fail(message: str) -> None:
    print(f"create_table: {message}", file=sys.stderr)
    sys.exit(1)


def table_properties(template_path: Path) -> dict:
    """The Properties of the template's one DynamoDB table."""
    try:
        document = yaml.load(template_path.read_text(encoding="utf-8"), Loader=TemplateLoader)
    except OSError as error:
        fail(f"cannot read {template_path}: {error.strerror}")
    except yaml.YAMLError as error:
        fail(f"{template_path} is not valid YAML: {error}")

    resources = document.get("Resources") if isinstance(document, dict) else None
    if not isinstance(resources, dict):
        fail(f"{template_path} has no Resources section")
    tables = {name: res for name, res in resources.items() if isinstance(res, dict) and res.get("Type") == TABLE_TYPE}
    if len(tables) != 1:
        fail(f"{template_path} must define exactly one {TABLE_TYPE}, found {len(tables)}: {sorted(tables)}")
    (name, resource), = tables.items()
    properties = resource.get("Properties") or {}
    for required in ("KeySchema", "AttributeDefinitions"):
        if not properties.get(required):
            fail(f"{template_path}: resource {name} has no {required}")
    return properties


def _plain(value, where: str):
    """Refuse a value that is not a literal (a CloudFormation intrinsic function)."""
    if isinstance(value, dict):
        for key in value:
            if key.startswith("Fn::") or key in ("Ref", "Condition"):
                fail(f"{where} uses {key}; this script needs literal values there")
            _plain(value[key], f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _plain(item, f"{where}[{index}]")
    return value


def create_table_request(properties: dict, table_name: str) -> dict:
    request = {
        "TableName": table_name,
        "KeySchema": _plain(properties["KeySchema"], "KeySchema"),
        "AttributeDefinitions": _plain(properties["AttributeDefinitions"], "AttributeDefinitions"),
        "BillingMode": properties.get("BillingMode", "PROVISIONED"),
    }
    provisioned = request["BillingMode"] == "PROVISIONED"
    if provisioned:
        # Only reached if the template ever switches to provisioned capacity.
        request["ProvisionedThroughput"] = properties.get(
            "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        )
    indexes = _plain(properties.get("GlobalSecondaryIndexes") or [], "GlobalSecondaryIndexes")
    if indexes:
        request["GlobalSecondaryIndexes"] = [_index_request(index, provisioned) for index in indexes]
    stream = _plain(properties.get("StreamSpecification"), "StreamSpecification")
    if stream:
        # CloudFormation enables the stream by naming its view type; the API wants both.
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    return request


def _index_request(index: dict, provisioned: bool) -> dict:
    """A GlobalSecondaryIndexes entry as the CreateTable/UpdateTable API takes it."""
    entry = {key: index[key] for key in ("IndexName", "KeySchema", "Projection") if key in index}
    if provisioned:
        entry["ProvisionedThroughput"] = index.get(
            "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        )
    return entry


def wait_for_indexes(client, table_name: str, attempts: int = 120) -> None:
    """Wait until the table and every index of it are ACTIVE (a local server is usually at once)."""
    for _ in range(attempts):
        table = client.describe_table(TableName=table_name)["Table"]
        statuses = [table.get("TableStatus")] + [i.get("IndexStatus") for i in table.get("GlobalSecondaryIndexes", [])]
        if all(status in (None, "ACTIVE") for status in statuses):
            return
        time.sleep(1)
    fail(f"table {table_name} or one of its indexes did not become ACTIVE")


def bring_up_to_date(client, request: dict) -> list[str]:
    """Add to an existing table the indexes and the stream of the template that it lacks.

    Returns what was added. Keys cannot change on an existing table: a different key schema is an
    error (delete the local table and run again).
    """
    table = client.describe_table(TableName=request["TableName"])["Table"]
    if table["KeySchema"] != request["KeySchema"]:
        fail(f"table {request['TableName']} exists with other keys ({table['KeySchema']}); delete it and run again")
    added = []
    have = {index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])}
    for index in request.get("GlobalSecondaryIndexes", []):
        if index["IndexName"] in have:
            continue
        used = {key["AttributeName"] for key in index["KeySchema"]}
        client.update_table(
            TableName=request["TableName"],
            AttributeDefinitions=[d for d in request["AttributeDefinitions"] if d["AttributeName"] in used],
            GlobalSecondaryIndexUpdates=[{"Create": index}],
        )
        # DynamoDB builds one new index at a time: the next update waits for this one.
        wait_for_indexes(client, request["TableName"])
        added.append(f"index {index['IndexName']}")
    wanted_stream = request.get("StreamSpecification")
    stream = table.get("StreamSpecification") or {}
    if wanted_stream and not stream.get("StreamEnabled"):
        client.update_table(TableName=request["TableName"], StreamSpecification=wanted_stream)
        added.append(f"stream {wanted_stream['StreamViewType']}")
    elif wanted_stream and stream.get("StreamViewType") != wanted_stream["StreamViewType"]:
        fail(
            f"table {request['TableName']} has a {stream.get('StreamViewType')} stream, the template wants "
            f"{wanted_stream['StreamViewType']}; delete the table and run again"
        )
    return added


def main() -> None:
    parser = argparse.ArgumentParser(description="Create the orders table from template.yaml on a local DynamoDB.")
    parser.add_argument("--endpoint", required=True, help="e.g. http://127.0.0.1:8000")
    parser.add_argument("--table", required=True, help="table name to create")
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE, help="default: the repository's template.yaml")
    parser.add_argument("--without-stream", action="store_true",
                        help="leave the stream out (the benchmark's long runs: moto copies it on every transaction)")
    args = parser.parse_args()

    request = create_table_request(table_properties(args.template), args.table)
    if args.without_stream:
        request.pop("StreamSpecification", None)

    # A local server accepts any credentials; boto3 insists on having some.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"

    import boto3  # imported late so a template error is reported even without boto3 installed
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client("dynamodb", endpoint_url=args.endpoint, region_name=region)
    added: list[str] = []
    try:
        client.create_table(**request)
        created = True
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceInUseException":
            fail(f"could not create table {args.table} at {args.endpoint}: {error}")
        created = False
    except BotoCoreError as error:
        fail(f"could not reach {args.endpoint}: {error}")

    try:
        client.get_waiter("table_exists").wait(TableName=args.table, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        if not created:
            added = bring_up_to_date(client, request)
            client.get_waiter("table_exists").wait(TableName=args.table, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        table = client.describe_table(TableName=args.table)["Table"]
    except (BotoCoreError, ClientError) as error:
        fail(f"table {args.table} did not become available at {args.endpoint}: {error}")

    keys = ", ".join(f"{k['AttributeName']} {k['KeyType']}" for k in table["KeySchema"])
    indexes = ", ".join(index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])) or "none"
    stream = (table.get("StreamSpecification") or {}).get("StreamViewType", "none")
    verb = "created" if created else "exists already"
    if added:
        verb += f" (added {', '.join(added)})"
    print(f"table {args.table} {verb} at {args.endpoint} (keys: {keys}; indexes: {indexes}; stream: {stream})")


if __name__ == "__main__":
    main()
