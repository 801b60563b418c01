//! The JSON Schema of each command's output, generated from its type.

use schemars::{JsonSchema, Schema};
use serde::Serialize;

use super::*;

/// The JSON Schema of what `command` prints with `--output json` (a
/// document, or one line of a stream), or of an error; `None` for a
/// command that prints no JSON. `command` is the command's words, e.g.
/// `builds list`.
pub fn schema_of(command: &str) -> Option<Schema> {
    let words: Vec<&str> = command.split_whitespace().collect();
    let s = match words.as_slice() {
        ["validate"] => doc::<ValidateReport>(),
        ["contract"] => doc::<gp_core::contract::ContractView>(),
        ["init"] => doc::<InitOutput>(),
        ["schema"] | ["request", "schema"] => doc::<SchemaDocument>(),
        ["request", "new"] | ["request", "new", _] => doc::<RequestNewOutput>(),
        ["plan"] => doc::<gp_engine::Plan>(),
        ["deploy"] => doc::<RunLine<gp_engine::DeployOutcome>>(),
        ["teardown"] => doc::<RunLine<gp_engine::TeardownOutcome>>(),
        ["status"] => doc::<StatusOutput>(),
        ["drift"] => doc::<DriftOutput>(),
        ["metrics"] => doc::<MetricsOutput>(),
        ["graph"] => doc::<GraphOutput>(),
        ["builds", "list"] => doc::<BuildsOutput>(),
        ["builds", "show"] => doc::<BuildDetail>(),
        ["registry", "export"] => doc::<ExportOutput>(),
        ["registry", "import"] => doc::<ImportOutput>(),
        ["registry", "report"] => doc::<ReportOutput>(),
        ["registry", "verify"] => doc::<VerifyOutput>(),
        ["registry", "migrate"] => doc::<MigrateOutput>(),
        ["registry", "grant-runner"] => doc::<GrantOutput>(),
        ["lease", "list"] => doc::<LeasesOutput>(),
        ["lease", "unlock"] => doc::<LeaseUnlockOutput>(),
        ["request", "validate"] => doc::<RequestChecksOutput>(),
        ["request", "plan"] => doc::<RequestPlanOutput>(),
        ["request", "approve"] => doc::<RequestApprovedOutput>(),
        ["request", "apply"] => doc::<RequestAppliedOutput>(),
        ["request", "withdraw"] => doc::<RequestWithdrawnOutput>(),
        ["resources", "list"] => doc::<ResourcesOutput>(),
        ["request", "list"] => doc::<RequestListOutput>(),
        ["db", "list"] => doc::<DatabasesOutput>(),
        ["owners"] => doc::<OwnersOutput>(),
        ["iam", "policy"] => doc::<IamPolicyOutput>(),
        ["iam", "trust"] => doc::<IamTrustOutput>(),
        ["iam", "check"] => doc::<IamCheckOutput>(),
        ["secret", "list"] => doc::<SecretsOutput>(),
        ["secret", "get"] => doc::<SecretOutput>(),
        ["secret", "put"] => doc::<SecretPutOutput>(),
        ["dns", "plan"] => doc::<DnsPlanOutput>(),
        ["dns", "apply"] => doc::<DnsApplyOutput>(),
        ["dns", "list"] => doc::<DnsListOutput>(),
        ["terraform", "unlock"] => doc::<TerraformUnlockOutput>(),
        ["verify", "propagation"] => doc::<PropagationOutput>(),
        ["docs", "check"] => doc::<gp_docs::Report>(),
        ["docs", "index"] => doc::<gp_docs::IndexOutcome>(),
        ["docs", "fix"] => doc::<DocsFixOutput>(),
        ["docs", "baseline"] => doc::<DocsBaselineOutput>(),
        ["orphans"] => doc::<OrphansOutput>(),
        ["gitops", "bootstrap"] => doc::<GitopsBootstrapOutput>(),
        ["policy", "list"] => doc::<PolicyListOutput>(),
        ["builds", "extend"] | ["builds", "keep"] => doc::<BuildExpiryOutput>(),
        ["builds", "sweep"] => doc::<SweepOutput>(),
        ["ci", "github"] | ["ci", "github", "deployment"] | ["ci", "github", "release"] => {
            doc::<CiFilesOutput>()
        }
        ["reap"] => doc::<RunLine<gp_engine::expiry::ReapOutcome>>(),
        ["catalog"] => doc::<CatalogOutput>(),
        // A server prints no JSON; with --output json, a refused start's error.
        ["serve"] => doc::<ErrorOutput>(),
        ["policy", "check"] => doc::<PolicyCheckOutput>(),
        ["policy", "test"] => doc::<PolicyTestOutput>(),
        ["docs", "init"] => doc::<gp_docs::init::Initialised>(),
        ["docs", "rules"] => doc::<DocsRulesOutput>(),
        ["env"] => doc::<EnvOutput>(),
        ["state-dir"] => doc::<StateDirOutput>(),
        // A shell script, never JSON: with --output json, the error.
        ["completions"] => doc::<ErrorOutput>(),
        _ => return None,
    };
    Some(s)
}

/// `status` prints one deployment, or the environment at a glance.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum StatusOutput {
    /// `--build-id`, `--persistent` or `--foundational`.
    Deployment(gp_engine::status::DeploymentStatus),
    /// Neither: the foundational plane, the persistent deployment, builds.
    Environment(Box<gp_engine::status::Overview>),
}

/// The schema of `T` or an [`ErrorOutput`], strict: an object accepts only
/// the properties its type declares.
fn doc<T: JsonSchema>() -> Schema {
    let mut settings = schemars::generate::SchemaSettings::draft2020_12();
    settings.meta_schema = Some("https://json-schema.org/draft/2020-12/schema".into());
    let mut generator = settings.into_generator();
    let ok = generator.subschema_for::<T>();
    let err = generator.subschema_for::<ErrorOutput>();
    let mut root = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": std::any::type_name::<T>().rsplit("::").next().unwrap_or_default(),
        "anyOf": [ok.to_value(), err.to_value()],
        "$defs": generator.take_definitions(true),
    });
    strict(&mut root, false);
    // An internally tagged enum's arm (`properties: {kind}` beside a
    // `$ref`) evaluates the referenced object's properties as its own: the
    // arm is strict, the object it refers to must not be (it would refuse
    // the tag).
    let mut partial = Vec::new();
    tagged_refs(&root, &mut partial);
    if let Some(defs) = root.get_mut("$defs").and_then(|d| d.as_object_mut()) {
        for name in partial {
            if let Some(d) = defs.get_mut(&name).and_then(|d| d.as_object_mut()) {
                d.remove("unevaluatedProperties");
            }
        }
    }
    Schema::try_from(root).unwrap_or_default()
}

/// The definitions an object with properties of its own refers to.
fn tagged_refs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            if m.contains_key("properties")
                && let Some(r) = m.get("$ref").and_then(|r| r.as_str())
                && let Some(name) = r.strip_prefix("#/$defs/")
            {
                out.push(name.to_string());
            }
            m.values().for_each(|c| tagged_refs(c, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|c| tagged_refs(c, out)),
        _ => {}
    }
}

/// Adds `unevaluatedProperties: false` to every object schema that lists
/// properties and is a whole object (not one arm of a flattened enum,
/// whose parent carries the rest).
fn strict(v: &mut serde_json::Value, partial: bool) {
    add_time_properties(v);
    let Some(map) = v.as_object_mut() else {
        if let Some(items) = v.as_array_mut() {
            for i in items {
                strict(i, partial);
            }
        }
        return;
    };
    let has_props = map.contains_key("properties");
    for (key, child) in map.iter_mut() {
        match key.as_str() {
            "oneOf" | "anyOf" | "allOf" => strict(child, has_props),
            "properties" | "$defs" | "definitions" => {
                if let Some(m) = child.as_object_mut() {
                    for c in m.values_mut() {
                        strict(c, false);
                    }
                }
            }
            "items" | "additionalProperties" | "prefixItems" => strict(child, false),
            _ => {}
        }
    }
    if has_props && !partial && !map.contains_key("additionalProperties") {
        map.insert(
            "unevaluatedProperties".into(),
            serde_json::Value::Bool(false),
        );
    }
}

/// Every command that prints JSON, as `schema --output-of` takes it.
pub const COMMANDS: &[&str] = &[
    "validate",
    "contract",
    "init",
    "schema",
    "plan",
    "deploy",
    "status",
    "drift",
    "metrics",
    "teardown",
    "graph",
    "builds list",
    "builds show",
    "registry export",
    "registry import",
    "registry report",
    "registry verify",
    "registry migrate",
    "registry grant-runner",
    "lease list",
    "lease unlock",
    "request validate",
    "request plan",
    "request approve",
    "request apply",
    "request withdraw",
    "request list",
    "request schema",
    "request new rds",
    "request new s3",
    "request new secret",
    "request new ecr",
    "resources list",
    "db list",
    "owners",
    "iam policy",
    "iam trust",
    "iam check",
    "secret list",
    "secret get",
    "secret put",
    "dns plan",
    "dns apply",
    "dns list",
    "terraform unlock",
    "verify propagation",
    "docs check",
    "docs index",
    "docs fix",
    "docs baseline",
    "orphans",
    "gitops bootstrap",
    "policy list",
    "builds extend",
    "builds keep",
    "builds sweep",
    "ci github",
    "ci github deployment",
    "ci github release",
    "reap",
    "catalog",
    "serve",
    "policy check",
    "policy test",
    "docs init",
    "docs rules",
    "env",
    "state-dir",
    "completions",
];

/// [`add_time_properties`] in every schema of `v`.
pub fn declare_times(v: &mut serde_json::Value) {
    add_time_properties(v);
    match v {
        serde_json::Value::Object(map) => map.values_mut().for_each(declare_times),
        serde_json::Value::Array(items) => items.iter_mut().for_each(declare_times),
        _ => {}
    }
}

/// Beside every property `fooUs` (µs since the epoch), the `fooUtc` the
/// printer adds ([`with_times`]): an ISO 8601 time, present when the
/// number is.
fn add_time_properties(v: &mut serde_json::Value) {
    let Some(props) = v.get_mut("properties").and_then(|p| p.as_object_mut()) else {
        return;
    };
    let times: Vec<String> = props
        .keys()
        .filter_map(|k| k.strip_suffix("Us").filter(|b| !b.is_empty()))
        .map(|b| format!("{b}Utc"))
        .collect();
    for t in times {
        props.entry(t).or_insert_with(|| {
            serde_json::json!({
                "type": "string",
                "format": "date-time",
                "description": "The microseconds beside it, as an ISO 8601 time (UTC)."
            })
        });
    }
}

/// Adds, beside every `fooUs` number of a document (µs since the epoch),
/// `fooUtc`: the same moment as an ISO 8601 time in UTC, for people and
/// tools that read times, not numbers.
pub fn with_times(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            let adds: Vec<(String, serde_json::Value)> = map
                .iter()
                .filter_map(|(k, x)| {
                    let base = k.strip_suffix("Us").filter(|b| !b.is_empty())?;
                    let us = x.as_i64()?;
                    let t = chrono::DateTime::from_timestamp_micros(us)?;
                    Some((
                        format!("{base}Utc"),
                        serde_json::Value::String(
                            t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                        ),
                    ))
                })
                .collect();
            for c in map.values_mut() {
                with_times(c);
            }
            for (k, t) in adds {
                map.entry(k).or_insert(t);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(with_times),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_listed_command_has_a_schema() {
        for c in super::COMMANDS {
            assert!(super::schema_of(c).is_some(), "{c}");
        }
    }
}
