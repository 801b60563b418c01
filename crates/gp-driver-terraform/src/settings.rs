//! The `terraform` driver's typed settings: the root, binary, backend,
//! guards and variables.

use super::*;

/// Where the state lives.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum BackendSettings {
    /// A file under `{state}/tfstate/`.
    Local,
    /// An S3 bucket (with an optional DynamoDB lock table).
    S3(S3Backend),
}

/// S3 backend settings. `bucket`, `region` and `dynamodbTable` may name
/// `{env}`, `{project}` and `{prefix}` (one bucket per environment:
/// `goldenpath-idp-{env}-tfstate`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct S3Backend {
    /// Bucket.
    pub bucket: String,
    /// Region.
    pub region: String,
    /// DynamoDB lock table.
    #[serde(default)]
    pub dynamodb_table: Option<String>,
    /// S3's native lock file beside the state (`use_lockfile`).
    #[serde(default)]
    pub use_lockfile: Option<bool>,
    /// Path-style bucket addressing (`use_path_style`), for S3-compatible
    /// endpoints.
    #[serde(default)]
    pub use_path_style: Option<bool>,
    /// Server-side encryption of the state (`encrypt`).
    #[serde(default)]
    pub encrypt: Option<bool>,
    /// The KMS key of the state's encryption (`kms_key_id`).
    #[serde(default)]
    pub kms_key_id: Option<String>,
}

impl S3Backend {
    /// `text` with `{env}`, `{project}` and `{prefix}` replaced; an unknown
    /// placeholder is an error naming it.
    pub fn expand(text: &str, env: &str, project: &str, prefix: &str) -> Result<String, String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            let Some(j) = rest[i..].find('}') else {
                return Err(format!("`{text}` has an unclosed `{{`"));
            };
            match &rest[i + 1..i + j] {
                "env" => out.push_str(env),
                "project" => out.push_str(project),
                "prefix" => out.push_str(prefix),
                other => {
                    return Err(format!(
                        "`{text}` names `{{{other}}}`: only {{env}}, {{project}} and {{prefix}} are known"
                    ));
                }
            }
            rest = &rest[i + j + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The backend's `-backend-config` pairs for one environment.
    pub fn config(
        &self,
        env: &str,
        project: &str,
        prefix: &str,
    ) -> Result<Vec<(&'static str, String)>, String> {
        let x = |t: &str| Self::expand(t, env, project, prefix);
        let mut out = vec![("bucket", x(&self.bucket)?), ("region", x(&self.region)?)];
        if let Some(t) = &self.dynamodb_table {
            out.push(("dynamodb_table", x(t)?));
        }
        if let Some(b) = self.use_lockfile {
            out.push(("use_lockfile", b.to_string()));
        }
        if let Some(b) = self.use_path_style {
            out.push(("use_path_style", b.to_string()));
        }
        if let Some(b) = self.encrypt {
            out.push(("encrypt", b.to_string()));
        }
        if let Some(k) = &self.kms_key_id {
            out.push(("kms_key_id", x(k)?));
        }
        Ok(out)
    }
}

/// Per-plan limits.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Limits {
    /// At most this many creates (replacements count).
    #[serde(default)]
    pub max_create: Option<u32>,
    /// At most this many in-place updates.
    #[serde(default)]
    pub max_change: Option<u32>,
    /// At most this many deletions (replacements count).
    #[serde(default)]
    pub max_destroy: Option<u32>,
}

/// Settings of a `terraform` component.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TerraformSettings {
    /// The root module, relative to the spec.
    pub root: Spanned<String>,
    /// `terraform`, `tofu`, or a path.
    #[serde(default)]
    pub binary: Option<String>,
    /// `local` (default) or `{s3: {...}}`.
    #[serde(default)]
    pub backend: Option<BackendSettings>,
    /// Where a disposable component's state is: `workspace` (the default:
    /// a workspace of its own under the deployment's key) or `deployment`
    /// (the deployment's key exactly, `envs/{env}/builds/{B}/terraform.tfstate`,
    /// as platforms with one root per deployment keep it; one component per
    /// spec).
    #[serde(default)]
    pub state_key: Option<Spanned<StateKeyMode>>,
    /// Extra variables; values may reference outputs.
    #[serde(default)]
    pub variables: Option<RawNode>,
    /// Address patterns (`*` matches anything) that may never be deleted or
    /// replaced.
    #[serde(default)]
    pub protect: Vec<Spanned<String>>,
    /// Per-plan limits.
    #[serde(default)]
    pub limits: Limits,
    /// Kill a terraform command after this long (default 30m).
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
    /// How long to wait for a state lock (default 0s: fail at once).
    #[serde(default)]
    pub lock_timeout: Option<String>,
}

/// Where a disposable component's state lives.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StateKeyMode {
    /// A workspace per component under the deployment's key.
    #[default]
    Workspace,
    /// The deployment's key itself.
    Deployment,
}
