"""The baseline of `cargo bench -p goldenpath --bench docs`: a docs
validator of the shape platforms write in Python (and the one goldenpath's
docs gate replaces): one process, PyYAML's `safe_load` of every front
matter and every folder `metadata.yaml`, the schemas under
`schemas/metadata/`, findings as JSON on stdout, exit 1 when there are any.

It checks what `goldenpath docs check` checks of the same tree: front
matter present and a mapping, required fields (own or inherited from the
folders' metadata.yaml), types, enums (`enum_from`, dotted into
enums.yaml), patterns, minimum and maximum, unknown fields, duplicate ids,
unresolved relations, and a metadata.yaml in each subfolder of a sidecar
folder.

    python3 docs_validator.py ROOT
"""

import datetime
import json
import os
import re
import sys

import yaml

TYPES = {
    # PyYAML reads an unquoted 2026-01-09 as a date; the schema means text.
    "string": lambda v: isinstance(v, (str, datetime.date)),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


COMMENT = re.compile(r"<!--.*?-->", re.S)


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def enum_values(enums, dotted):
    v = enums
    for part in dotted.split("."):
        v = v.get(part) if isinstance(v, dict) else None
    if isinstance(v, dict):
        v = v.get("values")
    return v if isinstance(v, list) else []


def check_value(findings, rel, enums, name, schema, value):
    t = schema.get("type")
    if t is not None:
        types = t if isinstance(t, list) else [t]
        if not any(TYPES.get(x, lambda _: True)(value) for x in types):
            findings.append((rel, "GP-META-004", f"{name} must be {t}"))
            return
    if "enum_from" in schema:
        allowed = enum_values(enums, schema["enum_from"])
        if value not in allowed:
            findings.append((rel, "GP-META-005", f"{name}: {value!r} is not one of {allowed}"))
    if "pattern" in schema and isinstance(value, str):
        if not re.search(schema["pattern"], value):
            findings.append((rel, "GP-META-006", f"{name} does not match {schema['pattern']}"))
    if isinstance(value, (int, float)):
        if "minimum" in schema and value < schema["minimum"]:
            findings.append((rel, "GP-META-007", f"{name} is below {schema['minimum']}"))
        if "maximum" in schema and value > schema["maximum"]:
            findings.append((rel, "GP-META-007", f"{name} is above {schema['maximum']}"))
    if isinstance(value, dict) and "properties" in schema:
        check_object(findings, rel, enums, schema, value, name + ".")


def check_object(findings, rel, enums, schema, obj, prefix=""):
    props = schema.get("properties", {})
    for key, value in obj.items():
        if key in props:
            check_value(findings, rel, enums, prefix + str(key), props[key] or {}, value)
        elif schema.get("additionalProperties") is False:
            findings.append((rel, "GP-META-008", f"unknown field {prefix}{key}"))


def main(root):
    base = os.path.join(root, "schemas", "metadata")
    enums = load(os.path.join(base, "enums.yaml")) or {}
    schemas = {}
    for name in os.listdir(base):
        if name.endswith(".schema.yaml"):
            schemas[name[: -len(".schema.yaml")]] = load(os.path.join(base, name)) or {}
    config = load(os.path.join(root, "goldenpath-docs.yaml")) or {}
    folder_meta = {}

    def inherited(folder):
        if folder in folder_meta:
            return folder_meta[folder]
        parent = os.path.dirname(folder)
        merged = dict(inherited(parent)) if parent and parent != folder else {}
        path = os.path.join(root, folder, "metadata.yaml")
        if os.path.exists(path):
            own = load(path)
            if isinstance(own, dict):
                merged.update(own)
        folder_meta[folder] = merged
        return merged

    findings = []
    ids = {}
    stems = set()
    relations = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.endswith(".md"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            stems.add(name[:-3])
            with open(path, encoding="utf-8") as f:
                text = f.read()
            if not text.startswith("---\n"):
                findings.append((rel, "GP-META-001", "no front matter"))
                continue
            end = text.find("\n---", 4)
            if end < 0:
                findings.append((rel, "GP-META-001", "front matter is not closed"))
                continue
            # HTML comments are allowed in front matter (Markdown renders
            # none of it); YAML does not read them.
            block = COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text[4:end])
            try:
                fm = yaml.safe_load(block)
            except yaml.YAMLError as e:
                findings.append((rel, "GP-META-002", str(e)))
                continue
            if not isinstance(fm, dict):
                findings.append((rel, "GP-META-002", "front matter is not a mapping"))
                continue
            meta = dict(inherited(os.path.dirname(rel)))
            meta.update(fm)
            schema = schemas.get(str(meta.get("type")), schemas.get("documentation", {}))
            for field in schema.get("required", []):
                if field not in meta:
                    findings.append((rel, "GP-META-003", f"missing {field}"))
            check_object(findings, rel, enums, schema, fm)
            doc_id = fm.get("id")
            if isinstance(doc_id, str):
                if doc_id in ids:
                    findings.append((rel, "GP-META-009", f"id {doc_id} is also {ids[doc_id]}"))
                else:
                    ids[doc_id] = rel
            targets = fm.get("relates_to") or []
            if isinstance(targets, list):
                relations.extend((rel, t) for t in targets)
    for rel, target in relations:
        if str(target) not in ids and str(target) not in stems:
            findings.append((rel, "GP-REL-001", f"relates_to {target} names no document"))
    for folder in config.get("sidecars", []):
        top = os.path.join(root, folder)
        if not os.path.isdir(top):
            continue
        for dirpath, dirnames, _ in os.walk(top):
            for d in dirnames:
                if not os.path.exists(os.path.join(dirpath, d, "metadata.yaml")):
                    findings.append(
                        (os.path.relpath(os.path.join(dirpath, d), root), "GP-SIDECAR-001", "no metadata.yaml")
                    )
    json.dump(
        [{"file": f, "rule": r, "message": m} for f, r, m in sorted(findings)],
        sys.stdout,
    )
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
