"""golden-v1 against a local AWS endpoint (moto's server): prepare a work
directory and the services it needs, and list what the services hold.

    python local_aws.py prepare WORKDIR   # zone, bucket, lock table; WORKDIR/goldenpath.yaml
    python local_aws.py inventory         # JSON: secrets, records, state objects, lock items

The endpoint and credentials come from the environment (AWS_ENDPOINT_URL,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION), as for goldenpath.

The spec written to WORKDIR is examples/golden-v1/goldenpath.yaml with
only what a machine without AWS needs changed, each change checked:
  - the Terraform roots infra/{vpc,cluster,irsa} become the stand-ins
    beside this script (same variables, outputs and S3 backend, made of
    terraform_data, since the AWS provider cannot be downloaded here);
  - the S3 backend addresses buckets by path (usePathStyle), as local
    endpoints need;
  - rds is the managed local PostgreSQL instead of the RDS instance's URL;
  - the Route 53 zone is the one created here, found by its name.
"""

import json
import os
import re
import shutil
import sys

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN_V1 = os.path.dirname(HERE)
ZONE = "goldenpathidp.io"
REGION = os.environ.get("AWS_REGION", "eu-west-2")
ENVS = ["dev"]


def client(name):
    return boto3.client(name, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=REGION)


def replace_once(text, old, new, what):
    count = text.count(old)
    if count == 0:
        sys.exit(f"golden-v1 changed: cannot find {what} ({old!r})")
    return text.replace(old, new)


def derive(spec):
    for root in ("vpc", "cluster", "irsa"):
        spec = replace_once(spec, f"root: infra/{root}", f"root: stand-ins/{root}", f"the {root} root")
    spec = replace_once(spec, "region: eu-west-2, dynamodbTable:", "region: eu-west-2, usePathStyle: true, dynamodbTable:", "the S3 backends")
    spec = re.sub(
        r"      server:\n        url: [^\n]+\n        passwordSecret: [^\n]+\n",
        "      managed: {}\n",
        spec,
        count=1,
    )
    if "managed: {}" not in spec:
        sys.exit("golden-v1 changed: cannot find the rds server settings")
    spec = replace_once(spec, "      hostedZoneId: Z0GOLDENPATHIDP\n", "", "the hosted zone id")
    return spec


def prepare(workdir):
    os.makedirs(workdir, exist_ok=True)
    r53 = client("route53")
    zones = [z for z in r53.list_hosted_zones_by_name(DNSName=ZONE)["HostedZones"] if z["Name"] == ZONE + "."]
    if not zones:
        r53.create_hosted_zone(Name=ZONE, CallerReference="goldenpath-local-aws")
    s3 = client("s3")
    ddb = client("dynamodb")
    for env in ENVS:
        bucket = f"goldenpath-idp-{env}-tfstate"
        if bucket not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        table = f"goldenpath-idp-{env}-tflock"
        if table not in ddb.list_tables()["TableNames"]:
            ddb.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
    with open(os.path.join(GOLDEN_V1, "goldenpath.yaml")) as f:
        spec = derive(f.read())
    with open(os.path.join(workdir, "goldenpath.yaml"), "w") as f:
        f.write(spec)
    dest = os.path.join(workdir, "stand-ins")
    if os.path.exists(dest):
        shutil.rmtree(dest)
    shutil.copytree(os.path.join(HERE, "stand-ins"), dest)
    print(json.dumps({"zone": ZONE, "workdir": workdir}))


def inventory():
    sm = client("secretsmanager")
    secrets = [s["Name"] for p in sm.get_paginator("list_secrets").paginate() for s in p["SecretList"]]
    scheduled = [
        s["Name"]
        for p in sm.get_paginator("list_secrets").paginate(IncludePlannedDeletion=True)
        for s in p["SecretList"]
        if "DeletedDate" in s
    ]
    r53 = client("route53")
    records = []
    for z in r53.list_hosted_zones()["HostedZones"]:
        for r in r53.list_resource_record_sets(HostedZoneId=z["Id"])["ResourceRecordSets"]:
            if r["Type"] not in ("NS", "SOA"):
                records.append(f'{r["Name"]} {r["Type"]}')
    s3 = client("s3")
    objects = {}
    for b in s3.list_buckets().get("Buckets", []):
        for o in s3.list_objects_v2(Bucket=b["Name"]).get("Contents", []):
            body = s3.get_object(Bucket=b["Name"], Key=o["Key"])["Body"].read()
            try:
                state = json.loads(body)
                resources = len(state.get("resources", []))
            except ValueError:
                resources = -1
            objects[f'{b["Name"]}/{o["Key"]}'] = resources
    ddb = client("dynamodb")
    locks = []
    for t in ddb.list_tables()["TableNames"]:
        for item in ddb.scan(TableName=t)["Items"]:
            if "Info" in item:
                locks.append(item["LockID"]["S"])
    print(json.dumps({
        "secrets": sorted(secrets),
        "scheduledForDeletion": sorted(scheduled),
        "records": sorted(records),
        "stateObjects": objects,
        "locks": sorted(locks),
    }, indent=1, sort_keys=True))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "prepare":
        prepare(sys.argv[2])
    elif len(sys.argv) == 2 and sys.argv[1] == "inventory":
        inventory()
    else:
        sys.exit(__doc__)
