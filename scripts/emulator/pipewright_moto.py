#!/usr/bin/env python3
"""pipewright-moto: moto 5.2.1 in server mode, patched to behave closer to AWS.

Run:  python3 pipewright_moto.py --host 127.0.0.1 --port PORT
Prints exactly one line `pipewright-moto ready http://HOST:PORT` on stdout once the
server accepts requests (port 0 picks a free port and prints the real one) and runs
until SIGTERM/SIGINT (exit 0). Exit 2 if the installed moto is not the pinned version.

Every patch goes through moto's own backends and models (no service is re-implemented);
each one is listed in PATCHES and described in scripts/emulator/README.md with its test.
The patches reach into moto internals, so they are pinned to one moto version.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import json
import logging
import signal
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

PINNED_MOTO = "5.2.1"
ACCOUNT_REGION_ARN = "arn:{partition}:{service}:{region}:{account}:{rest}"


def check_moto_version() -> str | None:
    """Returns an error message if the installed moto is not the pinned version."""
    try:
        import moto
    except ImportError:
        return f"pipewright-moto: moto is not installed (need moto[server]=={PINNED_MOTO})"
    if moto.__version__ != PINNED_MOTO:
        return (
            f"pipewright-moto: installed moto is {moto.__version__}, but the patches are written "
            f"for moto {PINNED_MOTO} internals; install moto[server]=={PINNED_MOTO}"
        )
    return None


def check_cbor2() -> str | None:
    """Returns an error message if cbor2 (CloudWatch's RPC v2 CBOR protocol, patch 8) is missing."""
    try:
        import cbor2  # noqa: F401
    except ImportError:
        return "pipewright-moto: cbor2 is not installed (pip install -r requirements-dev.txt)"
    return None


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


def aws_encode_key(key: str) -> str:
    """Encodes an object key the way S3 writes it into event messages (and the way S3 matches
    notification filter values): URL form, space -> `+`, other special characters `%XX`,
    `/` kept as is."""
    return quote_plus(key, safe="/")


def _iso_ms_z(dt: datetime | None = None) -> str:
    dt = dt or datetime.now(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _queue_name_from_ref(ref: str) -> str:
    # a queue's Ref is its URL; an ARN works too
    return ref.rstrip("/").split("/")[-1].split(":")[-1]


# ---------------------------------------------------------------------------------------------
# Patch 1: CloudFormation resources and properties moto skips
# ---------------------------------------------------------------------------------------------


def _bool_str(v: Any) -> str:
    return "true" if str(v).lower() == "true" else "false"


def _cfn_notification_to_backend(cfg: dict[str, Any] | None) -> dict[str, Any]:
    """CloudFormation NotificationConfiguration -> the dict moto's S3 API layer builds from XML."""
    if not cfg:
        return {}
    out: dict[str, Any] = {}

    def convert(items: list[dict[str, Any]], cfn_target: str, api_target: str) -> list[dict[str, Any]]:
        result = []
        for item in items:
            n: dict[str, Any] = {api_target: item[cfn_target], "Event": [item["Event"]]}
            rules = (((item.get("Filter") or {}).get("S3Key") or {}).get("Rules")) or []
            if rules:
                n["Filter"] = {
                    "S3Key": {
                        "FilterRule": [
                            {"Name": r["Name"].lower(), "Value": r["Value"]} for r in rules
                        ]
                    }
                }
            result.append(n)
        return result

    if cfg.get("QueueConfigurations"):
        out["QueueConfiguration"] = convert(cfg["QueueConfigurations"], "Queue", "Queue")
    if cfg.get("TopicConfigurations"):
        out["TopicConfiguration"] = convert(cfg["TopicConfigurations"], "Topic", "Topic")
    if cfg.get("LambdaConfigurations"):
        out["CloudFunctionConfiguration"] = convert(
            cfg["LambdaConfigurations"], "Function", "CloudFunction"
        )
    eb = cfg.get("EventBridgeConfiguration") or {}
    if str(eb.get("EventBridgeEnabled", "false")).lower() == "true":
        out["EventBridgeConfiguration"] = {}
    return out


def _cfn_lifecycle_to_backend(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """CloudFormation LifecycleConfiguration.Rules -> the XML-shaped rules moto's set_lifecycle takes."""
    rules = []
    for r in cfg.get("Rules", []):
        rule: dict[str, Any] = {"Status": r["Status"]}
        if r.get("Id"):
            rule["ID"] = r["Id"]
        if "Prefix" in r:
            rule["Prefix"] = r["Prefix"]
        else:
            rule["Filter"] = {"Prefix": ""}
        exp: dict[str, Any] = {}
        if r.get("ExpirationInDays") is not None:
            exp["Days"] = str(r["ExpirationInDays"])
        if r.get("ExpirationDate"):
            exp["Date"] = r["ExpirationDate"]
        if r.get("ExpiredObjectDeleteMarker") is not None:
            exp["ExpiredObjectDeleteMarker"] = _bool_str(r["ExpiredObjectDeleteMarker"])
        if exp:
            rule["Expiration"] = exp
        transitions = list(r.get("Transitions", []))
        if r.get("Transition"):
            transitions.append(r["Transition"])
        if transitions:
            rule["Transition"] = [
                {
                    k: v
                    for k, v in {
                        "Days": str(t["TransitionInDays"]) if "TransitionInDays" in t else None,
                        "Date": t.get("TransitionDate"),
                        "StorageClass": t["StorageClass"],
                    }.items()
                    if v is not None
                }
                for t in transitions
            ]
        nve = r.get("NoncurrentVersionExpiration")
        if nve:
            rule["NoncurrentVersionExpiration"] = {"NoncurrentDays": str(nve["NoncurrentDays"])}
        elif r.get("NoncurrentVersionExpirationInDays") is not None:
            rule["NoncurrentVersionExpiration"] = {
                "NoncurrentDays": str(r["NoncurrentVersionExpirationInDays"])
            }
        nvts = list(r.get("NoncurrentVersionTransitions", []))
        if nvts:
            rule["NoncurrentVersionTransition"] = [
                {
                    "NoncurrentDays": str(t["TransitionInDays"]),
                    "StorageClass": t["StorageClass"],
                }
                for t in nvts
            ]
        aimu = r.get("AbortIncompleteMultipartUpload")
        if aimu:
            rule["AbortIncompleteMultipartUpload"] = {
                "DaysAfterInitiation": str(aimu["DaysAfterInitiation"])
            }
        rules.append(rule)
    return rules


def _apply_bucket_properties(bucket: Any, properties: dict[str, Any], backend: Any, previous: dict[str, Any] | None) -> None:
    """Writes the bucket properties moto's CloudFormation model ignores through the S3 backend.
    `previous` is the property set applied before (None on create): a property that disappears
    is removed, as CloudFormation does; the notification document is written only when it
    changes (each write is validated and sends a test event, as on AWS)."""
    name = bucket.name
    prev = previous or {}

    if "VersioningConfiguration" in properties:
        backend.put_bucket_versioning(name, properties["VersioningConfiguration"]["Status"])
    elif prev.get("VersioningConfiguration") and bucket.versioning_status == "Enabled":
        backend.put_bucket_versioning(name, "Suspended")  # versioning cannot be switched off

    if "PublicAccessBlockConfiguration" in properties:
        pab = properties["PublicAccessBlockConfiguration"]
        backend.put_public_access_block(
            name,
            {
                k: _bool_str(pab.get(k, False))
                for k in (
                    "BlockPublicAcls",
                    "IgnorePublicAcls",
                    "BlockPublicPolicy",
                    "RestrictPublicBuckets",
                )
            },
        )
    elif prev.get("PublicAccessBlockConfiguration"):
        backend.delete_public_access_block(name)

    if "LifecycleConfiguration" in properties:
        backend.put_bucket_lifecycle_configuration(
            name, _cfn_lifecycle_to_backend(properties["LifecycleConfiguration"])
        )
    elif prev.get("LifecycleConfiguration"):
        backend.delete_bucket_lifecycle(name)

    if "OwnershipControls" in properties:
        backend.put_bucket_ownership_controls(
            name, properties["OwnershipControls"]["Rules"][0]["ObjectOwnership"]
        )
    elif prev.get("OwnershipControls"):
        backend.delete_bucket_ownership_controls(name)

    if "BucketEncryption" not in properties and prev.get("BucketEncryption"):
        backend.delete_bucket_encryption(name)

    new_nc = properties.get("NotificationConfiguration")
    if previous is None or new_nc != prev.get("NotificationConfiguration"):
        if new_nc or previous is not None:
            backend.put_bucket_notification_configuration(
                name, _cfn_notification_to_backend(new_nc)
            )
    bucket._pipewright_cfn_properties = json.loads(json.dumps(properties))



def _initial_iceberg_metadata(table: Any, iceberg: dict[str, Any], account_id: str) -> None:
    """AWS creates a table declared with `IcebergMetadata` with its first metadata file (format v2,
    the schema and the partition spec, no snapshot) in the table's warehouse; moto creates it empty,
    without a metadata location, so no Iceberg client can load it. Written here through moto's S3
    backend. Field ids: a field's `Id`, else its position (1..); partition field ids: `FieldId`, else
    1000.. in order, as AWS assigns them."""
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    fields = []
    for i, f in enumerate(iceberg.get("IcebergSchema", {}).get("SchemaFieldList", []), start=1):
        fields.append({"id": int(f.get("Id", i)), "name": f["Name"], "required": bool(f.get("Required", False)),
                       "type": f["Type"]})
    declared = iceberg.get("IcebergPartitionSpec") or {}
    spec_id = int(declared.get("SpecId", 0))
    partition_fields = [
        {"name": f["Name"], "transform": f["Transform"], "source-id": int(f["SourceId"]),
         "field-id": int(f.get("FieldId", 1000 + i))}
        for i, f in enumerate(declared.get("Fields", []))
    ]
    location = table.warehouse_location
    key = f"metadata/00000-{uuid.uuid4()}.metadata.json"
    now = int(time.time() * 1000)
    metadata = {
        "format-version": 2,
        "table-uuid": str(uuid.uuid4()),
        "location": location,
        "last-sequence-number": 0,
        "last-updated-ms": now,
        "last-column-id": max((f["id"] for f in fields), default=0),
        "current-schema-id": 0,
        "schemas": [{"type": "struct", "schema-id": 0, "fields": fields}],
        "default-spec-id": spec_id,
        "partition-specs": [{"spec-id": spec_id, "fields": partition_fields}],
        "last-partition-id": max((f["field-id"] for f in partition_fields), default=999),
        "default-sort-order-id": 0,
        "sort-orders": [{"order-id": 0, "fields": []}],
        "properties": {"write.format.default": "parquet"},
        "current-snapshot-id": -1,
        "refs": {},
        "snapshots": [],
        "statistics": [],
        "snapshot-log": [],
        "metadata-log": [],
    }
    bucket = location.removeprefix("s3://").split("/")[0]
    s3 = s3_backends[account_id][get_partition(table.region_name)]
    s3.put_object(bucket, key, json.dumps(metadata).encode())
    table.metadata_location = f"{location}/{key}"

def patch_cloudformation() -> None:
    from moto.awslambda.models import LambdaFunction, lambda_backends
    from moto.cloudformation import parsing
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.core.common_models import CloudFormationModel
    from moto.iam.models import Role, iam_backends
    from moto.s3.models import FakeBucket, s3_backends
    from moto.s3tables.models import s3tables_backends
    from moto.scheduler.models import scheduler_backends
    from moto.sns.models import sns_backends
    from moto.sqs.models import Queue, sqs_backends
    from moto.utilities.utils import get_partition

    # --- S3 bucket: the ignored properties -------------------------------------------------
    orig_bucket_create = FakeBucket.create_from_cloudformation_json.__func__
    orig_bucket_update = FakeBucket.update_from_cloudformation_json.__func__

    def bucket_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        bucket = orig_bucket_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        backend = s3_backends[account_id][get_partition(region_name)]
        try:
            _apply_bucket_properties(bucket, cloudformation_json.get("Properties", {}), backend, None)
        except Exception:
            # CloudFormation rolls a failed resource back: do not leave a half-configured bucket
            backend.delete_bucket(bucket.name)
            raise
        return bucket

    def bucket_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        previous = getattr(original_resource, "_pipewright_cfn_properties", {})
        bucket = orig_bucket_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
        backend = s3_backends[account_id][get_partition(region_name)]
        _apply_bucket_properties(
            bucket,
            cloudformation_json.get("Properties", {}),
            backend,
            previous if bucket is original_resource else None,
        )
        return bucket

    FakeBucket.create_from_cloudformation_json = classmethod(bucket_create)
    FakeBucket.update_from_cloudformation_json = classmethod(bucket_update)

    # --- IAM role: ManagedPolicyArns ---------------------------------------------------------
    orig_role_create = Role.create_from_cloudformation_json.__func__
    orig_role_update = getattr(Role.update_from_cloudformation_json, "__func__", None)

    def _sync_managed(role: Any, wanted: list[str], account_id: str, region_name: str) -> None:
        iam = iam_backends[account_id][get_partition(region_name)]
        current = set(role.managed_policies.keys())
        for arn in wanted:
            if arn not in current:
                iam.attach_role_policy(arn, role.name)
        for arn in current - set(wanted):
            iam.detach_role_policy(arn, role.name)

    def role_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        role = orig_role_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        wanted = cloudformation_json.get("Properties", {}).get("ManagedPolicyArns") or []
        _sync_managed(role, wanted, account_id, region_name)
        return role

    Role.create_from_cloudformation_json = classmethod(role_create)
    if orig_role_update is not None and not getattr(Role.update_from_cloudformation_json, "__isabstractmethod__", False):

        def role_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
            role = orig_role_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
            wanted = cloudformation_json.get("Properties", {}).get("ManagedPolicyArns") or []
            _sync_managed(role, wanted, account_id, region_name)
            return role

        Role.update_from_cloudformation_json = classmethod(role_update)

    # --- Lambda function: LoggingConfig and DeadLetterConfig (also in the Lambda API) ----------
    orig_fn_init = LambdaFunction.__init__
    orig_get_configuration = LambdaFunction.get_configuration
    orig_update_configuration = LambdaFunction.update_configuration
    orig_fn_create = LambdaFunction.create_from_cloudformation_json.__func__

    def fn_init(self, *args, **kwargs):  # (account_id, spec, region, version)
        orig_fn_init(self, *args, **kwargs)
        spec = kwargs.get("spec", args[1] if len(args) > 1 else {})
        self.pipewright_logging_config = dict(spec.get("LoggingConfig") or {})
        self.pipewright_dead_letter_config = dict(spec.get("DeadLetterConfig") or {})

    def fn_get_configuration(self, on_create=False):
        config = orig_get_configuration(self, on_create)
        lc = {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{self.function_name}"}
        lc.update(getattr(self, "pipewright_logging_config", {}) or {})
        if lc.get("LogFormat") == "JSON":
            lc.setdefault("ApplicationLogLevel", "INFO")
            lc.setdefault("SystemLogLevel", "INFO")
        config["LoggingConfig"] = lc
        dlc = getattr(self, "pipewright_dead_letter_config", {}) or {}
        if dlc.get("TargetArn"):
            config["DeadLetterConfig"] = {"TargetArn": dlc["TargetArn"]}
        return config

    def fn_update_configuration(self, config_updates):
        if "LoggingConfig" in config_updates:
            self.pipewright_logging_config = dict(config_updates["LoggingConfig"] or {})
        if "DeadLetterConfig" in config_updates:
            self.pipewright_dead_letter_config = dict(config_updates["DeadLetterConfig"] or {})
        return orig_update_configuration(self, config_updates)

    def fn_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        fn = orig_fn_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        props = cloudformation_json["Properties"]
        fn.pipewright_logging_config = dict(props.get("LoggingConfig") or {})
        fn.pipewright_dead_letter_config = dict(props.get("DeadLetterConfig") or {})
        # also dropped by moto's CloudFormation model, kept by its Lambda API
        if props.get("Architectures"):
            fn.architectures = props["Architectures"]
        if props.get("TracingConfig"):
            fn.tracing_config = props["TracingConfig"]
        if (props.get("EphemeralStorage") or {}).get("Size"):
            fn.ephemeral_storage = int(props["EphemeralStorage"]["Size"])
        return fn

    LambdaFunction.__init__ = fn_init
    LambdaFunction.get_configuration = fn_get_configuration
    LambdaFunction.update_configuration = fn_update_configuration
    LambdaFunction.create_from_cloudformation_json = classmethod(fn_create)

    # --- SQS: SetQueueAttributes without Policy must keep the policy (moto drops it) ----------
    orig_set_attributes = Queue._set_attributes

    def set_attributes(self, attributes, now=None):
        keep = getattr(self, "_policy_json", None) if "Policy" not in attributes else None
        orig_set_attributes(self, attributes, now)
        if keep is not None and keep.get("Statement"):
            self._policy_json = keep

    Queue._set_attributes = set_attributes

    # --- resources moto has no CloudFormation model for ---------------------------------------
    # moto's model registry (a metaclass) files each model under the service named in its
    # module path, so the added models declare one
    _MOTO_MODULE = "moto.cloudformation.pipewright"

    class _Resource:
        """Mixin of the added resource models (each one must subclass CloudFormationModel
        directly: moto finds models through CloudFormationModel.__subclasses__()). The state lives
        in moto's service backend; this object only remembers what CloudFormation needs (Ref,
        GetAtt, delete)."""

        ATTRS: dict[str, str] = {}

        def __init__(self, physical_id: str, account_id: str, region_name: str, props: dict[str, Any], **attrs: Any):
            self._physical_id = physical_id
            self.account_id = account_id
            self.region_name = region_name
            self.props = props
            self.attrs = attrs

        @property
        def physical_resource_id(self) -> str:
            return self._physical_id

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in cls.ATTRS

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

            if attribute_name not in self.ATTRS:
                raise UnformattedGetAttTemplateException()
            return self.attrs[self.ATTRS[attribute_name]]

        def is_created(self) -> bool:
            return True

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
            pass  # deletion goes through delete() of the instance

    class CfnQueuePolicy(_Resource, CloudFormationModel):
        """AWS::SQS::QueuePolicy: sets (and on delete removes) the Policy attribute of each queue."""

        __module__ = _MOTO_MODULE

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SQS::QueuePolicy"

        @staticmethod
        def _set(account_id: str, region_name: str, queues: list[str], document: Any) -> None:
            backend = sqs_backends[account_id][region_name]
            for ref in queues:
                policy = json.dumps(document) if document else ""
                backend.set_queue_attributes(_queue_name_from_ref(ref), {"Policy": policy})

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            props = cloudformation_json["Properties"]
            cls._set(account_id, region_name, props["Queues"], props["PolicyDocument"])
            return cls(resource_name, account_id, region_name, props)

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
            props = cloudformation_json["Properties"]
            removed = [q for q in original_resource.props["Queues"] if q not in props["Queues"]]
            cls._set(account_id, region_name, removed, None)
            cls._set(account_id, region_name, props["Queues"], props["PolicyDocument"])
            original_resource.props = props
            return original_resource

        def delete(self, account_id: str, region_name: str) -> None:
            backend = sqs_backends[account_id][region_name]
            for ref in self.props["Queues"]:
                name = _queue_name_from_ref(ref)
                if name in backend.queues:
                    backend.set_queue_attributes(name, {"Policy": ""})

    class CfnAlarm(_Resource, CloudFormationModel):
        """AWS::CloudWatch::Alarm: a real alarm in moto's CloudWatch backend (PutMetricAlarm)."""

        __module__ = _MOTO_MODULE

        ATTRS = {"Arn": "arn"}

        @staticmethod
        def cloudformation_name_type() -> str:
            return "AlarmName"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::CloudWatch::Alarm"

        @staticmethod
        def _put(name: str, p: dict[str, Any], account_id: str, region_name: str) -> Any:
            from moto.cloudwatch.models import Dimension, Metric, MetricDataQuery, MetricStat

            queries = None
            if p.get("Metrics"):
                queries = []
                for m in p["Metrics"]:
                    stat = None
                    if m.get("MetricStat"):
                        ms = m["MetricStat"]
                        metric = Metric(
                            ms["Metric"].get("MetricName"),
                            ms["Metric"].get("Namespace"),
                            [Dimension(d["Name"], d["Value"]) for d in ms["Metric"].get("Dimensions", [])],
                        )
                        stat = MetricStat(metric, ms.get("Period"), ms.get("Stat"), ms.get("Unit"))
                    queries.append(
                        MetricDataQuery(
                            query_id=m["Id"],
                            label=m.get("Label"),
                            period=m.get("Period"),
                            return_data=m.get("ReturnData"),
                            expression=m.get("Expression"),
                            metric_stat=stat,
                        )
                    )
            return cloudwatch_backends[account_id][region_name].put_metric_alarm(
                name=name,
                namespace=p.get("Namespace"),
                metric_name=p.get("MetricName"),
                comparison_operator=p["ComparisonOperator"],
                evaluation_periods=int(p["EvaluationPeriods"]),
                period=int(p["Period"]) if p.get("Period") is not None else None,
                threshold=float(p["Threshold"]) if p.get("Threshold") is not None else None,
                statistic=p.get("Statistic"),
                description=p.get("AlarmDescription"),
                dimensions=[{"Name": d["Name"], "Value": d["Value"]} for d in p.get("Dimensions", [])],
                alarm_actions=p.get("AlarmActions", []),
                metric_data_queries=queries,
                datapoints_to_alarm=int(p["DatapointsToAlarm"]) if p.get("DatapointsToAlarm") is not None else None,
                extended_statistic=p.get("ExtendedStatistic"),
                ok_actions=p.get("OKActions", []),
                insufficient_data_actions=p.get("InsufficientDataActions", []),
                unit=p.get("Unit"),
                actions_enabled=str(p.get("ActionsEnabled", True)).lower() == "true",
                treat_missing_data=p.get("TreatMissingData"),
                evaluate_low_sample_count_percentile=p.get("EvaluateLowSampleCountPercentile"),
                threshold_metric_id=p.get("ThresholdMetricId"),
            )

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            props = cloudformation_json["Properties"]
            alarm = cls._put(resource_name, props, account_id, region_name)
            return cls(resource_name, account_id, region_name, props, arn=alarm.alarm_arn)

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
            props = cloudformation_json["Properties"]
            name = props.get("AlarmName") or original_resource.physical_resource_id
            if name != original_resource.physical_resource_id:  # a new name replaces the alarm
                original_resource.delete(account_id, region_name)
            alarm = cls._put(name, props, account_id, region_name)
            return cls(name, account_id, region_name, props, arn=alarm.alarm_arn)

        def delete(self, account_id: str, region_name: str) -> None:
            cloudwatch_backends[account_id][region_name].delete_alarms([self.physical_resource_id])

    class CfnSchedule(_Resource, CloudFormationModel):
        """AWS::Scheduler::Schedule: a schedule in moto's EventBridge Scheduler backend."""

        __module__ = _MOTO_MODULE

        ATTRS = {"Arn": "arn"}

        @staticmethod
        def cloudformation_name_type() -> str:
            return "Name"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Scheduler::Schedule"

        @staticmethod
        def _args(name: str, p: dict[str, Any]) -> dict[str, Any]:
            return dict(
                description=p.get("Description"),
                end_date=p.get("EndDate"),
                flexible_time_window=p["FlexibleTimeWindow"],
                group_name=p.get("GroupName"),
                kms_key_arn=p.get("KmsKeyArn"),
                name=name,
                schedule_expression=p["ScheduleExpression"],
                schedule_expression_timezone=p.get("ScheduleExpressionTimezone"),
                start_date=p.get("StartDate"),
                state=p.get("State"),
                target=p["Target"],
            )

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            props = cloudformation_json["Properties"]
            backend = scheduler_backends[account_id][region_name]
            sched = backend.create_schedule(action_after_completion=props.get("ActionAfterCompletion"), **cls._args(resource_name, props))
            return cls(resource_name, account_id, region_name, props, arn=sched.arn)

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
            props = cloudformation_json["Properties"]
            name = props.get("Name") or original_resource.physical_resource_id
            backend = scheduler_backends[account_id][region_name]
            if name != original_resource.physical_resource_id or props.get("GroupName") != original_resource.props.get("GroupName"):
                original_resource.delete(account_id, region_name)
                sched = backend.create_schedule(action_after_completion=props.get("ActionAfterCompletion"), **cls._args(name, props))
            else:
                sched = backend.update_schedule(**cls._args(name, props))
            return cls(name, account_id, region_name, props, arn=sched.arn)

        def delete(self, account_id: str, region_name: str) -> None:
            scheduler_backends[account_id][region_name].delete_schedule(self.props.get("GroupName"), self.physical_resource_id)

    class CfnTableBucket(_Resource, CloudFormationModel):
        """AWS::S3Tables::TableBucket (Ref and GetAtt TableBucketARN: the ARN)."""

        __module__ = _MOTO_MODULE

        ATTRS = {"TableBucketARN": "arn"}

        @staticmethod
        def cloudformation_name_type() -> str:
            return "TableBucketName"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::S3Tables::TableBucket"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            tb = s3tables_backends[account_id][region_name].create_table_bucket(resource_name)
            return cls(tb.arn, account_id, region_name, cloudformation_json["Properties"], arn=tb.arn)

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
            props = cloudformation_json["Properties"]
            if props.get("TableBucketName", original_resource.props.get("TableBucketName")) != original_resource.props.get("TableBucketName"):
                original_resource.delete(account_id, region_name)
                return cls.create_from_cloudformation_json(props["TableBucketName"], cloudformation_json, account_id, region_name)
            original_resource.props = props  # encryption/maintenance: moto's s3tables has no API for them
            return original_resource

        def delete(self, account_id: str, region_name: str) -> None:
            s3tables_backends[account_id][region_name].delete_table_bucket(self.attrs["arn"])

    class CfnNamespace(_Resource, CloudFormationModel):
        """AWS::S3Tables::Namespace (Ref: `TableBucketARN|Namespace`)."""

        __module__ = _MOTO_MODULE

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::S3Tables::Namespace"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            p = cloudformation_json["Properties"]
            s3tables_backends[account_id][region_name].create_namespace(p["TableBucketARN"], p["Namespace"])
            return cls(f"{p['TableBucketARN']}|{p['Namespace']}", account_id, region_name, p)

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
            p = cloudformation_json["Properties"]
            if p != original_resource.props:  # both properties require replacement
                new = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
                original_resource.delete(account_id, region_name)
                return new
            return original_resource

        def delete(self, account_id: str, region_name: str) -> None:
            s3tables_backends[account_id][region_name].delete_namespace(self.props["TableBucketARN"], self.props["Namespace"])

    class CfnTable(_Resource, CloudFormationModel):
        """AWS::S3Tables::Table (Ref and GetAtt TableARN; GetAtt WarehouseLocation, VersionToken)."""

        __module__ = _MOTO_MODULE

        ATTRS = {"TableARN": "arn", "WarehouseLocation": "warehouse", "VersionToken": "token"}

        @staticmethod
        def cloudformation_name_type() -> str:
            return "TableName"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::S3Tables::Table"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            p = cloudformation_json["Properties"]
            t = s3tables_backends[account_id][region_name].create_table(
                p["TableBucketARN"], p["Namespace"], resource_name, p.get("OpenTableFormat", "ICEBERG")
            )
            if p.get("IcebergMetadata"):
                _initial_iceberg_metadata(t, p["IcebergMetadata"], account_id)
            return cls(t.arn, account_id, region_name, p, arn=t.arn, warehouse=t.warehouse_location, token=t.version_token)

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
            p = cloudformation_json["Properties"]
            keys = ("TableBucketARN", "Namespace", "TableName", "OpenTableFormat")
            if any(p.get(k) != original_resource.props.get(k) for k in keys):
                original_resource.delete(account_id, region_name)
                return cls.create_from_cloudformation_json(p.get("TableName") or new_resource_name, cloudformation_json, account_id, region_name)
            original_resource.props = p  # schema/maintenance: moto's s3tables has no API for them
            return original_resource

        def delete(self, account_id: str, region_name: str) -> None:
            p = self.props
            s3tables_backends[account_id][region_name].delete_table(p["TableBucketARN"], p["Namespace"], p.get("TableName") or self.physical_resource_id.split("/")[-1])

    class CfnSubscription(_Resource, CloudFormationModel):
        """AWS::SNS::Subscription: Subscribe / Unsubscribe on the SNS backend (Ref = the subscription ARN)."""

        __module__ = _MOTO_MODULE

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SNS::Subscription"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            p = cloudformation_json["Properties"]
            s = sns_backends[account_id][region_name].subscribe(p["TopicArn"], p["Endpoint"], p["Protocol"])
            return cls(s.arn, account_id, region_name, p)

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
            p = cloudformation_json["Properties"]
            if any(p.get(k) != original_resource.props.get(k) for k in ("TopicArn", "Endpoint", "Protocol")):
                original_resource.delete(account_id, region_name)
                return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
            original_resource.props = p
            return original_resource

        def delete(self, account_id: str, region_name: str) -> None:
            sns_backends[account_id][region_name].unsubscribe(self.physical_resource_id)

    class CfnBucketPolicy(_Resource, CloudFormationModel):
        """AWS::S3::BucketPolicy: PutBucketPolicy / DeleteBucketPolicy on the S3 backend."""

        __module__ = _MOTO_MODULE

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::S3::BucketPolicy"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            p = cloudformation_json["Properties"]
            s3_backends[account_id][get_partition(region_name)].put_bucket_policy(p["Bucket"], json.dumps(p["PolicyDocument"]).encode())
            return cls(resource_name, account_id, region_name, p)

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
            p = cloudformation_json["Properties"]
            if p["Bucket"] != original_resource.props["Bucket"]:
                original_resource.delete(account_id, region_name)
            s3_backends[account_id][get_partition(region_name)].put_bucket_policy(p["Bucket"], json.dumps(p["PolicyDocument"]).encode())
            original_resource.props = p
            return original_resource

        def delete(self, account_id: str, region_name: str) -> None:
            backend = s3_backends[account_id][get_partition(region_name)]
            if self.props["Bucket"] in backend.buckets:
                backend.delete_bucket_policy(self.props["Bucket"])

    # moto enforces bucket-policy statements with principal * but ignores their conditions, so
    # the usual `Deny s3:* if aws:SecureTransport is false` would deny every request. Evaluate
    # the conditions we can (the loopback endpoint stands in for TLS: SecureTransport is true);
    # a statement with a condition we cannot evaluate does not apply.
    orig_get_permission = FakeBucket.get_permission

    def get_permission(self, action, resource):
        if self.policy is None:
            return orig_get_permission(self, action, resource)
        doc = json.loads(self.policy.decode() if isinstance(self.policy, bytes) else self.policy)
        ctx = {"aws:securetransport": "true", "aws:sourceaccount": self.account_id}
        kept = [st for st in _as_list(doc.get("Statement")) if _condition_holds(st.get("Condition"), ctx)]
        for st in kept:
            st.pop("Condition", None)
        saved = self.policy
        try:
            self.policy = json.dumps({**doc, "Statement": kept}).encode() if kept else None
            return orig_get_permission(self, action, resource)
        finally:
            self.policy = saved

    FakeBucket.get_permission = get_permission

    # A CREATE change set is applied through ResourceMap.update(), which adds resources in
    # template order and ignores DependsOn (create_stack honours it). CloudFormation creates
    # dependencies first: a bucket that DependsOn its queue's policy must find the policy.
    orig_diff = parsing.ResourceMap.build_resource_diff

    def build_resource_diff(self, other_template, parameters=None):
        diff = orig_diff(self, other_template, parameters)
        resources = other_template.get("Resources", {})
        order: list[str] = []

        def visit(name: str, seen: set[str]) -> None:
            if name in order or name in seen or name not in resources:
                return
            seen.add(name)
            for dep in _as_list(resources[name].get("DependsOn")):
                visit(dep, seen)
            order.append(name)

        for name in resources:
            visit(name, set())
        diff["Add"] = sorted(diff["Add"], key=order.index)
        return diff

    parsing.ResourceMap.build_resource_diff = build_resource_diff

    # An executed change set leaves the stack's outputs as they were before (empty for a
    # CREATE change set): recompute them from the new template, as create/update_stack do.
    from moto.cloudformation.models import ChangeSet

    orig_apply = ChangeSet.apply

    def apply(self):
        orig_apply(self)
        self.stack.template = self.template
        self.stack._parse_template()
        self.stack.output_map = self.stack._create_output_map()

    ChangeSet.apply = apply

    # moto finds models through CloudFormationModel.__subclasses__(), cached
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
    added = {CfnBucketPolicy, CfnSubscription, CfnQueuePolicy, CfnAlarm, CfnSchedule, CfnTableBucket, CfnNamespace, CfnTable}
    missing = [c.cloudformation_type() for c in added if parsing.get_model_map().get(c.cloudformation_type()) is not c]
    if missing:
        raise RuntimeError(f"CloudFormation models not registered: {missing}")
    _ = (ValidationError, lambda_backends)


# ---------------------------------------------------------------------------------------------
# Patch 2: event source mappings exist but never consume
# ---------------------------------------------------------------------------------------------


def patch_inert_event_source_mappings() -> None:
    """moto registers an SQS mapping on the queue; Queue.add_message then receives and 'invokes'
    (Docker) and, without Docker, fails every message into the DLQ. We keep the mapping in the
    Lambda backend (list/get/update/delete and its State work) but not on the queue."""
    from moto.awslambda.models import LambdaBackend
    from moto.sqs.models import sqs_backends

    orig = LambdaBackend.create_event_source_mapping

    def create_event_source_mapping(self, spec):
        esm = orig(self, spec)
        for queue in sqs_backends[self.account_id][self.region_name].queues.values():
            if queue.queue_arn == esm.event_source_arn:
                queue.lambda_event_source_mappings.pop(esm.function_arn, None)
        return esm

    LambdaBackend.create_event_source_mapping = create_event_source_mapping


# ---------------------------------------------------------------------------------------------
# Patch 3: StartMessageMoveTask / ListMessageMoveTasks / CancelMessageMoveTask
# ---------------------------------------------------------------------------------------------


class MessageMoveTask:
    def __init__(self, source: Any, destination_arn: str | None, rate: int | None):
        self.task_id = str(uuid.uuid4())
        self.source = source
        self.source_arn = source.queue_arn
        self.destination_arn = destination_arn
        self.rate = rate
        self.status = "RUNNING"
        self.moved = 0
        self.to_move = 0
        self.failure_reason: str | None = None
        self.started = int(time.time() * 1000)
        self.cancel_requested = threading.Event()
        self.handle = base64.b64encode(
            json.dumps({"taskId": self.task_id, "sourceArn": self.source_arn}).encode()
        ).decode()

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "Status": self.status,
            "SourceArn": self.source_arn,
            "ApproximateNumberOfMessagesMoved": self.moved,
            "ApproximateNumberOfMessagesToMove": self.to_move,
            "StartedTimestamp": self.started,
        }
        if self.status == "RUNNING":
            d["TaskHandle"] = self.handle
        if self.destination_arn:
            d["DestinationArn"] = self.destination_arn
        if self.rate:
            d["MaxNumberOfMessagesPerSecond"] = self.rate
        if self.failure_reason:
            d["FailureReason"] = self.failure_reason
        return d


def patch_message_move_tasks() -> None:
    from moto.core.responses import ActionResult
    from moto.sqs.exceptions import SQSException
    from moto.sqs.models import SQSBackend
    from moto.sqs.responses import SQSResponse

    lock = threading.Lock()

    # remember each dead letter's source queue (AWS redrives a message to where it came from)
    orig_receive = SQSBackend.receive_message

    def receive_message(self, queue_name, *args, **kwargs):
        queue = self.get_queue(queue_name)
        dlq = queue.dead_letter_queue
        result = orig_receive(self, queue_name, *args, **kwargs)
        if dlq is not None:
            for m in list(dlq._messages):
                if not hasattr(m, "pipewright_source_arn"):
                    m.pipewright_source_arn = queue.queue_arn
        return result

    SQSBackend.receive_message = receive_message

    def _queue_by_arn(backend: Any, arn: str) -> Any:
        for q in backend.queues.values():
            if q.queue_arn == arn:
                return q
        raise SQSException("ResourceNotFoundException", f"The resource that you specified for the SourceArn parameter doesn't exist: {arn}")

    def _run(backend: Any, task: MessageMoveTask) -> None:
        try:
            src = task.source
            candidates = [m for m in list(src._messages) if m.visible and m not in src.pending_messages]
            task.to_move = len(candidates)
            for m in candidates:
                if task.cancel_requested.is_set():
                    task.status = "CANCELLED"
                    return
                if task.destination_arn:
                    dest = _queue_by_arn(backend, task.destination_arn)
                else:
                    origin = getattr(m, "pipewright_source_arn", None)
                    sources = backend.list_dead_letter_source_queues(src.name)
                    if origin:
                        dest = _queue_by_arn(backend, origin)
                    elif len(sources) == 1:
                        dest = sources[0]
                    else:
                        raise SQSException("InvalidParameterValue", "the source queue of a message is unknown")
                if m not in src._messages or not m.visible:
                    continue  # received or deleted meanwhile
                src._messages.remove(m)
                m.receipt_handle = None
                m.approximate_receive_count = 0
                m.approximate_first_receive_timestamp = None
                m.visible_at = 0.0
                m.delayed_until = 0.0
                if hasattr(m, "pipewright_source_arn"):
                    del m.pipewright_source_arn
                dest.add_message(m)
                task.moved += 1
                if task.rate:
                    time.sleep(1.0 / task.rate)
            task.status = "CANCELLED" if task.cancel_requested.is_set() else "COMPLETED"
        except Exception as e:  # the task fails; the API call already returned
            task.status = "FAILED"
            task.failure_reason = getattr(e, "message", None) or str(e)

    def start_message_move_task(self):
        backend = self.sqs_backend
        source_arn = self._get_param("SourceArn")
        destination_arn = self._get_param("DestinationArn")
        rate = self._get_param("MaxNumberOfMessagesPerSecond")
        rate = int(rate) if rate not in (None, "") else None
        if rate is not None and not 1 <= rate <= 500:
            raise SQSException("InvalidParameterValue", "Value for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: Must be between 1 and 500.")
        source = _queue_by_arn(backend, source_arn)
        if not backend.list_dead_letter_source_queues(source.name):
            raise SQSException("InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue.")
        if destination_arn:
            _queue_by_arn(backend, destination_arn)
        with lock:
            tasks = backend.__dict__.setdefault("pipewright_move_tasks", [])
            if any(t.source_arn == source_arn and t.status in ("RUNNING", "CANCELLING") for t in tasks):
                raise SQSException("UnsupportedOperation", "There is already a task running. Only one active task is allowed for a source queue arn at a given time.")
            task = MessageMoveTask(source, destination_arn, rate)
            tasks.append(task)
        threading.Thread(target=_run, args=(backend, task), daemon=True).start()
        return ActionResult({"TaskHandle": task.handle})

    def list_message_move_tasks(self):
        backend = self.sqs_backend
        source_arn = self._get_param("SourceArn")
        max_results = self._get_param("MaxResults")
        max_results = int(max_results) if max_results not in (None, "") else 1
        if not 1 <= max_results <= 10:
            raise SQSException("InvalidParameterValue", "Value for parameter MaxResults is invalid. Reason: You must enter a number that's between 1 and 10.")
        _queue_by_arn(backend, source_arn)
        tasks = [t for t in backend.__dict__.get("pipewright_move_tasks", []) if t.source_arn == source_arn]
        results = [t.describe() for t in reversed(tasks)][:max_results]
        return ActionResult({"Results": results})

    def cancel_message_move_task(self):
        backend = self.sqs_backend
        handle = self._get_param("TaskHandle")
        for t in backend.__dict__.get("pipewright_move_tasks", []):
            if t.handle == handle:
                if t.status != "RUNNING":
                    raise SQSException("FailedPrecondition", "Only active tasks can be cancelled.")
                t.status = "CANCELLING"
                t.cancel_requested.set()
                return ActionResult({"ApproximateNumberOfMessagesMoved": t.moved})
        raise SQSException("ResourceNotFoundException", "Task does not exist.")

    SQSResponse.start_message_move_task = start_message_move_task
    SQSResponse.list_message_move_tasks = list_message_move_tasks
    SQSResponse.cancel_message_move_task = cancel_message_move_task


# ---------------------------------------------------------------------------------------------
# Patch 4: S3 event messages in AWS's format
# ---------------------------------------------------------------------------------------------

_seq_lock = threading.Lock()
_seq_last = [0]


def _sequencer() -> str:
    with _seq_lock:
        _seq_last[0] = max(_seq_last[0] + 1, time.time_ns())
        return f"{_seq_last[0]:018X}"


def _request_ids() -> dict[str, str]:
    rid = uuid.uuid4().hex[:16].upper()
    host = base64.b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes).decode()
    return {"x-amz-request-id": rid, "x-amz-id-2": host}


def patch_s3_event_format() -> None:
    from moto.s3 import notifications

    def _get_s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        name = event_name[3:] if event_name.startswith("s3:") else event_name
        obj: dict[str, Any] = {"key": aws_encode_key(key.name)}
        if not name.startswith("ObjectRemoved"):
            obj["size"] = key.size
            obj["eTag"] = key.etag.replace('"', "")
        version_id = getattr(key, "version_id", None)
        if version_id and version_id != "null" and getattr(bucket, "versioning_status", None) in ("Enabled", "Suspended"):
            obj["versionId"] = version_id
        obj["sequencer"] = _sequencer()
        principal = f"AWS:AIDA{bucket.account_id}PWMOTO"
        return {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": bucket.region_name,
                    "eventTime": _iso_ms_z(),
                    "eventName": name,
                    "userIdentity": {"principalId": principal},
                    "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                    "responseElements": _request_ids(),
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "configurationId": notification_id,
                        "bucket": {
                            "name": bucket.name,
                            "ownerIdentity": {"principalId": f"A{bucket.account_id}PWMOTO"},
                            "arn": bucket.arn,
                        },
                        "object": obj,
                    },
                }
            ]
        }

    def _get_test_event(bucket_name: str) -> dict[str, Any]:
        ids = _request_ids()
        return {
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": _iso_ms_z(),
            "Bucket": bucket_name,
            "RequestId": ids["x-amz-request-id"],
            "HostId": ids["x-amz-id-2"],
        }

    notifications._get_s3_event = _get_s3_event
    notifications._get_test_event = _get_test_event


# ---------------------------------------------------------------------------------------------
# Patch 5: filters match the URL-encoded key
# ---------------------------------------------------------------------------------------------


def patch_filter_on_encoded_key() -> None:
    from moto.s3.models import Notification

    orig = Notification._key_matches

    def _key_matches(self, key_name: str) -> bool:
        return orig(self, aws_encode_key(key_name))

    Notification._key_matches = _key_matches


# ---------------------------------------------------------------------------------------------
# Patch 6: validate destination queues when a notification configuration is written
# ---------------------------------------------------------------------------------------------


def _matches(pattern: str, value: str, case_insensitive: bool = False) -> bool:
    if case_insensitive:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern)


def _condition_holds(condition: dict[str, Any] | None, context: dict[str, str]) -> bool:
    """Evaluates the condition keys S3 supplies when it delivers (aws:SourceArn, aws:SourceAccount).
    Any other key is unknown here and makes the statement not apply (fail closed)."""
    for op, entries in (condition or {}).items():
        base = op.replace("ForAnyValue:", "").replace("ForAllValues:", "")
        if_exists = base.endswith("IfExists")
        base = base[: -len("IfExists")] if if_exists else base
        for key, values in entries.items():
            actual = context.get(key.lower())
            if actual is None:
                if if_exists:
                    continue
                return False
            values = [str(v) for v in _as_list(values)]
            if base == "Bool":
                ok = actual.lower() in [v.lower() for v in values]
            elif base in ("ArnEquals", "StringEquals"):
                ok = actual in values
            elif base == "StringEqualsIgnoreCase":
                ok = actual.lower() in [v.lower() for v in values]
            elif base in ("ArnLike", "StringLike"):
                ok = any(_matches(v, actual) for v in values)
            elif base in ("ArnNotEquals", "StringNotEquals"):
                ok = actual not in values
            elif base in ("ArnNotLike", "StringNotLike"):
                ok = not any(_matches(v, actual) for v in values)
            else:
                return False
            if not ok:
                return False
    return True


def _statement_applies(st: dict[str, Any], queue_arn: str, context: dict[str, str]) -> bool:
    principal = st.get("Principal")
    if principal is None or "NotPrincipal" in st:
        return False
    if principal != "*":
        services = _as_list(principal.get("Service")) if isinstance(principal, dict) else []
        aws = _as_list(principal.get("AWS")) if isinstance(principal, dict) else []
        if "s3.amazonaws.com" not in services and "*" not in aws:
            return False
    if "NotAction" in st or "NotResource" in st:
        return False
    if not any(_matches(a, "sqs:SendMessage", case_insensitive=True) for a in _as_list(st.get("Action"))):
        return False
    resources = _as_list(st.get("Resource", "*"))
    if not any(_matches(r, queue_arn) for r in resources):
        return False
    return _condition_holds(st.get("Condition"), context)


def s3_may_send(policy_json: str | None, queue_arn: str, bucket_arn: str, bucket_account: str) -> bool:
    """Whether a queue policy lets s3.amazonaws.com send messages from this bucket: an Allow
    applies and no Deny does."""
    if not policy_json:
        return False
    doc = json.loads(policy_json) if isinstance(policy_json, str) else policy_json
    context = {"aws:sourcearn": bucket_arn, "aws:sourceaccount": bucket_account}
    allowed = False
    for st in _as_list(doc.get("Statement")):
        if _statement_applies(st, queue_arn, context):
            if st.get("Effect") == "Deny":
                return False
            if st.get("Effect") == "Allow":
                allowed = True
    return allowed


def patch_destination_validation() -> None:
    from moto.s3.exceptions import S3ClientError
    from moto.s3.models import FakeBucket
    from moto.sqs.models import sqs_backends

    class UnableToValidateDestinations(S3ClientError):
        code = "InvalidArgument"

        def __init__(self, failures: list[tuple[str, str]]):
            super().__init__("InvalidArgument", "Unable to validate the following destination configurations")
            # AWS lists each destination as ArgumentName1/ArgumentValue1, ...; moto's error
            # template has one ArgumentName/ArgumentValue pair: give the first failure there
            self.argument_name = failures[0][0]
            self.argument_value = failures[0][1]
            self.failures = failures

    orig = FakeBucket.set_notification_configuration

    def set_notification_configuration(self, notification_config):
        failures = []
        for q in (notification_config or {}).get("QueueConfiguration") or []:
            arn = q["Queue"]
            parts = arn.split(":")
            account, region, name = parts[4], parts[3], parts[5]
            queue = sqs_backends[account][region].queues.get(name)
            if queue is None:
                failures.append((arn, "The destination queue does not exist"))
            elif not s3_may_send(queue.policy, queue.queue_arn, self.arn, self.account_id):
                failures.append((arn, "Permissions on the destination queue do not allow S3 to publish notifications from this bucket"))
        if failures:
            raise UnableToValidateDestinations(failures)
        return orig(self, notification_config)

    FakeBucket.set_notification_configuration = set_notification_configuration


# ---------------------------------------------------------------------------------------------
# Patch 7: S3 XML document roots as AWS sends them
# ---------------------------------------------------------------------------------------------

# Output root elements of S3 operations whose result is the body (no payload member). moto's
# serializer takes the root from the operation's `resultWrapper` (moto adds one for most
# operations) and falls back to `<Operation>Response`, which no AWS S3 response has. The names are
# the `@xmlName` of the output structures in the S3 Smithy model / the S3 API reference.
S3_XML_ROOTS = {
    "GetBucketVersioning": "VersioningConfiguration",
    # the deprecated operation: moto answers GetBucketNotificationConfiguration of a bucket without
    # notifications through it (`<GetBucketNotificationResponse/>`)
    "GetBucketNotification": "NotificationConfiguration",
    "GetBucketAccelerateConfiguration": "AccelerateConfiguration",
    "GetBucketRequestPayment": "RequestPaymentConfiguration",
    "GetBucketWebsite": "WebsiteConfiguration",
    "GetBucketLifecycle": "LifecycleConfiguration",
}


def patch_s3_xml_roots() -> None:
    from moto.core.utils import get_service_model  # cached: the model moto's serializer uses

    model = get_service_model("s3")
    operations = model._service_description["operations"]
    for operation, root in S3_XML_ROOTS.items():
        operations[operation]["output"]["resultWrapper"] = root
    model._instance_cache.clear()  # operation models built before carry the old output shape


# ---------------------------------------------------------------------------------------------
# Patch 8: CloudWatch over the Smithy RPC v2 CBOR protocol
# ---------------------------------------------------------------------------------------------

CW_CBOR_PREFIX = "/service/GraniteServiceVersion20100801/operation/"
CW_TARGET_PREFIX = "GraniteServiceVersion20100801"


def cbor_to_json_value(value: Any) -> Any:
    """A decoded CBOR request value -> the awsJson1_0 form moto's request parser reads: timestamps
    (tag 1, decoded to datetime) as epoch seconds, blobs base64, non-finite doubles as strings."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, dict):
        return {k: cbor_to_json_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [cbor_to_json_value(v) for v in value]
    return value


def json_to_cbor_value(value: Any, shape: Any) -> Any:
    """A value of moto's awsJson1_0 response -> its RPC v2 CBOR form, typed by the botocore shape:
    structures/maps as maps (members as named in the model, nulls left out), lists as arrays,
    timestamps as datetimes (encoded as tag 1 epoch seconds), double/float always as CBOR floats,
    integer/long as integers, blobs as byte strings."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure":
        out = {}
        for name, member in shape.members.items():
            if value.get(name) is not None:
                out[name] = json_to_cbor_value(value[name], member)
        return out
    if kind == "list":
        return [json_to_cbor_value(v, shape.member) for v in value]
    if kind == "map":
        return {k: json_to_cbor_value(v, shape.value) for k, v in value.items() if v is not None}
    if kind == "timestamp":
        if isinstance(value, str):
            try:
                return datetime.fromtimestamp(float(value), tz=timezone.utc)
            except ValueError:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
        return datetime.fromtimestamp(value, tz=timezone.utc)
    if kind in ("double", "float"):
        return float(value)  # also "NaN", "Infinity", "-Infinity"
    if kind in ("integer", "long", "short", "byte"):
        return int(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if kind == "blob":
        return base64.b64decode(value) if isinstance(value, str) else bytes(value)
    return value


def cbor_encode(value: Any) -> bytes:
    import cbor2

    # datetime -> tag 1 with epoch seconds (int, or float with a fraction); floats stay 8-byte
    # floats (not canonical: a double member must never arrive as a CBOR integer)
    return cbor2.dumps(value, datetime_as_timestamp=True, timezone=timezone.utc)


def patch_cloudwatch_cbor() -> None:
    import io

    import cbor2
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.core.utils import camelcase_to_underscores, get_service_model
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from werkzeug.wsgi import get_input_stream

    orig_call = DomainDispatcherApplication.__call__

    def respond(start_response, status: int, payload: Any, headers: list[tuple[str, str]]) -> list[bytes]:
        body = b"" if payload is None else cbor_encode(payload)
        reasons = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error", 501: "Not Implemented"}
        out = [(k, v) for k, v in headers if k.lower() not in ("content-type", "content-length")]
        out += [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"), ("Content-Length", str(len(body)))]
        start_response(f"{status} {reasons.get(status, 'Error')}", out)
        return [body]

    def error(start_response, status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None) -> list[bytes]:
        return respond(start_response, status, {"__type": code, "message": message}, headers or [])

    def cbor_call(self, environ, start_response):
        operation = environ["PATH_INFO"][len(CW_CBOR_PREFIX):]
        model = get_service_model("cloudwatch")
        if operation not in model.operation_names:
            return error(start_response, 404, "UnknownOperationException", f"Unknown operation {operation}")
        if not hasattr(CloudWatchResponse, camelcase_to_underscores(operation)):
            return error(start_response, 501, "NotImplemented", f"{operation} is not implemented by the emulator (moto 5.2.1)")
        raw = get_input_stream(environ).read()
        try:
            params = cbor2.loads(raw) if raw else {}
            if not isinstance(params, dict):
                raise ValueError("the request body is not a CBOR map")
        except Exception as e:
            return error(start_response, 400, "SerializationException", f"invalid CBOR request body: {e}")
        body = json.dumps(cbor_to_json_value(params)).encode()

        # the same request in the awsJson1_0 protocol moto's CloudWatch speaks
        inner = dict(environ)
        inner.update(
            {
                "PATH_INFO": "/",
                "RAW_URI": "/",
                "REQUEST_URI": "/",
                "QUERY_STRING": "",
                "CONTENT_TYPE": "application/x-amz-json-1.0",
                "CONTENT_LENGTH": str(len(body)),
                "HTTP_X_AMZ_TARGET": f"{CW_TARGET_PREFIX}.{operation}",
                "wsgi.input": io.BytesIO(body),
            }
        )
        inner.pop("HTTP_ACCEPT", None)
        inner.pop("HTTP_TRANSFER_ENCODING", None)
        inner.pop("wsgi.input_terminated", None)
        # what the client signed, for moto's signature check when IAM is enforced (patch 13)
        changed = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH", "accept": "HTTP_ACCEPT",
                   "transfer-encoding": "HTTP_TRANSFER_ENCODING"}
        inner["HTTP_X_PIPEWRIGHT_SIGNED_ORIGINAL"] = base64.b64encode(json.dumps({
            "path": environ.get("RAW_URI") or environ["PATH_INFO"],
            "body": base64.b64encode(raw).decode(),
            "headers": {k: environ[v] for k, v in changed.items() if environ.get(v) is not None},
        }).encode()).decode()
        with self.lock:
            app = self.app_instances.get("cloudwatch")
            if app is None:
                app = self.app_instances["cloudwatch"] = self.create_app("cloudwatch")
        captured: dict[str, Any] = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = int(status.split()[0]), headers
            return lambda _data: None

        result = app(inner, capture)
        try:
            answer = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        status = captured["status"]
        keep = [(k, v) for k, v in captured["headers"] if k.lower().startswith("x-amzn-") or k.lower().startswith("access-control-")]
        try:
            doc = json.loads(answer) if answer.strip() else {}
        except ValueError:
            doc = None
        if status >= 300:
            if isinstance(doc, dict) and doc.get("__type"):
                message = doc.get("message") or doc.get("Message") or ""
                return error(start_response, status, doc["__type"], message, keep)
            return error(start_response, status if status >= 400 else 500, "InternalFailure", answer.decode("utf-8", "replace")[:500], keep)
        output = model.operation_model(operation).output_shape
        if output is None:
            return respond(start_response, status, None, keep)
        return respond(start_response, status, json_to_cbor_value(doc or {}, output), keep)

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO", "").startswith(CW_CBOR_PREFIX):
            return cbor_call(self, environ, start_response)
        environ.pop("HTTP_X_PIPEWRIGHT_SIGNED_ORIGINAL", None)  # only patch 8 sets it
        return orig_call(self, environ, start_response)

    DomainDispatcherApplication.__call__ = __call__


# ---------------------------------------------------------------------------------------------
# Patch 9: S3 Tables response members as AWS names and types them
# ---------------------------------------------------------------------------------------------


def _utc_z(value: Any) -> Any:
    """moto writes `datetime.isoformat()` (`...+00:00`); AWS's date-time is RFC 3339 in UTC (`Z`)."""
    if not isinstance(value, str):
        return value
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    dt = dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}Z"


def patch_s3tables_shapes() -> None:
    from moto.s3tables.models import s3tables_backends
    from moto.s3tables.responses import S3TablesResponse

    def _table(self, table_bucket_arn: str, namespace: str, name: str) -> Any:
        return s3tables_backends[self.current_account][self.region].get_table(table_bucket_arn, namespace, name)

    def fix_table(d: dict[str, Any]) -> dict[str, Any]:
        # managedByService is a string (the service principal of an AWS-managed table); AWS leaves
        # it out for customer tables, moto sends `false`
        if not isinstance(d.get("managedByService"), str) or not d.get("managedByService"):
            d.pop("managedByService", None)
        if d.get("metadataLocation") is None:
            d.pop("metadataLocation", None)  # optional: absent until a metadata file is set
        if "modifiedBy" in d and d["modifiedBy"] is None:
            d["modifiedBy"] = d.get("createdBy")  # required; moto has null until a rename
        for ts in ("createdAt", "modifiedAt"):
            if ts in d:
                d[ts] = _utc_z(d[ts])
        return d

    def wrap(method_name: str, fix):
        orig = getattr(S3TablesResponse, method_name)

        def method(self):
            status, headers, body = orig(self)
            if not body or status >= 300:
                return status, headers, body
            return status, headers, json.dumps(fix(self, json.loads(body)))

        setattr(S3TablesResponse, method_name, method)

    def get_table(self, d):
        return fix_table(d)

    def list_tables(self, d):
        _, table_bucket_arn = self.raw_path.lstrip("/").split("/")
        from urllib.parse import unquote

        for t in d.get("tables", []):
            table = _table(self, unquote(table_bucket_arn), t["namespace"][0], t["name"])
            # required members of TableSummary moto leaves out
            t.setdefault("type", table.type)
            t.setdefault("tableARN", table.arn)
            fix_table(t)
        return d

    def update_table_metadata_location(self, d):
        # AWS: `tableARN` and the namespace as a list (moto: `tableArn`, a string)
        if "tableArn" in d:
            d["tableARN"] = d.pop("tableArn")
        if isinstance(d.get("namespace"), str):
            d["namespace"] = [d["namespace"]]
        return d

    def create_namespace(self, d):
        if "tableBucketArn" in d:  # AWS: tableBucketARN
            d["tableBucketARN"] = d.pop("tableBucketArn")
        return d

    def with_created_at(self, d):
        return fix_table(d)

    def list_items(key):
        def fix(self, d):
            for item in d.get(key, []):
                fix_table(item)
            return d

        return fix

    wrap("get_table", get_table)
    wrap("list_tables", list_tables)
    wrap("update_table_metadata_location", update_table_metadata_location)
    wrap("create_namespace", create_namespace)
    wrap("get_table_bucket", with_created_at)
    wrap("get_namespace", with_created_at)
    wrap("list_table_buckets", list_items("tableBuckets"))
    wrap("list_namespaces", list_items("namespaces"))


# ---------------------------------------------------------------------------------------------
# Patch 10: inline IAM policies from CloudFormation stored as JSON
# ---------------------------------------------------------------------------------------------


def patch_iam_inline_policy_json() -> None:
    from moto.iam.models import Group, Role, User, iam_backends
    from moto.utilities.utils import get_partition

    # moto's CloudFormation models hand the template's PolicyDocument (a dict) to put_policy, which
    # stores it as is; GetRolePolicy then URL-encodes str(dict), a Python repr. The API stores the
    # JSON text it was given, so a document that is not text yet becomes JSON.
    for cls in (Role, User, Group):
        orig = cls.put_policy

        def put_policy(self, policy_name, policy_json, _orig=orig):
            if not isinstance(policy_json, str):
                policy_json = json.dumps(policy_json)
            return _orig(self, policy_name, policy_json)

        cls.put_policy = put_policy

    # an UPDATE of the role applies its Policies too (moto's update only changes the description)
    orig_update = Role.update_from_cloudformation_json.__func__

    def role_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        role = orig_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
        wanted = {p["PolicyName"]: p["PolicyDocument"] for p in cloudformation_json.get("Properties", {}).get("Policies") or []}
        iam = iam_backends[account_id][get_partition(region_name)]
        for name in [n for n in role.policies if n not in wanted]:
            iam.delete_role_policy(role.name, name)
        for name, document in wanted.items():
            role.put_policy(name, document)
        return role

    Role.update_from_cloudformation_json = classmethod(role_update)


# ---------------------------------------------------------------------------------------------
# 11. The `Arn` attribute of a CloudFormation log group
# ---------------------------------------------------------------------------------------------


def patch_log_group_arn_attribute() -> None:
    from moto.logs.models import LogGroup

    # AWS: `Fn::GetAtt LogGroup.Arn` is `arn:...:log-group:NAME:*` (the form IAM statements on the log
    # group's streams need); moto returns the ARN without `:*`. The API's `arn` stays as moto has it.
    orig = LogGroup.get_cfn_attribute

    def get_cfn_attribute(self, attribute_name, _orig=orig):
        value = _orig(self, attribute_name)
        if attribute_name == "Arn" and not value.endswith(":*"):
            value += ":*"
        return value

    LogGroup.get_cfn_attribute = get_cfn_attribute


# ---------------------------------------------------------------------------------------------
# 12. UpdateFunctionCode changes the architecture
# ---------------------------------------------------------------------------------------------


def patch_update_function_code_architectures() -> None:
    from moto.awslambda.exceptions import InvalidParameterValueException
    from moto.awslambda.models import LambdaFunction

    # AWS: `UpdateFunctionCode` takes `Architectures` (exactly one of arm64, x86_64) and the function
    # then runs on it (the console's "Edit runtime settings" does this); moto ignores the member.
    orig = LambdaFunction.update_function_code

    def update_function_code(self, updated_spec, _orig=orig):
        archs = updated_spec.get("Architectures")
        if archs is not None and (
            not isinstance(archs, list) or len(archs) != 1 or archs[0] not in ("arm64", "x86_64")
        ):
            raise InvalidParameterValueException(
                f"1 validation error detected: Value '{archs}' at 'architectures' failed to satisfy "
                "constraint: Member must have length less than or equal to 1, and each member must "
                "satisfy enum value set: [x86_64, arm64]"
            )
        if archs and not updated_spec.get("DryRun"):
            self.architectures = list(archs)
        return _orig(self, updated_spec)

    LambdaFunction.update_function_code = update_function_code


# ---------------------------------------------------------------------------------------------
# 13. IAM enforcement (INITIAL_NO_AUTH_ACTION_COUNT) for the services pipewright reads
# ---------------------------------------------------------------------------------------------

# The translated CloudWatch request (patch 8) carries what the client signed in this header.
SIGNED_ORIGINAL = "X-Pipewright-Signed-Original"
# Error codes of the JSON protocols for moto's query-style authentication errors.
JSON_AUTH_ERRORS = {
    "AccessDenied": "AccessDeniedException",
    "SignatureDoesNotMatch": "InvalidSignatureException",
    "InvalidClientTokenId": "UnrecognizedClientException",
    "AuthFailure": "UnrecognizedClientException",
}


def _signed_service(headers: Any) -> str:
    # `Credential=AKID/DATE/REGION/SERVICE/aws4_request` of the SigV4 Authorization header
    try:
        return headers.get("Authorization", "").split("Credential=", 1)[1].split(",", 1)[0].split("/")[3]
    except IndexError:
        return ""


def patch_iam_enforcement() -> None:
    from botocore.awsrequest import AWSRequest
    from botocore.session import get_session
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.exceptions import JsonRESTError, _RESTError
    from moto.core.responses import BaseResponse
    from moto.iam.access_control import IAMRequest

    session = get_session()
    models: dict[str, Any] = {}

    def model(service: str) -> Any:
        if service not in models:
            try:
                models[service] = session.get_service_model(service)
            except Exception:  # an unknown signing name: keep moto's answer
                models[service] = None
        return models[service]

    # (a) The signature is over the body as sent. moto's IAMRequest signs `body or data`, and for a
    # GET `data` is not the body (for Lambda's GETs it is the request headers), so every GET of a
    # REST-JSON service (Lambda, S3 Tables) failed with SignatureDoesNotMatch.
    # (b) A CloudWatch CBOR request (patch 8) reaches moto translated: its signature is checked
    # against the request as the client signed it.
    def create_aws_request(self) -> AWSRequest:
        signed = self._get_string_between("SignedHeaders=", ",", self._headers["Authorization"]).split(";")
        original = self._headers.get(SIGNED_ORIGINAL)
        # a form body moto has parsed is in `data` (query protocol: IAM, STS); a GET has no body
        body = self._body or (self._data if self._method == "POST" else b"")
        path, headers = self._path, dict(self._headers.items())
        if original:
            o = json.loads(base64.b64decode(original))
            path, body = o["path"], base64.b64decode(o["body"])
            headers = {k: v for k, v in headers.items() if k.lower() not in o["headers"]}
            headers.update(o["headers"])
        headers.pop(SIGNED_ORIGINAL, None)
        request = AWSRequest(
            method=self._method, url=path, data=body, headers=self._create_headers_for_aws_request(signed, headers)
        )
        request.context["timestamp"] = headers.get("X-Amz-Date") or headers.get("x-amz-date")
        return request

    IAMRequest._create_aws_request = create_aws_request

    # (c) Authentication and authorization errors in the protocol of the service: JSON for the
    # JSON and REST-JSON protocols (with `x-amzn-query-error` where the service is query
    # compatible, as SQS and CloudWatch are), not moto's query-style XML that those SDKs cannot read.
    class QueryCompatibleJsonError(JsonRESTError):
        def __init__(self, error_type: str, message: str, query_code: str):
            super().__init__(error_type, message)
            self.query_code = query_code

        def get_headers(self, *args, **kwargs):
            return super().get_headers(*args, **kwargs) + [("x-amzn-query-error", f"{self.query_code};Sender")]

    orig = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def authenticate_and_authorize(self, iam_request_cls, resource="*", _orig=orig):
        # (d) SigV4 signs the path as sent (encoded once more) and the query with each name and value
        # percent-encoded: moto signs the decoded path and the query as sent (botocore takes a URL's
        # query as already canonical), so a request with an ARN in its path (S3 Tables' GETs) or
        # query (ListEventSourceMappings?EventSourceArn=arn:...) failed. moto keeps the path as
        # sent (`RAW_URI`) in `raw_path`.
        raw_path = getattr(self, "raw_path", None)
        if raw_path and isinstance(iam_request_cls, type) and issubclass(iam_request_cls, IAMRequest):
            base = iam_request_cls
            raw_query = urlsplit(self.uri).query
            canonical = "&".join(
                f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                for k, v in parse_qsl(raw_query, keep_blank_values=True)
            )
            as_sent = raw_path + ("?" + canonical if canonical else "")

            class AsSent(base):  # type: ignore[misc, valid-type]
                def __init__(self, *args, **kwargs):
                    super().__init__(*args, **kwargs)
                    self._path = as_sent

            iam_request_cls = AsSent
        try:
            return _orig(self, iam_request_cls, resource)
        except _RESTError as e:
            if isinstance(e, JsonRESTError):
                raise
            m = model(_signed_service(self.headers))
            json_protocol = "x-amz-json" in (self.headers.get("Content-Type") or "") or (
                m is not None and m.protocol == "rest-json"
            )
            if not json_protocol or e.error_type not in JSON_AUTH_ERRORS:
                raise
            code = JSON_AUTH_ERRORS[e.error_type]
            if m is not None and m.metadata.get("awsQueryCompatible") is not None:
                err = QueryCompatibleJsonError(code, e.message, e.error_type)
            else:
                err = JsonRESTError(code, e.message)
            err.code = e.code
            self._pipewright_auth_error = err
            raise err from e

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate_and_authorize

    # moto's `call_action` (the JSON and query services: SQS, CloudWatch, Logs, ...) answers an
    # authentication error with its body only: no error headers, `Content-Type: text/html`.
    orig_call_action = BaseResponse.call_action

    def call_action(self, _orig=orig_call_action):
        self._pipewright_auth_error = None
        status, headers, body = _orig(self)
        err = self._pipewright_auth_error
        if err is None:
            return status, headers, body
        headers = {k: v for k, v in dict(headers).items() if k.lower() not in ("status", "content-type")}
        headers.update(dict(err.get_headers()))
        return err.code, headers, err.get_body()

    BaseResponse.call_action = call_action


# ---------------------------------------------------------------------------------------------
# 14. Per-resource CloudFormation stack events
# ---------------------------------------------------------------------------------------------


def patch_resource_stack_events() -> None:
    from moto.cloudformation import parsing
    from moto.cloudformation.models import Event, Stack, cloudformation_backends

    deleting = threading.local()  # the stack being deleted (moto takes it out of `stacks` first)

    # AWS: DescribeStackEvents has an event per resource and step (CREATE_IN_PROGRESS,
    # CREATE_COMPLETE, UPDATE_*, DELETE_*, *_FAILED with the reason), which is what a deploy shows
    # as progress; moto records only the stack's own events.
    def stack_of(stack_id: str, account_id: str, region_name: str) -> Any:
        try:
            return cloudformation_backends[account_id][region_name].stacks.get(stack_id)
        except KeyError:
            return None

    def event(stack: Any, logical_id: str, resource_type: str, physical_id: str, status: str, reason: str | None = None) -> None:
        if stack is None:
            return
        stack.events.append(Event(
            stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
            physical_resource_id=physical_id or "", resource_type=resource_type, resource_status=status,
            resource_status_reason=reason, resource_properties=None,
        ))

    def physical(resource: Any) -> str:
        try:
            return str(resource.physical_resource_id or "")
        except Exception:
            return ""

    orig_create = parsing.parse_and_create_resource
    orig_update = parsing.parse_and_update_resource
    orig_delete = parsing.ResourceMap._delete_resource

    def parse_and_create_resource(logical_id, resource_json, resources_map, account_id, region_name):
        stack = stack_of(resources_map.stack_id, account_id, region_name)
        rtype = resource_json.get("Type", "")
        try:
            resource = orig_create(logical_id, resource_json, resources_map, account_id, region_name)
        except Exception as e:
            event(stack, logical_id, rtype, "", "CREATE_FAILED", str(e) or type(e).__name__)
            raise
        if resource is not None:  # None: a false Condition (AWS: no event) or a type moto skips
            event(stack, logical_id, rtype, "", "CREATE_IN_PROGRESS")
            event(stack, logical_id, rtype, physical(resource), "CREATE_IN_PROGRESS", "Resource creation Initiated")
            event(stack, logical_id, rtype, physical(resource), "CREATE_COMPLETE")
        return resource

    def parse_and_update_resource(logical_id, resource_json, resources_map, account_id, region_name):
        stack = stack_of(resources_map.stack_id, account_id, region_name)
        rtype = resource_json.get("Type", "")
        try:
            resource = orig_update(logical_id, resource_json, resources_map, account_id, region_name)
        except Exception as e:
            event(stack, logical_id, rtype, "", "UPDATE_FAILED", str(e) or type(e).__name__)
            raise
        if resource is not None:
            event(stack, logical_id, rtype, physical(resource), "UPDATE_IN_PROGRESS")
            event(stack, logical_id, rtype, physical(resource), "UPDATE_COMPLETE")
        return resource

    def delete_resource(self, parsed_resource, resource_json, _orig=orig_delete):
        _orig(self, parsed_resource, resource_json)  # a failure is retried by moto: no event
        stack = stack_of(self.stack_id, self._account_id, self._region_name) or getattr(deleting, "stack", None)
        logical_id = getattr(parsed_resource, "logical_resource_id", "")
        rtype = resource_json.get("Type", "")
        event(stack, logical_id, rtype, physical(parsed_resource), "DELETE_IN_PROGRESS")
        event(stack, logical_id, rtype, physical(parsed_resource), "DELETE_COMPLETE")

    orig_stack_delete = Stack.delete

    def stack_delete(self, _orig=orig_stack_delete):
        deleting.stack = self
        try:
            _orig(self)
        finally:
            deleting.stack = None

    parsing.parse_and_create_resource = parse_and_create_resource
    parsing.parse_and_update_resource = parse_and_update_resource
    parsing.ResourceMap._delete_resource = delete_resource
    Stack.delete = stack_delete


# ---------------------------------------------------------------------------------------------
# 15. The RedriveAllowPolicy queue attribute
# ---------------------------------------------------------------------------------------------


def patch_redrive_allow_policy() -> None:
    from moto.sqs.models import Queue

    # AWS keeps `RedriveAllowPolicy` (which source queues may use this queue as their DLQ) and returns
    # it as a JSON string. moto stores it from CreateQueue, SetQueueAttributes and CloudFormation but
    # refuses to return it (InvalidAttributeName), so nothing could read it back.
    if "RedriveAllowPolicy" not in Queue.BASE_ATTRIBUTES:
        Queue.BASE_ATTRIBUTES = [*Queue.BASE_ATTRIBUTES, "RedriveAllowPolicy"]
    Queue.redrive_allow_policy = None
    orig = Queue.attributes.fget

    def attributes(self, _orig=orig):
        result = _orig(self)
        value = result.pop("RedriveAllowPolicy", None)
        if value not in (None, ""):
            result["RedriveAllowPolicy"] = value if isinstance(value, str) else json.dumps(value)
        return result

    Queue.attributes = property(attributes)


# ---------------------------------------------------------------------------------------------
# 16. S3 ExpectedBucketOwner
# ---------------------------------------------------------------------------------------------


def patch_expected_bucket_owner() -> None:
    from moto.s3.exceptions import S3AccessDeniedError
    from moto.s3.models import s3_backends
    from moto.s3.responses import S3Response

    # AWS refuses (403 AccessDenied) any bucket or object request whose `x-amz-expected-bucket-owner`
    # header names another account than the bucket's owner. moto ignores the header, so a bucket
    # another account created under the expected name would take our uploads.
    def owner_checked(orig):
        def handler(self, request, full_url, _orig=orig):
            expected = self.headers.get("x-amz-expected-bucket-owner")
            bucket = self.parse_bucket_name_from_url(request, full_url)
            owner = s3_backends.bucket_accounts.get(bucket) if bucket else None
            if expected and owner is not None and owner[1] != expected:
                raise S3AccessDeniedError()
            return _orig(self, request, full_url)

        return handler

    S3Response._bucket_response = owner_checked(S3Response._bucket_response)
    S3Response._key_response = owner_checked(S3Response._key_response)


# ---------------------------------------------------------------------------------------------
# Patch 17: GetBucketNotificationConfiguration reports EventBridgeConfiguration
# ---------------------------------------------------------------------------------------------

# moto stores a bucket's EventBridge setting and sends its events to EventBridge, but its
# GetBucketNotificationConfiguration answer leaves the setting out: a reader cannot tell whether the
# bucket sends events to EventBridge. AWS answers `<EventBridgeConfiguration/>` when it does.


def patch_eventbridge_configuration_read() -> None:
    from moto.core.responses import ActionResult
    from moto.s3.responses import S3Response

    original = S3Response.get_bucket_notification

    def get_bucket_notification(self):  # type: ignore[no-untyped-def]
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if config is None or config.event_bridge is None:
            return original(self)

        def build(item: Any, arn_key: str) -> dict[str, Any]:
            out: dict[str, Any] = {"Id": item.id, arn_key: item.arn, "Events": item.events}
            if item.filters:
                out["Filter"] = {"Key": {"FilterRules": item.filters["S3Key"]["FilterRule"]}}
            return out

        result: dict[str, Any] = {
            "TopicConfigurations": [build(t, "TopicArn") for t in config.topic],
            "QueueConfigurations": [build(q, "QueueArn") for q in config.queue],
            "LambdaFunctionConfigurations": [build(f, "LambdaFunctionArn") for f in config.cloud_function],
            "EventBridgeConfiguration": {},
        }
        self.data["Action"] = "GetBucketNotificationConfiguration"
        return self.serialized(ActionResult(result))

    S3Response.get_bucket_notification = get_bucket_notification

# ---------------------------------------------------------------------------------------------
# Patch 18: asynchronous invocations are accepted, not run
# ---------------------------------------------------------------------------------------------

# moto runs an `Invoke` of any type in Docker, synchronously; without Docker it answers the error and
# writes "error running docker" into the function's log group, as if the function had failed. AWS
# accepts an asynchronous invocation (`InvocationType: Event`) with 202, queues it and runs it later,
# with its retries and its dead-letter queue: the caller never learns the result.


def patch_async_invocations_accepted() -> None:
    from moto.awslambda.models import LambdaFunction

    original = LambdaFunction.invoke

    def invoke(self, body, request_headers, response_headers):  # type: ignore[no-untyped-def]
        if request_headers.get("x-amz-invocation-type") != "Event":
            return original(self, body, request_headers, response_headers)
        # Accepted: the function's log group says so, with the payload, since nothing runs it here.
        self.logs_backend.ensure_log_group(self.logs_group_name)
        request_id = str(uuid.uuid4())
        now = datetime.now(timezone.utc)
        stream = f"{now:%Y/%m/%d}/[{self.version}]{request_id.replace('-', '')}"
        self.logs_backend.create_log_stream(self.logs_group_name, stream)
        lines = [
            f"START RequestId: {request_id} Version: {self.version}",
            f"pipewright-moto: asynchronous invocation accepted, not run (the emulator runs no function code): "
            f"{body.decode() if isinstance(body, bytes) else body}",
            f"END RequestId: {request_id}",
        ]
        ms = int(now.timestamp() * 1000)
        self.logs_backend.put_log_events(
            self.logs_group_name, stream, [{"timestamp": ms, "message": line} for line in lines]
        )
        return b""

    LambdaFunction.invoke = invoke


PATCHES = [
    ("cloudformation-resources", patch_cloudformation),
    ("inert-event-source-mappings", patch_inert_event_source_mappings),
    ("message-move-tasks", patch_message_move_tasks),
    ("s3-event-format", patch_s3_event_format),
    ("filter-on-encoded-key", patch_filter_on_encoded_key),
    ("destination-validation", patch_destination_validation),
    ("s3-xml-roots", patch_s3_xml_roots),
    ("cloudwatch-rpc-v2-cbor", patch_cloudwatch_cbor),
    ("s3tables-shapes", patch_s3tables_shapes),
    ("iam-inline-policy-json", patch_iam_inline_policy_json),
    ("log-group-arn-attribute", patch_log_group_arn_attribute),
    ("update-function-code-architectures", patch_update_function_code_architectures),
    ("iam-enforcement", patch_iam_enforcement),
    ("resource-stack-events", patch_resource_stack_events),
    ("redrive-allow-policy", patch_redrive_allow_policy),
    ("expected-bucket-owner", patch_expected_bucket_owner),
    ("eventbridge-configuration-read", patch_eventbridge_configuration_read),
    ("async-invocations-accepted", patch_async_invocations_accepted),
]


def apply_patches(only: list[str] | None = None) -> list[str]:
    applied = []
    for name, fn in PATCHES:
        if only is None or name in only:
            fn()
            applied.append(name)
    return applied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="moto, patched to behave closer to AWS (pipewright)")
    parser.add_argument("--host", default="127.0.0.1", help="only 127.0.0.1 (or localhost) is allowed")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--verbose", action="store_true", help="log every request on stderr")
    args = parser.parse_args(argv)

    if args.host not in ("127.0.0.1", "localhost"):
        print(f"pipewright-moto: refusing to bind {args.host}: only 127.0.0.1", file=sys.stderr)
        return 2
    problem = check_moto_version() or check_cbor2()
    if problem:
        print(problem, file=sys.stderr)
        return 2

    stop = threading.Event()  # handlers first: a stop request during start-up is honoured too
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    logging.getLogger("werkzeug").setLevel(logging.INFO if args.verbose else logging.WARNING)
    apply_patches()

    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(f"pipewright-moto ready http://{host}:{port}", flush=True)
    while not stop.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
