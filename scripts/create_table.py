#!/usr/bin/env python3
"""Create the orders table on a DynamoDB-compatible server, from template.yaml's own definition.

The key schema, attribute definitions, billing mode (and secondary indexes, should the template
ever get some) are read from the single AWS::DynamoDB::Table resource of template.yaml, so the
table used by local tests is the table `sam deploy` creates: the two cannot drift apart.

Usage:
    python scripts/create_table.py --endpoint http://127.0.0.1:PORT --table NAME [--template template.yaml]

The region comes from AWS_REGION (then AWS_DEFAULT_REGION), else us-east-1. A local server takes
any credentials, so dummy ones are set when none are. Creating a table that already exists is
not an error. Exits non-zero with one line on stderr when something goes wrong.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

DEFAULT_TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"
TABLE_TYPE = "AWS::DynamoDB::Table"


class TemplateLoader(yaml.SafeLoader):
    """A safe loader that accepts CloudFormation's short tags (!Ref, !Sub, !GetAtt, !If, ...).

    Each tagged node is read as the plain value under the tag. That is wrong for evaluating the
    template but harmless here: the table's key schema and billing mode are literals.
    """


def _untagged(loader: yaml.SafeLoader, _tag_suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


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


def create_table_request(properties: dict, table_name: str) -> dict:
    request = {
        "TableName": table_name,
        "KeySchema": properties["KeySchema"],
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "BillingMode": properties.get("BillingMode", "PROVISIONED"),
    }
    if request["BillingMode"] == "PROVISIONED":
        # Only reached if the template ever switches to provisioned capacity.
        request["ProvisionedThroughput"] = properties.get(
            "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        )
    if properties.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
    return request


def main() -> None:
    parser = argparse.ArgumentParser(description="Create the orders table from template.yaml on a local DynamoDB.")
    parser.add_argument("--endpoint", required=True, help="e.g. http://127.0.0.1:8000")
    parser.add_argument("--table", required=True, help="table name to create")
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE, help="default: the repository's template.yaml")
    args = parser.parse_args()

    request = create_table_request(table_properties(args.template), args.table)

    # A local server accepts any credentials; boto3 insists on having some.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"

    import boto3  # imported late so a template error is reported even without boto3 installed
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client("dynamodb", endpoint_url=args.endpoint, region_name=region)
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
        key_schema = client.describe_table(TableName=args.table)["Table"]["KeySchema"]
    except (BotoCoreError, ClientError) as error:
        fail(f"table {args.table} did not become available at {args.endpoint}: {error}")

    keys = ", ".join(f"{k['AttributeName']} {k['KeyType']}" for k in key_schema)
    verb = "created" if created else "exists already"
    print(f"table {args.table} {verb} at {args.endpoint} (keys: {keys})")


if __name__ == "__main__":
    main()
