"""Writes crates/gp-driver-terraform/iam/handlers.json: for each
CloudFormation type crates/gp-driver-terraform/iam/types.json names, the
permissions of its create, read, update and delete handlers, from AWS's
published resource schemas as cfn-lint (PyPI) ships them.

    .venv/bin/python scripts/iam-handlers.py [--check]

With --check it writes nothing and exits 1 when the file differs.
"""

import json
import os
import sys

import cfnlint
from importlib.metadata import version

HERE = os.path.dirname(os.path.abspath(__file__))
IAM = os.path.join(HERE, "..", "crates", "gp-driver-terraform", "iam")
SCHEMAS = os.path.join(os.path.dirname(cfnlint.__file__), "data", "schemas")


def handlers():
    with open(os.path.join(IAM, "types.json")) as f:
        types = json.load(f)
    wanted = sorted({c for k, v in types.items() if not k.startswith("_") for c in v["cfn"]})
    with open(os.path.join(SCHEMAS, "providers", "us-east-1.json")) as f:
        index = json.load(f)
    out = {}
    for t in wanted:
        if t not in index:
            sys.exit(f"cfn-lint has no schema for {t}")
        with open(os.path.join(SCHEMAS, "resources", index[t] + ".json")) as f:
            schema = json.load(f)
        h = schema.get("handlers", {})
        out[t] = {k: sorted(set(h.get(k, {}).get("permissions", []))) for k in ("create", "read", "update", "delete")}
    return out


def main():
    text = json.dumps(
        {"_source": "AWS CloudFormation resource schemas, handlers' permissions, as cfn-lint " + version("cfn-lint") + " ships them", **handlers()},
        indent=1,
        sort_keys=True,
    ) + "\n"
    path = os.path.join(IAM, "handlers.json")
    if "--check" in sys.argv:
        with open(path) as f:
            if f.read() != text:
                sys.exit(f"{path} differs from cfn-lint's schemas: run scripts/iam-handlers.py")
        return
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
