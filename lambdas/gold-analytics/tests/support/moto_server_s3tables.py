"""`moto_server` with the two fixes the gold-analytics moto test needs (moto 5.2.1).

Gap 1: moto's S3 Tables `GetTable` returns `"managedByService": false` (a JSON boolean, for every
table). In the AWS API model `managedByService` is a string (the service principal of a table that an
AWS service manages), absent for customer tables. aws-sdk-s3tables therefore refuses moto's whole
GetTable response ("expected ValueString or ValueNull"), and with it the iceberg S3 Tables catalog's
`create_table`, `load_table` and `update_table`, and the stage's own GetTable. The fix: customer tables
get `null` instead of `false` (what the SDK reads as absent); a table managed by a service would get a
string.

Gap 2: moto's `UpdateTableMetadataLocation` (the commit of every Iceberg write) answers
`{"name", "tableArn", "namespace": "<name>", "versionToken", "metadataLocation"}`; the AWS model has
`tableARN` and `namespace` as a list of strings, both required. aws-sdk-s3tables refuses the response
("expected start array or null"; then "table_arn was not specified"), so the catalog and the stage see
every successful commit as failed although moto has applied it. The fix rewrites those two fields of
the response body; the update itself (version-token check, new token) is moto's.

Everything else is moto as installed.

Usage: python3 moto_server_s3tables.py -H 127.0.0.1 -p PORT   (the arguments of `moto_server`)
"""

import json
import sys

import moto
from moto.s3tables import models, responses
from moto.server import main

if moto.__version__ != "5.2.1":
    print(f"moto_server_s3tables: patch written for moto 5.2.1, running {moto.__version__}", file=sys.stderr)

_original_init = models.Table.__init__


def _init(self, *args, **kwargs):
    _original_init(self, *args, **kwargs)
    self.managed_by_service = "s3.amazonaws.com" if self.managed_by_service else None


models.Table.__init__ = _init

_original_update = responses.S3TablesResponse.update_table_metadata_location


def _update_table_metadata_location(self):
    status, headers, body = _original_update(self)
    document = json.loads(body)
    if "tableArn" in document:
        document["tableARN"] = document.pop("tableArn")
    if isinstance(document.get("namespace"), str):
        document["namespace"] = [document["namespace"]]
    return status, headers, json.dumps(document)


responses.S3TablesResponse.update_table_metadata_location = _update_table_metadata_location

if __name__ == "__main__":
    main(sys.argv[1:])
