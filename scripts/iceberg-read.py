#!/usr/bin/env python3
"""Reads an Iceberg table of an S3 Tables bucket with pyiceberg, an Iceberg client independent of the
gold stage's (iceberg-rust): the table's current metadata location from the S3 Tables API, then the
metadata, the manifests and the data files from the table's warehouse. Prints one JSON document: the
metadata location, the default partition spec (each field's name, transform and source column), the
snapshots (id, operation, summary) and every row of the current snapshot (dates as ISO text).

    python3 scripts/iceberg-read.py --endpoint-url http://127.0.0.1:PORT TABLE_BUCKET NAMESPACE TABLE

`--endpoint-url` is the local emulator's (omitted: AWS, with the default credentials and region).
tests/run_local.rs uses it to check the tables run-local's gold stage wrote.
"""

import argparse
import datetime as dt
import json
import os
import sys

import boto3
from pyiceberg.table import StaticTable


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint-url", help="endpoint of S3 Tables and S3 (the local emulator)")
    ap.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
    ap.add_argument("table_bucket", help="name of the table bucket")
    ap.add_argument("namespace")
    ap.add_argument("table")
    args = ap.parse_args()

    s3tables = boto3.client("s3tables", endpoint_url=args.endpoint_url, region_name=args.region)
    buckets = [b for b in s3tables.list_table_buckets()["tableBuckets"] if b["name"] == args.table_bucket]
    if not buckets:
        sys.exit(f"no table bucket named {args.table_bucket}")
    got = s3tables.get_table(tableBucketARN=buckets[0]["arn"], namespace=args.namespace, name=args.table)
    location = got.get("metadataLocation")
    if not location:
        sys.exit(f"table {args.namespace}.{args.table} has no metadata location")
    properties = {"s3.region": args.region}
    if args.endpoint_url:
        credentials = boto3.Session().get_credentials()
        properties.update({"s3.endpoint": args.endpoint_url, "s3.access-key-id": credentials.access_key,
                           "s3.secret-access-key": credentials.secret_key})
    table = StaticTable.from_metadata(location, properties=properties)
    schema = table.schema()
    spec = [{"name": f.name, "transform": str(f.transform), "source": schema.find_column_name(f.source_id)}
            for f in table.spec().fields]
    snapshots = [{"id": s.snapshot_id, "operation": s.summary.operation.value if s.summary else None,
                  "summary": dict(s.summary.additional_properties) if s.summary else {}}
                 for s in table.metadata.snapshots]
    rows = table.scan().to_arrow().to_pylist()
    for row in rows:
        for k, v in row.items():
            if isinstance(v, (dt.date, dt.datetime)):
                row[k] = v.isoformat()
    json.dump({"metadata_location": location, "partition_spec": spec, "snapshots": snapshots, "rows": rows},
              sys.stdout)


if __name__ == "__main__":
    main()
