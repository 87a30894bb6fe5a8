#!/usr/bin/env python3
"""Creates the orders table in a DynamoDB-compatible server from template.yaml's own definition.

The table's keys, attributes and billing mode are read from the template's AWS::DynamoDB::Table
resource, so the tests and the sandbox use exactly the table that `sam deploy` creates.

Usage: python scripts/create_table.py --endpoint http://127.0.0.1:PORT --table NAME [--template template.yaml]
"""
import argparse
import os
import sys
from pathlib import Path

import boto3
import yaml


class CloudFormationLoader(yaml.SafeLoader):
    """Reads !Ref, !Sub, !GetAtt, !If … as plain values: only the table's literal properties matter here."""


def _any_tag(loader, _suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


CloudFormationLoader.add_multi_constructor("!", _any_tag)


def table_definition(template: Path) -> dict:
    document = yaml.load(template.read_text(), Loader=CloudFormationLoader)
    tables = [r for r in document.get("Resources", {}).values() if r.get("Type") == "AWS::DynamoDB::Table"]
    if len(tables) != 1:
        raise SystemExit(f"{template}: expected exactly one AWS::DynamoDB::Table, found {len(tables)}")
    return tables[0]["Properties"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--template", default=str(Path(__file__).resolve().parent.parent / "template.yaml"))
    args = parser.parse_args()

    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test")):
        os.environ.setdefault(name, value)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    props = table_definition(Path(args.template))
    request = {
        "TableName": args.table,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    client = boto3.client("dynamodb", endpoint_url=args.endpoint, region_name=region)
    try:
        client.create_table(**request)
    except client.exceptions.ResourceInUseException:
        print(f"table {args.table} exists already")
        return
    except Exception as error:  # noqa: BLE001 - one clear line for whoever runs the tests
        sys.exit(f"could not create table {args.table} at {args.endpoint}: {error}")
    client.get_waiter("table_exists").wait(TableName=args.table, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    keys = ", ".join(f"{k['AttributeName']} ({k['KeyType']})" for k in props["KeySchema"])
    print(f"table {args.table} created from template.yaml: {keys}")


if __name__ == "__main__":
    main()
