//! What a Terraform component's runs need in AWS IAM.
//!
//! - The S3 backend: the state objects of the component's key (and of its
//!   workspace), listing the bucket, and the lock — the DynamoDB table or
//!   the lock file beside the state — with the state's KMS key.
//! - The root's resources: each AWS resource type mapped to CloudFormation
//!   types (`iam/types.json`, extendable in the spec's `iam.terraformTypes`)
//!   whose handlers' permissions AWS publishes in its resource schemas
//!   (`iam/handlers.json`, made from cfn-lint's copy by
//!   `scripts/iam-handlers.py`). From a saved plan (`terraform show
//!   -json`) exactly what it plans, scoped to the names it plans where the
//!   type has an ARN template; from the root's files every declared type,
//!   for every action the access may take, on `*`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use gp_core::Diagnostic;
use gp_core::iam::{Access, Grant};
use gp_core::spec::IamTerraformType;

const TYPES: &str = include_str!("../iam/types.json");
const HANDLERS: &str = include_str!("../iam/handlers.json");

/// Data sources that call no AWS API, or one needing no permission.
const FREE_DATA: &[&str] = &[
    "aws_iam_policy_document",
    "aws_caller_identity",
    "aws_partition",
    "aws_region",
    "aws_default_tags",
    "aws_arn",
    "aws_eks_cluster_auth",
];

/// The type table: goldenpath's, then the spec's over it.
pub(crate) fn types(
    extra: &BTreeMap<String, IamTerraformType>,
) -> BTreeMap<String, IamTerraformType> {
    let mut out: BTreeMap<String, IamTerraformType> =
        serde_json::from_str::<serde_json::Value>(TYPES)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| !k.starts_with('_'))
            .filter_map(|(k, v)| serde_json::from_value(v).ok().map(|t| (k, t)))
            .collect();
    out.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    out
}

/// The handlers' permissions of a CloudFormation type, by handler.
fn handlers(cfn: &str) -> Option<BTreeMap<String, Vec<String>>> {
    let all: serde_json::Value = serde_json::from_str(HANDLERS).ok()?;
    serde_json::from_value(all.get(cfn)?.clone()).ok()
}

/// The handlers an access takes for a planned action.
fn handler_names(action: &str) -> &'static [&'static str] {
    match action {
        "create" => &["create", "read"],
        "update" => &["update", "read"],
        "delete" => &["delete", "read"],
        // no-op, read: the refresh.
        _ => &["read"],
    }
}

/// The planned actions an access makes (`None`: every one).
fn planned_for(access: Access) -> &'static [&'static str] {
    match access {
        Access::Read => &["read"],
        // Terraform's apply replaces as well: a deploy may delete.
        Access::Write => &["create", "update", "delete", "read"],
        Access::Delete => &["delete", "read"],
    }
}

/// The IAM actions of `tf_type` for planned `action`s; `Err` when the
/// table knows nothing of it.
fn actions_of(
    table: &BTreeMap<String, IamTerraformType>,
    tf_type: &str,
    actions: &BTreeSet<&str>,
) -> Result<BTreeSet<String>, String> {
    let Some(t) = table.get(tf_type) else {
        return Err(format!(
            "goldenpath's IAM table has no entry for the resource type `{tf_type}`"
        ));
    };
    let mut out: BTreeSet<String> = t.actions.iter().cloned().collect();
    for cfn in &t.cfn {
        let Some(h) = handlers(cfn) else {
            return Err(format!(
                "`{tf_type}` maps to `{cfn}`, which is not among the CloudFormation types goldenpath ships the handlers of (iam/handlers.json); name its `actions:` in the spec"
            ));
        };
        for a in actions {
            for name in handler_names(a) {
                out.extend(h.get(*name).into_iter().flatten().cloned());
            }
        }
    }
    Ok(out)
}

/// `Terraform` and the CloudFormation type without colons, or the
/// Terraform type.
fn sid_of(table: &BTreeMap<String, IamTerraformType>, tf_type: &str, scoped: bool) -> String {
    let base = table
        .get(tf_type)
        .and_then(|t| t.cfn.first())
        .map(|c| c.replace("::", ""))
        .unwrap_or_else(|| {
            tf_type
                .split('_')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                })
                .collect()
        });
    if scoped {
        format!("Terraform{base}ByPlannedName")
    } else {
        format!("Terraform{base}{}", gp_core::iam::NOT_SCOPABLE)
    }
}

/// A resource or data block a root declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Declared {
    /// `resource` or `data`.
    pub block: &'static str,
    /// Its type.
    pub tf_type: String,
    /// The file (relative to the root).
    pub file: String,
    /// Where its type is written (1-based line and column).
    pub line: u32,
    /// The column.
    pub col: u32,
}

/// Every `resource "TYPE"` and `data "TYPE"` block of the root's `.tf`
/// files (and `.tf.json`'s `resource`/`data` objects), comments skipped.
pub(crate) fn declared(root: &Path) -> Vec<Declared> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut queue = vec![(String::new(), 0usize)];
    while let Some((dir, depth)) = queue.pop() {
        let here = root.join(&dir);
        let key = here.canonicalize().unwrap_or_else(|_| here.clone());
        if !seen.insert(key) {
            continue;
        }
        for mut d in declared_in(&here) {
            if !dir.is_empty() {
                d.file = format!("{dir}/{}", d.file);
            }
            // A local module (`./x`, `../x`): its blocks are the root's.
            if d.block == "module" && is_local_source(&d.tf_type) {
                if depth < MODULE_DEPTH {
                    let rel = d.tf_type.strip_prefix("./").unwrap_or(&d.tf_type);
                    let rel = rel.trim_end_matches('/');
                    let sub = if dir.is_empty() {
                        rel.to_string()
                    } else {
                        format!("{dir}/{rel}")
                    };
                    queue.push((sub, depth + 1));
                }
                continue;
            }
            out.push(d);
        }
    }
    out.sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
    out
}

/// How deep local modules are followed (a module calling itself stops
/// at the directories already read).
const MODULE_DEPTH: usize = 8;

/// Terraform's local module sources start `./` or `../`.
fn is_local_source(source: &str) -> bool {
    source.starts_with("./") || source.starts_with("../")
}

/// The blocks of one directory's `.tf` and `.tf.json` files; a `module`
/// block as `Declared { block: "module", tf_type: its source }`.
fn declared_in(root: &Path) -> Vec<Declared> {
    let mut files: Vec<_> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            n.ends_with(".tf") || n.ends_with(".tf.json")
        })
        .collect();
    files.sort();
    let mut out = Vec::new();
    for p in files {
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        let file = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if file.ends_with(".json") {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            if let Some(modules) = v.get("module").and_then(|m| m.as_object()) {
                let after = text.find("\"module\"").unwrap_or(0);
                for m in modules.values() {
                    if let Some(source) = m.get("source").and_then(|x| x.as_str()) {
                        let (line, col) = position_of(&text, after, &format!("\"{source}\""));
                        out.push(Declared {
                            block: "module",
                            tf_type: source.to_string(),
                            file: file.clone(),
                            line,
                            col,
                        });
                    }
                }
            }
            for block in ["resource", "data"] {
                let found = v.get(block).and_then(|b| b.as_object());
                for t in found.into_iter().flat_map(|m| m.keys()) {
                    // The type's name, inside its quotes, after its block's key.
                    let after = text.find(&format!("\"{block}\"")).unwrap_or(0);
                    let (line, col) = position_of(&text, after, &format!("\"{t}\""));
                    out.push(Declared {
                        block: if block == "data" { "data" } else { "resource" },
                        tf_type: t.clone(),
                        file: file.clone(),
                        line,
                        col,
                    });
                }
            }
            continue;
        }
        out.extend(scan_hcl(&text, &file));
    }
    out
}

/// Where `needle` first occurs at or after byte `from`: the line, and the
/// column of its second character (inside a quoted needle's quotes).
fn position_of(text: &str, from: usize, needle: &str) -> (u32, u32) {
    let at = text
        .get(from..)
        .and_then(|rest| rest.find(needle))
        .map_or(0, |i| from + i);
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 2;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(col).unwrap_or(u32::MAX),
    )
}

/// The `resource "T"` / `data "T"` blocks of HCL text: at the start of a
/// line (indented or not), outside comments and heredocs.
fn scan_hcl(text: &str, file: &str) -> Vec<Declared> {
    let mut out = Vec::new();
    let mut in_block_comment = false;
    let mut heredoc: Option<String> = None;
    // Inside a `module` block whose `source` is not read yet.
    let mut in_module = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        if let Some(end) = &heredoc {
            if line.trim_end() == end {
                heredoc = None;
            }
            continue;
        }
        if in_block_comment {
            if line.contains("*/") {
                in_block_comment = false;
            }
            continue;
        }
        if line.starts_with("/*") {
            in_block_comment = !line.contains("*/");
            continue;
        }
        if let Some(pos) = line.find("<<") {
            let tag: String = line[pos + 2..]
                .trim_start_matches('-')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !tag.is_empty() {
                heredoc = Some(tag);
            }
        }
        if line.starts_with("module") && line[6..].trim_start().starts_with('"') {
            in_module = true;
            continue;
        }
        if in_module
            && let Some(rest) = line.strip_prefix("source")
            && let Some(value) = rest.trim_start().strip_prefix('=')
            && let Some(quoted) = value.trim_start().strip_prefix('"')
            && let Some(end) = quoted.find('"')
        {
            in_module = false;
            let indent = raw.len() - line.len();
            let col = indent + line.len() - quoted.len() + 1;
            out.push(Declared {
                block: "module",
                tf_type: quoted[..end].to_string(),
                file: file.to_string(),
                line: u32::try_from(i + 1).unwrap_or(u32::MAX),
                col: u32::try_from(col).unwrap_or(u32::MAX),
            });
            continue;
        }
        for block in ["resource", "data"] {
            let Some(rest) = line.strip_prefix(block) else {
                continue;
            };
            in_module = false;
            let rest_trim = rest.trim_start();
            if !rest.starts_with([' ', '\t']) || !rest_trim.starts_with('"') {
                continue;
            }
            let t: String = rest_trim[1..].chars().take_while(|c| *c != '"').collect();
            if t.is_empty() {
                continue;
            }
            let indent = raw.len() - line.len();
            let col = indent + block.len() + (rest.len() - rest_trim.len()) + 2;
            out.push(Declared {
                block,
                tf_type: t,
                file: file.to_string(),
                line: u32::try_from(i + 1).unwrap_or(u32::MAX),
                col: u32::try_from(col).unwrap_or(u32::MAX),
            });
        }
    }
    out
}

/// The grants a root's declared types need for `access`, on `*`; a type
/// the table does not know is an error at its line.
pub(crate) fn declared_grants(
    root: &Path,
    root_shown: &str,
    table: &BTreeMap<String, IamTerraformType>,
    access: Access,
) -> Result<Vec<Grant>, Vec<Diagnostic>> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for d in declared(root) {
        if d.block == "module" {
            let file = Path::new(root_shown).join(&d.file);
            let source = std::fs::read_to_string(root.join(&d.file)).unwrap_or_default();
            problems.push(
                Diagnostic::at(
                    &file,
                    &source,
                    gp_core::yaml::Pos {
                        line: d.line,
                        col: d.col,
                        offset: 0,
                    },
                    format!(
                        "the module from `{}` is not in the repository, so goldenpath cannot read the types it declares",
                        d.tf_type
                    ),
                )
                .with_hint(
                    "give a saved plan of the component, which holds the module's resources: goldenpath iam policy ... --plan COMPONENT=FILE (terraform show -json)",
                ),
            );
            continue;
        }
        // Only the AWS provider's types reach AWS.
        if !d.tf_type.starts_with("aws_") {
            continue;
        }
        let wanted: BTreeSet<&str> = if d.block == "data" {
            if FREE_DATA.contains(&d.tf_type.as_str()) {
                continue;
            }
            ["read"].into()
        } else {
            planned_for(access).iter().copied().collect()
        };
        match actions_of(table, &d.tf_type, &wanted) {
            Ok(a) => out.push(Grant::new(&sid_of(table, &d.tf_type, false), a, ["*"])),
            Err(e) => {
                let file = Path::new(root_shown).join(&d.file);
                let source = std::fs::read_to_string(root.join(&d.file)).unwrap_or_default();
                problems.push(
                    Diagnostic::at(
                        &file,
                        &source,
                        gp_core::yaml::Pos {
                            line: d.line,
                            col: d.col,
                            offset: 0,
                        },
                        e,
                    )
                    .with_hint(format!(
                        "add it to the spec: `iam: {{terraformTypes: {{{}: {{cfn: [AWS::Service::Type]}}}}}}` (or `actions: [...]`)",
                        d.tf_type
                    )),
                );
            }
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The grants a saved plan (`terraform show -json`) needs for `access`:
/// each managed resource's planned actions, scoped to its planned names
/// where its type has an ARN template.
pub(crate) fn plan_grants(
    plan: &serde_json::Value,
    table: &BTreeMap<String, IamTerraformType>,
    access: Access,
) -> Result<Vec<Grant>, String> {
    let mut out = Vec::new();
    let allowed: BTreeSet<&str> = planned_for(access).iter().copied().collect();
    let changes = plan
        .get("resource_changes")
        .and_then(|c| c.as_array())
        .ok_or(
            "the plan has no `resource_changes` (is it `terraform show -json` of a saved plan?)",
        )?;
    for rc in changes {
        let tf_type = rc.get("type").and_then(|t| t.as_str()).unwrap_or("");
        if !tf_type.starts_with("aws_") {
            continue;
        }
        let data = rc.get("mode").and_then(|m| m.as_str()) == Some("data");
        if data && FREE_DATA.contains(&tf_type) {
            continue;
        }
        let change = rc.get("change").cloned().unwrap_or_default();
        let planned: BTreeSet<&str> = change
            .get("actions")
            .and_then(|a| a.as_array())
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str())
            .map(|a| match a {
                "no-op" => "read",
                other => other,
            })
            .chain(["read"])
            .filter(|a| allowed.contains(a))
            .collect();
        let actions = actions_of(table, tf_type, &planned).map_err(|e| {
            format!(
                "{}: {e}",
                rc.get("address")
                    .and_then(|a| a.as_str())
                    .unwrap_or(tf_type)
            )
        })?;
        let arn = table
            .get(tf_type)
            .and_then(|t| t.arn.clone())
            .and_then(|tpl| {
                // The names it has before and after.
                let values: Vec<String> = ["before", "after"]
                    .iter()
                    .filter_map(|k| change.get(*k))
                    .filter_map(|v| fill(&tpl, v))
                    .collect();
                (!values.is_empty()).then_some(values)
            });
        out.push(match arn {
            Some(arns) => Grant::new(&sid_of(table, tf_type, true), actions, arns),
            None => Grant::new(&sid_of(table, tf_type, false), actions, ["*"]),
        });
    }
    Ok(out)
}

/// An ARN template with `{attribute}`s filled from a planned object;
/// `None` when one is unknown (computed) or not a plain name.
fn fill(template: &str, values: &serde_json::Value) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}')? + open;
        let key = &rest[open + 1..close];
        let v = values.get(key)?.as_str()?;
        if v.is_empty() || v.contains(['*', '?']) || v.chars().any(char::is_control) {
            return None;
        }
        out.push_str(v);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    // No ARN IAM takes is longer.
    (out.chars().count() <= gp_core::iam::MAX_PATTERN).then_some(out)
}

/// The S3 backend's grants for a state key (and the key of a workspace)
/// in `bucket`: list, read, write and delete as `access` needs, the lock.
pub(crate) fn backend_grants(
    pairs: &[(&'static str, String)],
    keys: &[String],
    workspace: bool,
    access: Access,
) -> Vec<Grant> {
    let get = |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    let Some(bucket) = get("bucket") else {
        return Vec::new();
    };
    let region = get("region").unwrap_or_else(|| "*".into());
    let objects: Vec<String> = keys
        .iter()
        .map(|k| format!("arn:aws:s3:::{bucket}/{k}"))
        .collect();
    let locks: Vec<String> = keys
        .iter()
        .map(|k| format!("arn:aws:s3:::{bucket}/{k}.tflock"))
        .collect();
    let mut out = Vec::new();
    // Workspaces are found by listing the bucket; a state of its own key
    // is read by name.
    if workspace {
        out.push(Grant::new(
            "TerraformStateListBucket",
            ["s3:ListBucket"],
            [format!("arn:aws:s3:::{bucket}")],
        ));
    }
    let mut state = vec!["s3:GetObject"];
    match access {
        Access::Read => {}
        Access::Write => state.push("s3:PutObject"),
        // A destroy writes the emptied state; the workspace goes after.
        Access::Delete => state.extend(["s3:PutObject", "s3:DeleteObject"]),
    }
    out.push(Grant::new("TerraformState", state, objects));
    // Every run takes the state lock (a plan too).
    if get("use_lockfile").as_deref() == Some("true") {
        out.push(Grant::new(
            "TerraformStateLockFile",
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            locks,
        ));
    }
    if let Some(table) = get("dynamodb_table") {
        out.push(Grant::new(
            "TerraformStateLockTable",
            [
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:DeleteItem",
            ],
            [format!("arn:aws:dynamodb:{region}:*:table/{table}")],
        ));
    }
    if let Some(key) = get("kms_key_id") {
        let resource = if key.starts_with("arn:") {
            key
        } else {
            format!("arn:aws:kms:{region}:*:key/{key}")
        };
        out.push(Grant::new(
            "TerraformStateKmsKey",
            ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
            [resource],
        ));
    }
    out
}

/// The S3 backend's API operations (as Terraform's errors name them:
/// `operation error S3: HeadObject`) and the IAM action each needs.
const BACKEND_OPS: &[(&str, &str, &str)] = &[
    ("S3", "HeadObject", "s3:GetObject"),
    ("S3", "GetObject", "s3:GetObject"),
    ("S3", "PutObject", "s3:PutObject"),
    ("S3", "DeleteObject", "s3:DeleteObject"),
    ("S3", "ListObjectsV2", "s3:ListBucket"),
    ("S3", "ListObjects", "s3:ListBucket"),
    ("S3", "HeadBucket", "s3:ListBucket"),
    ("DynamoDB", "DescribeTable", "dynamodb:DescribeTable"),
    ("DynamoDB", "GetItem", "dynamodb:GetItem"),
    ("DynamoDB", "PutItem", "dynamodb:PutItem"),
    ("DynamoDB", "DeleteItem", "dynamodb:DeleteItem"),
    ("KMS", "Decrypt", "kms:Decrypt"),
    ("KMS", "GenerateDataKey", "kms:GenerateDataKey"),
];

/// Terraform lists an S3 backend's workspaces and reads a denied listing
/// as none: said beside every "no such workspace" of an S3 backend.
pub(crate) fn workspace_listing_note(
    backend: &serde_json::Value,
    workspace: &str,
) -> Option<String> {
    let bucket = backend.get("s3")?.get("bucket")?.as_str()?;
    Some(format!(
        "Terraform finds no workspace `{workspace}` in bucket {bucket}; it lists workspaces with `s3:ListBucket`, and reads a denied listing as none (see `goldenpath iam policy`)"
    ))
}

/// For Terraform's output: when a backend call was denied, which IAM
/// action it needs (`operation error S3: HeadObject, ... 403` →
/// `s3:GetObject`).
pub(crate) fn denied_backend_action(text: &str) -> Option<&'static str> {
    for line in text.lines() {
        let Some(at) = line.find("operation error ") else {
            continue;
        };
        let rest = &line[at + "operation error ".len()..];
        let denied = line.contains("StatusCode: 403")
            || line.contains("AccessDenied")
            || line.contains("not authorized");
        if !denied {
            continue;
        }
        for (service, op, action) in BACKEND_OPS {
            if rest.starts_with(&format!("{service}: {op},")) {
                return Some(action);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> BTreeMap<String, IamTerraformType> {
        types(&BTreeMap::new())
    }

    #[test]
    fn every_type_of_the_table_maps_to_shipped_handlers() {
        let t = table();
        assert!(t.len() >= 30, "{}", t.len());
        for (k, v) in &t {
            assert!(k.starts_with("aws_"), "{k}");
            assert!(!v.cfn.is_empty() || !v.actions.is_empty(), "{k}");
            for c in &v.cfn {
                let h = handlers(c).unwrap_or_else(|| panic!("{k}: no handlers for {c}"));
                assert!(!h["read"].is_empty() || !h["create"].is_empty(), "{c}");
            }
        }
    }

    #[test]
    fn the_examples_rotation_needs_rotate_secret_and_a_vpc_create_vpc() {
        let t = table();
        let a = actions_of(&t, "aws_secretsmanager_secret_rotation", &["create"].into()).unwrap();
        assert!(a.contains("secretsmanager:RotateSecret"), "{a:?}");
        let a = actions_of(&t, "aws_vpc", &["read"].into()).unwrap();
        assert!(
            a.contains("ec2:DescribeVpcs") && !a.contains("ec2:CreateVpc"),
            "{a:?}"
        );
        let a = actions_of(&t, "aws_vpc", &["create"].into()).unwrap();
        assert!(a.contains("ec2:CreateVpc"), "{a:?}");
        assert!(actions_of(&t, "aws_nothing_like_it", &["read"].into()).is_err());
        let mut extra = BTreeMap::new();
        extra.insert(
            "aws_nothing_like_it".to_string(),
            IamTerraformType {
                actions: vec!["sqs:GetQueueAttributes".into()],
                ..Default::default()
            },
        );
        let a = actions_of(&types(&extra), "aws_nothing_like_it", &["read"].into()).unwrap();
        assert_eq!(
            a.into_iter().collect::<Vec<_>>(),
            ["sqs:GetQueueAttributes"]
        );
        extra.insert(
            "aws_x".to_string(),
            IamTerraformType {
                cfn: vec!["AWS::No::Such".into()],
                ..Default::default()
            },
        );
        assert!(
            actions_of(&types(&extra), "aws_x", &["read"].into())
                .unwrap_err()
                .contains("AWS::No::Such")
        );
    }

    #[test]
    fn blocks_are_found_where_written_and_comments_and_heredocs_are_skipped() {
        let text = "# resource \"aws_fake\" \"x\" {}\n/* resource \"aws_fake2\" \"y\" {\n*/\nresource \"aws_vpc\" \"this\" {\n  user_data = <<EOT\nresource \"aws_fake3\" \"z\" {}\nEOT\n}\n  data   \"aws_availability_zones\" \"all\" {}\nresource\"aws_nospace\" \"q\" {}\n";
        let d = scan_hcl(text, "main.tf");
        let got: Vec<(&str, &str, u32, u32)> = d
            .iter()
            .map(|x| (x.block, x.tf_type.as_str(), x.line, x.col))
            .collect();
        assert_eq!(
            got,
            [
                ("resource", "aws_vpc", 4, 11),
                ("data", "aws_availability_zones", 9, 11)
            ]
        );
    }

    #[test]
    fn a_heredoc_ends_only_at_its_whole_tag_and_a_comment_only_at_its_close() {
        let text = "/*\nresource \"aws_in_comment\" \"a\" {}\n*/\n/* one line */\nresource \"aws_after_comment\" \"b\" {}\nlocals {\n  x = <<-END_OF_DATA\n    first line\n    resource \"aws_in_heredoc\" \"c\" {}\n    END_OF\n  END_OF_DATA\n}\nresource \"aws_after_heredoc\" \"d\" {}\n";
        let got: Vec<String> = scan_hcl(text, "main.tf")
            .into_iter()
            .map(|d| d.tf_type)
            .collect();
        assert_eq!(got, ["aws_after_comment", "aws_after_heredoc"]);
    }

    #[test]
    fn a_planned_action_takes_its_handler_and_the_read() {
        assert_eq!(handler_names("create"), ["create", "read"]);
        assert_eq!(handler_names("update"), ["update", "read"]);
        assert_eq!(handler_names("delete"), ["delete", "read"]);
        assert_eq!(handler_names("no-op"), ["read"]);
        assert_eq!(handler_names("read"), ["read"]);
        let t = table();
        let delete = actions_of(&t, "aws_vpc", &["delete"].into()).unwrap();
        assert!(delete.contains("ec2:DeleteVpc") && !delete.contains("ec2:CreateVpc"));
        let update = actions_of(&t, "aws_vpc", &["update"].into()).unwrap();
        assert!(update.contains("ec2:ModifyVpcAttribute"), "{update:?}");
        assert!(!update.contains("ec2:DeleteVpc"), "{update:?}");
    }

    #[test]
    fn a_position_is_the_line_and_column_of_the_first_occurrence() {
        assert_eq!(
            position_of("{\n  \"x\": 1,\n  \"y\": 2}", 0, "\"y\""),
            (3, 4)
        );
        assert_eq!(position_of("\"y\"", 0, "\"y\""), (1, 2));
        // From an offset on.
        assert_eq!(position_of("\"y\"\n\"y\"", 1, "\"y\""), (2, 2));
        assert_eq!(position_of("ab\"y\"", 0, "\"y\""), (1, 4));
        // Counted in characters, not bytes.
        assert_eq!(position_of("é\"y\"", 0, "\"y\""), (1, 3));
    }

    #[test]
    fn a_roots_declared_types_come_from_its_tf_and_tf_json_files_only() {
        let dir = gp_test::tempdir();
        std::fs::write(
            dir.path().join("main.tf"),
            "terraform {}\n\nresource \"aws_vpc\" \"this\" {}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("extra.tf.json"),
            "{\n  \"resource\": {\"aws_s3_bucket\": {\"b\": {}}},\n  \"data\": {\"aws_vpc\": {\"d\": {}}}\n}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("README.md"),
            "resource \"aws_in_docs\" \"x\" {}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("main.tf.bak"),
            "resource \"aws_in_backup\" \"x\" {}\n",
        )
        .unwrap();
        let got: Vec<(String, &str, String, u32, u32)> = declared(dir.path())
            .into_iter()
            .map(|d| (d.file, d.block, d.tf_type, d.line, d.col))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "extra.tf.json".to_string(),
                    "resource",
                    "aws_s3_bucket".to_string(),
                    2,
                    17
                ),
                (
                    "extra.tf.json".to_string(),
                    "data",
                    "aws_vpc".to_string(),
                    3,
                    13
                ),
                (
                    "main.tf".to_string(),
                    "resource",
                    "aws_vpc".to_string(),
                    3,
                    11
                ),
            ]
        );
    }

    #[test]
    fn declared_aws_types_are_granted_by_block_and_an_unknown_one_is_positioned() {
        let dir = gp_test::tempdir();
        std::fs::write(
            dir.path().join("main.tf"),
            "resource \"aws_vpc\" \"this\" {}\ndata \"aws_subnet\" \"s\" {}\ndata \"aws_caller_identity\" \"me\" {}\nresource \"random_id\" \"r\" {}\nresource \"terraform_data\" \"t\" {}\n",
        )
        .unwrap();
        let t = table();
        let g = declared_grants(dir.path(), "infra/vpc", &t, Access::Write).unwrap();
        let all = |sid: &str| -> BTreeSet<String> {
            g.iter()
                .filter(|x| x.sid == sid)
                .flat_map(|x| x.actions.iter().cloned())
                .collect()
        };
        // Only the AWS provider's types, and no free data source.
        assert_eq!(g.len(), 2, "{g:?}");
        assert!(g.iter().all(|x| x.sid.ends_with("NotScopable")));
        let vpc = all("TerraformAWSEC2VPCNotScopable");
        assert!(
            vpc.contains("ec2:CreateVpc") && vpc.contains("ec2:DeleteVpc"),
            "{vpc:?}"
        );
        // A data source only reads, whatever the access.
        let subnet = all("TerraformAWSEC2SubnetNotScopable");
        assert!(subnet.contains("ec2:DescribeSubnets"), "{subnet:?}");
        assert!(!subnet.contains("ec2:CreateSubnet"), "{subnet:?}");
        // The plan role's access reads the resources.
        let g = declared_grants(dir.path(), "infra/vpc", &t, Access::Read).unwrap();
        let read: BTreeSet<String> = g.iter().flat_map(|x| x.actions.iter().cloned()).collect();
        assert!(!read.contains("ec2:CreateVpc") && read.contains("ec2:DescribeVpcs"));
        // A type the table does not hold: its file, line and column.
        std::fs::write(
            dir.path().join("more.tf"),
            "\n  resource \"aws_made_up\" \"m\" {}\n",
        )
        .unwrap();
        let e = declared_grants(dir.path(), "infra/vpc", &t, Access::Write).unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].file, Path::new("infra/vpc/more.tf"));
        let pos = e[0].pos.unwrap();
        assert_eq!((pos.line, pos.col), (2, 13));
        assert!(e[0].message.contains("aws_made_up"), "{}", e[0].message);
        assert!(
            e[0].hint
                .as_deref()
                .unwrap_or("")
                .contains("terraformTypes")
        );
    }

    #[test]
    fn local_modules_are_read_as_the_roots_and_a_remote_one_is_positioned() {
        let dir = gp_test::tempdir();
        let root = dir.path().join("infra/cluster");
        let w = |rel: &str, text: &str| {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        w(
            "infra/cluster/main.tf",
            "# module \"no\" { source = \"./nowhere\" }\nmodule \"vpc\" {\n  source = \"./modules/vpc\"\n  cidr   = \"10.0.0.0/16\"\n}\nresource \"aws_s3_bucket\" \"o\" {\n  source = \"./file.txt\"\n}\n",
        );
        w(
            "infra/cluster/modules/vpc/main.tf",
            "resource \"aws_vpc\" \"this\" {}\nmodule \"subnets\" {\n  source = \"../../../shared/subnets/\"\n}\n",
        );
        // One level deeper, outside the root, and calling back: read once.
        w(
            "infra/shared/subnets/main.tf.json",
            "{\"resource\": {\"aws_subnet\": {\"a\": {}}},\n \"module\": {\"back\": {\"source\": \"../../cluster/modules/vpc\"}}}\n",
        );
        let got: Vec<(String, &str, String)> = declared(&root)
            .into_iter()
            .map(|d| (d.file, d.block, d.tf_type))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "main.tf".to_string(),
                    "resource",
                    "aws_s3_bucket".to_string()
                ),
                (
                    "modules/vpc/../../../shared/subnets/main.tf.json".to_string(),
                    "resource",
                    "aws_subnet".to_string()
                ),
                (
                    "modules/vpc/main.tf".to_string(),
                    "resource",
                    "aws_vpc".to_string()
                ),
            ]
        );
        let t = table();
        let g = declared_grants(&root, "infra/cluster", &t, Access::Write).unwrap();
        let all: BTreeSet<String> = g.iter().flat_map(|x| x.actions.iter().cloned()).collect();
        assert!(
            all.contains("ec2:CreateVpc") && all.contains("ec2:CreateSubnet"),
            "{all:?}"
        );
        // A module from the registry: its line and column, and the way out.
        w(
            "infra/cluster/eks.tf",
            "module \"eks\" {\n  source  = \"terraform-aws-modules/eks/aws\"\n  version = \"~> 20.0\"\n}\n",
        );
        let e = declared_grants(&root, "infra/cluster", &t, Access::Write).unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].file, Path::new("infra/cluster/eks.tf"));
        let pos = e[0].pos.unwrap();
        assert_eq!((pos.line, pos.col), (2, 14));
        assert!(e[0].message.contains("terraform-aws-modules/eks/aws"));
        assert!(e[0].hint.as_deref().unwrap_or("").contains("--plan"));
    }

    #[test]
    fn a_planned_data_source_reads_unless_it_is_free() {
        let plan = serde_json::json!({"resource_changes": [
            {"address": "data.aws_vpc.d", "mode": "data", "type": "aws_vpc", "change": {"actions": ["read"]}},
            {"address": "data.aws_region.r", "mode": "data", "type": "aws_region", "change": {"actions": ["read"]}}
        ]});
        let g = plan_grants(&plan, &table(), Access::Write).unwrap();
        assert_eq!(g.len(), 1, "{g:?}");
        assert!(g[0].actions.contains("ec2:DescribeVpcs"));
        assert!(!g[0].actions.contains("ec2:CreateVpc"));
    }

    #[test]
    fn a_saved_plan_gives_its_actions_and_its_names() {
        let plan = serde_json::json!({
            "resource_changes": [
                {"address": "aws_iam_role.ci", "mode": "managed", "type": "aws_iam_role",
                 "change": {"actions": ["create"], "before": null, "after": {"name": "gp-dev-ci"}}},
                {"address": "aws_vpc.this", "mode": "managed", "type": "aws_vpc",
                 "change": {"actions": ["no-op"], "before": {}, "after": {}}},
                {"address": "terraform_data.x", "mode": "managed", "type": "terraform_data",
                 "change": {"actions": ["create"]}},
                {"address": "data.aws_caller_identity.me", "mode": "data", "type": "aws_caller_identity",
                 "change": {"actions": ["read"]}}
            ]
        });
        let g = plan_grants(&plan, &table(), Access::Write).unwrap();
        assert_eq!(g.len(), 2, "{g:?}");
        let role = g.iter().find(|x| x.sid.contains("IAMRole")).unwrap();
        assert_eq!(role.sid, "TerraformAWSIAMRoleByPlannedName");
        assert_eq!(
            role.resources.iter().collect::<Vec<_>>(),
            ["arn:aws:iam::*:role/gp-dev-ci"]
        );
        assert!(role.actions.contains("iam:CreateRole"));
        let vpc = g.iter().find(|x| x.sid.contains("VPC")).unwrap();
        assert!(vpc.sid.ends_with("NotScopable"));
        assert!(!vpc.actions.contains("ec2:CreateVpc"), "a no-op only reads");
        // The plan role takes only the reads of the same plan.
        let g = plan_grants(&plan, &table(), Access::Read).unwrap();
        let role = g.iter().find(|x| x.sid.contains("IAMRole")).unwrap();
        assert!(!role.actions.contains("iam:CreateRole"));
        assert!(role.actions.contains("iam:GetRole"));
        // A name computed at apply, or a wildcard in it, is not scoped.
        assert_eq!(
            fill("arn:aws:iam::*:role/{name}", &serde_json::json!({})),
            None
        );
        assert_eq!(
            fill(
                "arn:aws:iam::*:role/{name}",
                &serde_json::json!({"name": "a*"})
            ),
            None
        );
        // A planned name longer than any ARN IAM takes is not scoped to.
        let long = "n".repeat(gp_core::iam::MAX_PATTERN);
        assert_eq!(
            fill(
                "arn:aws:iam::*:role/{name}",
                &serde_json::json!({ "name": long })
            ),
            None
        );
        let fits = "n".repeat(gp_core::iam::MAX_PATTERN - "arn:aws:iam::*:role/".len());
        assert!(
            fill(
                "arn:aws:iam::*:role/{name}",
                &serde_json::json!({ "name": fits })
            )
            .is_some()
        );
        assert!(plan_grants(&serde_json::json!({}), &table(), Access::Read).is_err());
        let unknown = serde_json::json!({"resource_changes": [{"address": "aws_zz.a", "type": "aws_zz", "mode": "managed", "change": {"actions": ["create"]}}]});
        assert!(
            plan_grants(&unknown, &table(), Access::Write)
                .unwrap_err()
                .starts_with("aws_zz.a:")
        );
    }

    #[test]
    fn a_workspace_not_found_in_s3_says_a_denied_listing_reads_as_none() {
        let s3 = serde_json::json!({"s3": {"bucket": "b"}});
        assert!(
            workspace_listing_note(&s3, "cluster")
                .unwrap()
                .contains("`s3:ListBucket`")
        );
        assert_eq!(
            workspace_listing_note(&serde_json::json!("local"), "cluster"),
            None
        );
    }

    #[test]
    fn a_denied_backend_call_names_its_action_and_nothing_else_does() {
        let head = "Error refreshing state: Unable to access object \"k\" in S3 bucket \"b\": operation error S3: HeadObject, https response error StatusCode: 403, RequestID: , HostID: , api error Forbidden: Forbidden";
        assert_eq!(denied_backend_action(head), Some("s3:GetObject"));
        let unlock = "Error message: operation error DynamoDB: DeleteItem, https response error StatusCode: 400, RequestID: x, api error AccessDeniedException: User: arn:aws:iam::1:user/ci is not authorized to perform: dynamodb:DeleteItem";
        assert_eq!(denied_backend_action(unlock), Some("dynamodb:DeleteItem"));
        // Not a denial, or not the backend's.
        assert_eq!(
            denied_backend_action(
                "operation error S3: HeadObject, https response error StatusCode: 404"
            ),
            None
        );
        assert_eq!(
            denied_backend_action("operation error EC2: DescribeVpcs, StatusCode: 403"),
            None
        );
        assert_eq!(denied_backend_action("AccessDenied"), None);
        // Each sign of a denial alone is enough.
        assert_eq!(
            denied_backend_action(
                "operation error S3: PutObject, https response error StatusCode: 403"
            ),
            Some("s3:PutObject")
        );
        assert_eq!(
            denied_backend_action(
                "operation error S3: PutObject, api error AccessDenied: Access Denied"
            ),
            Some("s3:PutObject")
        );
        assert_eq!(
            denied_backend_action(
                "operation error DynamoDB: PutItem, user is not authorized to perform it"
            ),
            Some("dynamodb:PutItem")
        );
    }

    #[test]
    fn the_backend_grants_the_state_the_lock_and_deletes_only_for_a_teardown() {
        let pairs = vec![
            ("bucket", "b".to_string()),
            ("region", "eu-west-2".to_string()),
            ("dynamodb_table", "t".to_string()),
            ("use_lockfile", "true".to_string()),
        ];
        let keys = vec!["envs/dev/terraform.tfstate".to_string()];
        let read = backend_grants(&pairs, &keys, false, Access::Read);
        assert!(
            !read.iter().any(|g| g.actions.contains("s3:ListBucket")),
            "no workspace: nothing listed"
        );
        let listed = backend_grants(&pairs, &keys, true, Access::Read);
        assert!(listed.iter().any(|g| g.actions.contains("s3:ListBucket")));
        let all: BTreeSet<&str> = read
            .iter()
            .flat_map(|g| g.actions.iter().map(String::as_str))
            .collect();
        assert!(all.contains("dynamodb:PutItem"), "a plan takes the lock");
        let lockfile = read
            .iter()
            .find(|g| g.sid == "TerraformStateLockFile")
            .unwrap();
        assert_eq!(
            lockfile.resources.iter().collect::<Vec<_>>(),
            ["arn:aws:s3:::b/envs/dev/terraform.tfstate.tflock"]
        );
        // Without `use_lockfile` (or with it false), no lock file.
        for off in [None, Some("false")] {
            let mut p = pairs[..3].to_vec();
            p.extend(off.map(|v| ("use_lockfile", v.to_string())));
            let g = backend_grants(&p, &keys, false, Access::Read);
            assert!(
                !g.iter().any(|g| g.sid == "TerraformStateLockFile"),
                "{off:?}"
            );
            assert!(g.iter().any(|g| g.sid == "TerraformStateLockTable"));
        }
        let state = read.iter().find(|g| g.sid == "TerraformState").unwrap();
        assert_eq!(state.actions.iter().collect::<Vec<_>>(), ["s3:GetObject"]);
        let write = backend_grants(&pairs, &keys, false, Access::Write);
        let state = write.iter().find(|g| g.sid == "TerraformState").unwrap();
        assert!(
            state.actions.contains("s3:PutObject") && !state.actions.contains("s3:DeleteObject")
        );
        let delete = backend_grants(&pairs, &keys, false, Access::Delete);
        let state = delete.iter().find(|g| g.sid == "TerraformState").unwrap();
        assert!(state.actions.contains("s3:DeleteObject"));
        assert_eq!(
            state.resources.iter().collect::<Vec<_>>(),
            ["arn:aws:s3:::b/envs/dev/terraform.tfstate"]
        );
        assert!(backend_grants(&[], &keys, true, Access::Read).is_empty());
    }
}
