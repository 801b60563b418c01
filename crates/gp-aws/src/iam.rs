//! Every AWS API call this crate makes, with the IAM action it needs and
//! what it is for: one table ([`CALLS`]). The secrets store, the Route 53
//! backend, the tag sweep and the resources of requests build their
//! permissions from it, an `AccessDenied` names the action from it
//! ([`denied_hint`]), and a test reads this crate's sources and fails on
//! a call the table does not hold (or an entry no source calls).

use std::collections::BTreeSet;

use gp_core::iam::{Access, Grant};

/// One SDK operation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Call {
    /// The source file (under `src/`) that makes it.
    pub file: &'static str,
    /// The SDK crate's service (`aws_sdk_{service}`).
    pub service: &'static str,
    /// The operation as the SDK names its method.
    pub op: &'static str,
    /// The IAM action it needs.
    pub action: &'static str,
    /// The accesses it serves: a read a teardown makes too is `Delete`
    /// as well.
    pub access: &'static [Access],
}

const fn call(
    file: &'static str,
    service: &'static str,
    op: &'static str,
    action: &'static str,
    access: &'static [Access],
) -> Call {
    Call {
        file,
        service,
        op,
        action,
        access,
    }
}

use Access::{Delete, Read, Write};

/// Every call, by file.
pub(crate) const CALLS: &[Call] = &[
    // The secrets store.
    call(
        "secrets.rs",
        "secretsmanager",
        "describe_secret",
        "secretsmanager:DescribeSecret",
        &[Read, Delete],
    ),
    call(
        "secrets.rs",
        "secretsmanager",
        "get_secret_value",
        "secretsmanager:GetSecretValue",
        &[Read],
    ),
    call(
        "secrets.rs",
        "secretsmanager",
        "get_resource_policy",
        "secretsmanager:GetResourcePolicy",
        &[Read],
    ),
    call(
        "secrets.rs",
        "secretsmanager",
        "list_secrets",
        "secretsmanager:ListSecrets",
        &[Read],
    ),
    call(
        "secrets.rs",
        "secretsmanager",
        "create_secret",
        "secretsmanager:CreateSecret",
        &[Write],
    ),
    call(
        "secrets.rs",
        "secretsmanager",
        "put_secret_value",
        "secretsmanager:PutSecretValue",
        &[Write],
    ),
    call(
        "secrets.rs",
        "secretsmanager",
        "restore_secret",
        "secretsmanager:RestoreSecret",
        &[Write],
    ),
    call(
        "secrets.rs",
        "secretsmanager",
        "tag_resource",
        "secretsmanager:TagResource",
        &[Write],
    ),
    call(
        "secrets.rs",
        "secretsmanager",
        "delete_secret",
        "secretsmanager:DeleteSecret",
        &[Delete],
    ),
    // The Route 53 backend of the dns driver.
    call(
        "route53.rs",
        "route53",
        "list_hosted_zones_by_name",
        "route53:ListHostedZonesByName",
        &[Read, Write, Delete],
    ),
    call(
        "route53.rs",
        "route53",
        "list_resource_record_sets",
        "route53:ListResourceRecordSets",
        &[Read, Write, Delete],
    ),
    call(
        "route53.rs",
        "route53",
        "change_resource_record_sets",
        "route53:ChangeResourceRecordSets",
        &[Write, Delete],
    ),
    call(
        "route53.rs",
        "route53",
        "get_change",
        "route53:GetChange",
        &[Write, Delete],
    ),
    // The tag sweep.
    call(
        "tagging.rs",
        "resourcegroupstagging",
        "get_resources",
        "tag:GetResources",
        &[Read],
    ),
    call(
        "tagging.rs",
        "secretsmanager",
        "delete_secret",
        "secretsmanager:DeleteSecret",
        &[Delete],
    ),
    // Requests: what a plan reads first.
    call(
        "resources/mod.rs",
        "secretsmanager",
        "describe_secret",
        "secretsmanager:DescribeSecret",
        &[Read],
    ),
    call(
        "resources/mod.rs",
        "ecr",
        "describe_repositories",
        "ecr:DescribeRepositories",
        &[Read],
    ),
    // Requests: buckets.
    call(
        "resources/s3.rs",
        "s3",
        "head_bucket",
        "s3:ListBucket",
        &[Read],
    ),
    call(
        "resources/s3.rs",
        "s3",
        "get_bucket_tagging",
        "s3:GetBucketTagging",
        &[Read],
    ),
    call(
        "resources/s3.rs",
        "s3",
        "get_bucket_versioning",
        "s3:GetBucketVersioning",
        &[Read],
    ),
    call(
        "resources/s3.rs",
        "s3",
        "get_bucket_encryption",
        "s3:GetEncryptionConfiguration",
        &[Read],
    ),
    call(
        "resources/s3.rs",
        "s3",
        "get_bucket_logging",
        "s3:GetBucketLogging",
        &[Read],
    ),
    call(
        "resources/s3.rs",
        "s3",
        "get_bucket_lifecycle_configuration",
        "s3:GetLifecycleConfiguration",
        &[Read],
    ),
    call(
        "resources/s3.rs",
        "s3",
        "get_public_access_block",
        "s3:GetBucketPublicAccessBlock",
        &[Read],
    ),
    call(
        "resources/s3.rs",
        "s3",
        "create_bucket",
        "s3:CreateBucket",
        &[Write],
    ),
    call(
        "resources/s3.rs",
        "s3",
        "put_bucket_tagging",
        "s3:PutBucketTagging",
        &[Write],
    ),
    call(
        "resources/s3.rs",
        "s3",
        "put_bucket_versioning",
        "s3:PutBucketVersioning",
        &[Write],
    ),
    call(
        "resources/s3.rs",
        "s3",
        "put_bucket_encryption",
        "s3:PutEncryptionConfiguration",
        &[Write],
    ),
    call(
        "resources/s3.rs",
        "s3",
        "put_bucket_logging",
        "s3:PutBucketLogging",
        &[Write],
    ),
    call(
        "resources/s3.rs",
        "s3",
        "put_bucket_lifecycle_configuration",
        "s3:PutLifecycleConfiguration",
        &[Write],
    ),
    call(
        "resources/s3.rs",
        "s3",
        "delete_bucket_lifecycle",
        "s3:PutLifecycleConfiguration",
        &[Write],
    ),
    call(
        "resources/s3.rs",
        "s3",
        "put_public_access_block",
        "s3:PutBucketPublicAccessBlock",
        &[Write],
    ),
    // Requests: secrets (never a value).
    call(
        "resources/secrets.rs",
        "secretsmanager",
        "describe_secret",
        "secretsmanager:DescribeSecret",
        &[Read],
    ),
    call(
        "resources/secrets.rs",
        "secretsmanager",
        "get_resource_policy",
        "secretsmanager:GetResourcePolicy",
        &[Read],
    ),
    call(
        "resources/secrets.rs",
        "secretsmanager",
        "create_secret",
        "secretsmanager:CreateSecret",
        &[Write],
    ),
    call(
        "resources/secrets.rs",
        "secretsmanager",
        "tag_resource",
        "secretsmanager:TagResource",
        &[Write],
    ),
    call(
        "resources/secrets.rs",
        "secretsmanager",
        "restore_secret",
        "secretsmanager:RestoreSecret",
        &[Write],
    ),
    call(
        "resources/secrets.rs",
        "secretsmanager",
        "put_resource_policy",
        "secretsmanager:PutResourcePolicy",
        &[Write],
    ),
    // Requests: repositories.
    call(
        "resources/ecr.rs",
        "ecr",
        "describe_repositories",
        "ecr:DescribeRepositories",
        &[Read],
    ),
    call(
        "resources/ecr.rs",
        "ecr",
        "list_tags_for_resource",
        "ecr:ListTagsForResource",
        &[Read],
    ),
    call(
        "resources/ecr.rs",
        "ecr",
        "get_lifecycle_policy",
        "ecr:GetLifecyclePolicy",
        &[Read],
    ),
    call(
        "resources/ecr.rs",
        "ecr",
        "create_repository",
        "ecr:CreateRepository",
        &[Write],
    ),
    call(
        "resources/ecr.rs",
        "ecr",
        "tag_resource",
        "ecr:TagResource",
        &[Write],
    ),
    call(
        "resources/ecr.rs",
        "ecr",
        "put_image_scanning_configuration",
        "ecr:PutImageScanningConfiguration",
        &[Write],
    ),
    call(
        "resources/ecr.rs",
        "ecr",
        "put_image_tag_mutability",
        "ecr:PutImageTagMutability",
        &[Write],
    ),
    call(
        "resources/ecr.rs",
        "ecr",
        "put_lifecycle_policy",
        "ecr:PutLifecyclePolicy",
        &[Write],
    ),
];

/// The actions of the calls `file` makes for `access`, of one IAM
/// service (`secretsmanager`, `s3`, ...).
pub(crate) fn actions(file: &str, access: Access, iam_service: &str) -> BTreeSet<&'static str> {
    CALLS
        .iter()
        .filter(|c| c.file == file && c.access.contains(&access))
        .filter(|c| c.action.split(':').next() == Some(iam_service))
        .map(|c| c.action)
        .collect()
}

/// A grant of the actions `file` makes for `access` in one IAM service,
/// on `resources`: `None` when it makes none.
pub(crate) fn grant(
    sid: &str,
    file: &str,
    access: Access,
    iam_service: &str,
    resources: impl IntoIterator<Item = String>,
) -> Option<Grant> {
    let a = actions(file, access, iam_service);
    (!a.is_empty()).then(|| Grant::new(sid, a, resources))
}

/// An ARN of `service` in `region` (`*` when the chain decides) with the
/// account left as `*` (`goldenpath iam policy --account-id` pins it).
pub(crate) fn arn(service: &str, region: Option<&str>, resource: &str) -> String {
    format!("arn:aws:{service}:{}:*:{resource}", region.unwrap_or("*"))
}

/// A secret's ARN pattern: Secrets Manager adds `-` and six characters.
pub(crate) fn secret_arn(region: Option<&str>, path: &str) -> String {
    let tail = if path.ends_with('*') { "" } else { "-??????" };
    arn("secretsmanager", region, &format!("secret:{path}{tail}"))
}

/// Whether a service's answer is a denial of the caller's permissions.
pub(crate) fn is_denial(code: Option<&str>, status: u16) -> bool {
    matches!(
        code,
        Some("AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "Forbidden")
    ) || (status == 403 && code.is_none())
}

/// For an error the service answered with: when it is a denial, which IAM
/// action the call needs (from the operation's error type, e.g.
/// `aws_sdk_s3::operation::head_bucket::HeadBucketError`).
pub(crate) fn denied_hint(code: Option<&str>, status: u16, error_type: &str) -> Option<String> {
    if !is_denial(code, status) {
        return None;
    }
    let mut parts = error_type.split("::");
    let service = parts.next()?.strip_prefix("aws_sdk_")?;
    let op = parts.nth(1)?;
    let c = CALLS.iter().find(|c| c.service == service && c.op == op)?;
    Some(format!(
        "the credentials lack `{}` (see `goldenpath iam policy`)",
        c.action
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Method calls that look like an operation but are not one: the
    /// SDK's builders and outputs, and this crate's own functions.
    const NOT_CALLS: &[&str] = &["tag_set", "change_info", "get_or_init", "get_mut"];

    fn sources() -> BTreeMap<String, String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut out = BTreeMap::new();
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    let rel = p
                        .strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                    out.insert(rel, std::fs::read_to_string(&p).unwrap());
                }
            }
        }
        out
    }

    /// The operation-shaped method calls of a source: `.verb_object()`.
    fn op_calls(src: &str, own: &BTreeSet<String>) -> BTreeSet<String> {
        let re = regex::Regex::new(
            r"\.((?:create|put|get|delete|list|describe|restore|tag|untag|change|update|head|rotate|batch|remove|add|attach|detach)_[a-z0-9_]+)\(\)",
        )
        .unwrap();
        // Code only: not this table's own strings or the tests.
        let code = src.split("#[cfg(test)]").next().unwrap_or(src);
        re.captures_iter(code)
            .map(|c| c[1].to_string())
            .filter(|n| !NOT_CALLS.contains(&n.as_str()) && !own.contains(n))
            .collect()
    }

    #[test]
    fn every_call_in_the_sources_is_in_the_table_and_every_entry_is_called() {
        let files = sources();
        let fn_re = regex::Regex::new(r"fn ([a-z0-9_]+)").unwrap();
        let own: BTreeSet<String> = files
            .values()
            .flat_map(|s| {
                fn_re
                    .captures_iter(s)
                    .map(|c| c[1].to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut problems = Vec::new();
        for (file, src) in &files {
            if file == "iam.rs" {
                continue;
            }
            let called = op_calls(src, &own);
            let declared: BTreeSet<String> = CALLS
                .iter()
                .filter(|c| c.file == file)
                .map(|c| c.op.to_string())
                .collect();
            for op in called.difference(&declared) {
                problems.push(format!("{file} calls `{op}`, which CALLS does not hold"));
            }
            for op in declared.difference(&called) {
                problems.push(format!(
                    "CALLS holds `{op}` for {file}, which does not call it"
                ));
            }
        }
        assert!(problems.is_empty(), "{problems:#?}");
        // The scan sees what it must: a call split over lines too.
        assert!(
            op_calls("c\n  .create_secret()\n  .send()", &BTreeSet::new())
                .contains("create_secret")
        );
    }

    #[test]
    fn every_entry_names_a_real_file_and_an_action_of_its_service() {
        let files = sources();
        for c in CALLS {
            assert!(files.contains_key(c.file), "{c:?}");
            let (svc, name) = c.action.split_once(':').unwrap();
            assert!(
                name.chars().next().unwrap().is_ascii_uppercase()
                    && name.chars().all(|x| x.is_ascii_alphanumeric()),
                "{c:?}"
            );
            let expected = match c.service {
                "resourcegroupstagging" => "tag",
                s => s,
            };
            assert_eq!(svc, expected, "{c:?}");
        }
    }

    #[test]
    fn a_denial_names_the_action_of_the_operation_and_nothing_else_does() {
        let t = "aws_sdk_s3::operation::head_bucket::HeadBucketError";
        assert_eq!(
            denied_hint(None, 403, t).unwrap(),
            "the credentials lack `s3:ListBucket` (see `goldenpath iam policy`)"
        );
        let t = "aws_sdk_secretsmanager::operation::create_secret::CreateSecretError";
        assert!(
            denied_hint(Some("AccessDeniedException"), 400, t)
                .unwrap()
                .contains("secretsmanager:CreateSecret")
        );
        assert!(
            denied_hint(
                Some("AccessDenied"),
                403,
                "aws_sdk_ecr::operation::create_repository::CreateRepositoryError"
            )
            .unwrap()
            .contains("ecr:CreateRepository")
        );
        // Not a denial.
        assert_eq!(denied_hint(Some("ResourceNotFoundException"), 400, t), None);
        assert_eq!(denied_hint(None, 404, t), None);
        // An operation the table does not know.
        assert_eq!(
            denied_hint(
                Some("AccessDenied"),
                403,
                "aws_sdk_s3::operation::get_object::GetObjectError"
            ),
            None
        );
        assert_eq!(
            denied_hint(Some("AccessDenied"), 403, "something::else"),
            None
        );
    }

    #[test]
    fn arns_leave_the_account_to_the_policy_and_secrets_get_their_suffix() {
        assert_eq!(
            secret_arn(Some("eu-west-2"), "gp/dev/rds/admin"),
            "arn:aws:secretsmanager:eu-west-2:*:secret:gp/dev/rds/admin-??????"
        );
        assert_eq!(
            secret_arn(None, "gp/dev/builds/*"),
            "arn:aws:secretsmanager:*:*:secret:gp/dev/builds/*"
        );
        assert!(grant("X", "secrets.rs", Access::Delete, "s3", ["*".to_string()]).is_none());
        let g = grant(
            "X",
            "secrets.rs",
            Access::Delete,
            "secretsmanager",
            ["r".to_string()],
        )
        .unwrap();
        // The orphan check asks whether it is there, never its value.
        assert_eq!(
            g.actions.iter().collect::<Vec<_>>(),
            [
                "secretsmanager:DeleteSecret",
                "secretsmanager:DescribeSecret"
            ]
        );
    }
}
