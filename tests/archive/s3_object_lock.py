"""The archive's S3 bucket as a client nobody here wrote sees it (boto3, AWS's Python SDK).

  s3_object_lock.py create ENDPOINT BUCKET
      makes BUCKET with Object Lock (and so versioning) on, retrying while the server starts.
  s3_object_lock.py check ENDPOINT BUCKET PREFIX MODE DAYS
      checks every full object under PREFIX/tile/ (every tile and bundle but the partial ones,
      whose paths hold `.p/`): exactly one version (never written twice), retained in MODE until
      about DAYS from now; deleting that version and shortening its retention are refused; a
      PUT over it makes a new version and leaves the locked one intact. Prints `ok N` (N full
      objects) or exits 1 naming what failed.

Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
"""

import datetime
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError


def client(endpoint):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def fail(message):
    print(f"FAILED: {message}")
    sys.exit(1)


def create(endpoint, bucket):
    s3 = client(endpoint)
    deadline = time.monotonic() + 60
    while True:
        try:
            s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
            break
        except (ClientError, EndpointConnectionError) as error:
            if time.monotonic() > deadline:
                fail(f"cannot create {bucket}: {error}")
            time.sleep(0.2)
    lock = s3.get_object_lock_configuration(Bucket=bucket)
    if lock["ObjectLockConfiguration"].get("ObjectLockEnabled") != "Enabled":
        fail(f"{bucket} has no Object Lock: {lock}")
    print("created")


def refused(what, call):
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"]
    fail(f"{what} was allowed")


def check(endpoint, bucket, prefix, mode, days):
    s3 = client(endpoint)
    under = f"{prefix}/tile/" if prefix else "tile/"
    versions = {}
    token = {}
    while True:
        page = s3.list_object_versions(Bucket=bucket, Prefix=under, **token)
        for version in page.get("Versions", []):
            versions.setdefault(version["Key"], []).append(version["VersionId"])
        if not page.get("IsTruncated"):
            break
        token = {
            "KeyMarker": page["NextKeyMarker"],
            "VersionIdMarker": page["NextVersionIdMarker"],
        }
    full = sorted(key for key in versions if ".p/" not in key)
    if not full:
        fail(f"no full object under {under}")
    now = datetime.datetime.now(datetime.timezone.utc)
    for key in full:
        if len(versions[key]) != 1:
            fail(f"{key} has {len(versions[key])} versions: a full object was written twice")
        retention = s3.get_object_retention(Bucket=bucket, Key=key, VersionId=versions[key][0])
        retention = retention["Retention"]
        if retention["Mode"] != mode:
            fail(f"{key} is retained in mode {retention['Mode']}, not {mode}")
        left = retention["RetainUntilDate"] - now
        if not datetime.timedelta(days=days - 1) < left <= datetime.timedelta(days=days, minutes=5):
            fail(f"{key} is retained until {retention['RetainUntilDate']}, not about {days} days from now")
    key = full[0]
    version = versions[key][0]
    original = s3.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()
    refused(
        f"deleting the locked version of {key}",
        lambda: s3.delete_object(Bucket=bucket, Key=key, VersionId=version),
    )
    refused(
        f"shortening the retention of {key}",
        lambda: s3.put_object_retention(
            Bucket=bucket,
            Key=key,
            VersionId=version,
            Retention={"Mode": mode, "RetainUntilDate": now + datetime.timedelta(days=1)},
        ),
    )
    s3.put_object(Bucket=bucket, Key=key, Body=b"rewritten by someone\n")
    kept = s3.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()
    if kept != original:
        fail(f"the locked version of {key} changed after a PUT over it")
    refused(
        f"deleting the locked version of {key} after a PUT over it",
        lambda: s3.delete_object(Bucket=bucket, Key=key, VersionId=version),
    )
    print(f"ok {len(full)}")


if __name__ == "__main__":
    if sys.argv[1] == "create":
        create(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
    else:
        fail(f"unknown command {sys.argv[1]}")
