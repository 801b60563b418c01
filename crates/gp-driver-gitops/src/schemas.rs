//! Every object the driver renders is validated against the real project's
//! schema before it is written: the Argo CD `Application` CRD, the External
//! Secrets `ExternalSecret` CRD (v1), and the ExternalDNS chart's values
//! schema. Validators are built once per process.

use std::sync::OnceLock;

use gp_driver::DriverError;
use serde_json::Value;

const APPLICATION_CRD: &str = include_str!("../schemas/crds/argoproj.io_applications.yaml");
const EXTERNAL_SECRET_CRD: &str =
    include_str!("../schemas/crds/external-secrets.io_externalsecrets.yaml");
const CLUSTER_SECRET_STORE_CRD: &str =
    include_str!("../schemas/crds/external-secrets.io_clustersecretstores.yaml");
const EXTERNAL_DNS_VALUES: &str = include_str!("../schemas/helm/external-dns.values.schema.json");

/// The `openAPIV3Schema` of a CRD's `version`.
pub fn crd_schema(crd_yaml: &str, version: &str) -> Option<Value> {
    let node = gp_core::yaml::parse(crd_yaml).ok()??;
    let crd = node.to_json();
    crd.pointer("/spec/versions")?
        .as_array()?
        .iter()
        .find(|v| v.get("name").and_then(|n| n.as_str()) == Some(version))?
        .pointer("/schema/openAPIV3Schema")
        .cloned()
}

fn validator(
    cell: &'static OnceLock<Option<jsonschema::Validator>>,
    build: impl FnOnce() -> Option<Value>,
) -> Option<&'static jsonschema::Validator> {
    cell.get_or_init(|| build().and_then(|s| jsonschema::validator_for(&s).ok()))
        .as_ref()
}

fn check(
    v: Option<&jsonschema::Validator>,
    what: &str,
    instance: &Value,
    file: &str,
) -> Result<(), DriverError> {
    let Some(v) = v else {
        return Err(DriverError::permanent(format!(
            "the {what} schema embedded in goldenpath is unreadable"
        )));
    };
    let errors: Vec<String> = v
        .iter_errors(instance)
        .take(5)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DriverError::permanent(format!(
            "rendered {file} is not a valid {what}: {}",
            errors.join("; ")
        )))
    }
}

/// Checks an Argo CD `Application`.
pub fn check_application(app: &Value, file: &str) -> Result<(), DriverError> {
    static V: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    check(
        validator(&V, || crd_schema(APPLICATION_CRD, "v1alpha1")),
        "Argo CD Application",
        app,
        file,
    )
}

/// Checks an `ExternalSecret` against the CRD version it is written in
/// (`v1`, or `v1beta1` for External Secrets Operator before 0.16).
pub fn check_external_secret(es: &Value, file: &str) -> Result<(), DriverError> {
    static V1: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    static V1BETA1: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    let beta = es["apiVersion"] == "external-secrets.io/v1beta1";
    check(
        if beta {
            validator(&V1BETA1, || crd_schema(EXTERNAL_SECRET_CRD, "v1beta1"))
        } else {
            validator(&V1, || crd_schema(EXTERNAL_SECRET_CRD, "v1"))
        },
        if beta {
            "ExternalSecret (v1beta1)"
        } else {
            "ExternalSecret (v1)"
        },
        es,
        file,
    )
}

/// Checks a `ClusterSecretStore` against the CRD version it is written in.
pub fn check_cluster_secret_store(store: &Value, file: &str) -> Result<(), DriverError> {
    static V1: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    static V1BETA1: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    let beta = store["apiVersion"] == "external-secrets.io/v1beta1";
    check(
        if beta {
            validator(&V1BETA1, || crd_schema(CLUSTER_SECRET_STORE_CRD, "v1beta1"))
        } else {
            validator(&V1, || crd_schema(CLUSTER_SECRET_STORE_CRD, "v1"))
        },
        if beta {
            "ClusterSecretStore (v1beta1)"
        } else {
            "ClusterSecretStore (v1)"
        },
        store,
        file,
    )
}

/// Checks ExternalDNS chart values.
pub fn check_external_dns(values: &Value, file: &str) -> Result<(), DriverError> {
    static V: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    check(
        validator(&V, || serde_json::from_str(EXTERNAL_DNS_VALUES).ok()),
        "ExternalDNS values",
        values,
        file,
    )
}
