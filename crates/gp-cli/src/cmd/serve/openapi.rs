//! The OpenAPI 3.1 document of the API.

use super::api::{BuildsPage, EnvironmentsOutput, Problem, UnlockOutput};

/// Every path, its summary and the type it answers with.
pub(super) fn api() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        (
            "/api/v1/environments",
            "The environments of the spec",
            "EnvironmentsOutput",
        ),
        (
            "/api/v1/environments/{env}",
            "An environment at a glance: the foundational plane, the persistent deployment, live builds (status --env E)",
            "Overview",
        ),
        (
            "/api/v1/environments/{env}/deployments/{deployment}",
            "A deployment's components with state, reason and next command (status --env E --build-id B|--persistent|--foundational)",
            "DeploymentStatus",
        ),
        (
            "/api/v1/environments/{env}/deployments/{deployment}/graph",
            "A deployment's graph (graph --output json; format=mermaid|dot for text)",
            "GraphOutput",
        ),
        (
            "/api/v1/environments/{env}/builds",
            "Builds, newest first, paged (limit, offset) and filtered by status",
            "BuildsPage",
        ),
        (
            "/api/v1/environments/{env}/builds/{build}",
            "A build's reservation, events, phases, journal, lease and overrides (builds show)",
            "BuildDetail",
        ),
        (
            "/api/v1/environments/{env}/report",
            "Per phase: runs, success rate, p50/p95 (registry report)",
            "ReportOutput",
        ),
        (
            "/api/v1/environments/{env}/metrics",
            "Delivery metrics over a window (since, until; default the last 30 days): deployment frequency, lead time for changes, change failure rate, time to restore (metrics)",
            "MetricsOutput",
        ),
        (
            "/api/v1/leases",
            "Every lease recorded (lease list)",
            "LeasesOutput",
        ),
        (
            "/api/v1/requests",
            "Self-service requests with their state and events (request list)",
            "RequestListOutput",
        ),
        (
            "/api/v1/resources",
            "What requests created or adopted, who asked and who applied (resources list)",
            "ResourcesOutput",
        ),
        (
            "/api/v1/catalog",
            "Backstage entities (catalog --output json)",
            "CatalogOutput",
        ),
    ]
}

/// The OpenAPI 3.1 document, its schemas generated from the same types the
/// handlers answer with.
///
/// The path parameters carry examples from the spec (its first
/// environment, the persistent deployment), so that a client generated
/// from it, or a fuzzer, reaches something that exists.
pub(super) fn openapi(envs: &[String]) -> serde_json::Value {
    let env_example = envs.first().cloned().unwrap_or_default();
    let example = |name: &str| -> serde_json::Value {
        match name {
            "env" => env_example.clone().into(),
            "deployment" => "persistent".into(),
            _ => serde_json::Value::Null,
        }
    };
    // A path parameter, with its example when there is one.
    let path_param = |name: &str| {
        let mut p = serde_json::json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "maxLength": 64}});
        if !example(name).is_null() {
            p["example"] = example(name);
        }
        p
    };
    let mut settings = schemars::generate::SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas/".into();
    let mut generator = settings.into_generator();
    let refs: std::collections::BTreeMap<&str, serde_json::Value> = [
        (
            "EnvironmentsOutput",
            generator.subschema_for::<EnvironmentsOutput>().to_value(),
        ),
        (
            "Overview",
            generator
                .subschema_for::<gp_engine::status::Overview>()
                .to_value(),
        ),
        (
            "DeploymentStatus",
            generator
                .subschema_for::<gp_engine::status::DeploymentStatus>()
                .to_value(),
        ),
        (
            "BuildsPage",
            generator.subschema_for::<BuildsPage>().to_value(),
        ),
        (
            "GraphOutput",
            generator
                .subschema_for::<crate::outputs::GraphOutput>()
                .to_value(),
        ),
        (
            "BuildDetail",
            generator
                .subschema_for::<crate::cmd::builds::BuildDetail>()
                .to_value(),
        ),
        (
            "ReportOutput",
            generator
                .subschema_for::<crate::outputs::ReportOutput>()
                .to_value(),
        ),
        (
            "MetricsOutput",
            generator
                .subschema_for::<crate::outputs::MetricsOutput>()
                .to_value(),
        ),
        (
            "LeasesOutput",
            generator
                .subschema_for::<crate::outputs::LeasesOutput>()
                .to_value(),
        ),
        (
            "RequestListOutput",
            generator
                .subschema_for::<crate::outputs::RequestListOutput>()
                .to_value(),
        ),
        (
            "CatalogOutput",
            generator
                .subschema_for::<crate::outputs::CatalogOutput>()
                .to_value(),
        ),
        (
            "ResourcesOutput",
            generator
                .subschema_for::<crate::outputs::ResourcesOutput>()
                .to_value(),
        ),
        ("Problem", generator.subschema_for::<Problem>().to_value()),
    ]
    .into_iter()
    .collect();
    let mut schemas = serde_json::Map::new();
    for (name, schema) in generator.take_definitions(true) {
        schemas.insert(name, schema);
    }
    let problem_ref = refs["Problem"].clone();
    let mut paths = serde_json::Map::new();
    for (path, summary, ty) in api() {
        let mut params: Vec<serde_json::Value> = Vec::new();
        for name in ["env", "deployment", "build"] {
            if path.contains(&format!("{{{name}}}")) {
                params.push(path_param(name));
            }
        }
        if ty == "BuildsPage" {
            params.push(serde_json::json!({"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}}));
            params.push(serde_json::json!({"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}}));
            params.push(serde_json::json!({"name": "status", "in": "query", "schema": {"type": "string", "maxLength": 32}}));
        }
        if ty == "GraphOutput" {
            params.push(serde_json::json!({"name": "format", "in": "query", "schema": {"enum": ["json", "mermaid", "dot"]}}));
        }
        if ty == "MetricsOutput" {
            params.push(serde_json::json!({"name": "since", "in": "query", "schema": {"type": "string", "maxLength": 32}}));
            params.push(serde_json::json!({"name": "until", "in": "query", "schema": {"type": "string", "maxLength": 32}}));
        }
        if ty == "ReportOutput" {
            params.push(serde_json::json!({"name": "since", "in": "query", "schema": {"type": "string", "maxLength": 32}}));
            params.push(serde_json::json!({"name": "includeImported", "in": "query", "schema": {"type": "boolean"}}));
        }
        if ty == "CatalogOutput" || ty == "RequestListOutput" || ty == "ResourcesOutput" {
            params.push(serde_json::json!({"name": "env", "in": "query", "schema": {"type": "string", "maxLength": 64}}));
        }
        let problem = serde_json::json!({"description": "a problem document", "content": {"application/problem+json": {"schema": problem_ref}}});
        let mut ok = serde_json::json!({"application/json": {"schema": refs[ty]}});
        if ty == "GraphOutput" {
            // format=mermaid and format=dot answer with the graph as text.
            ok["text/plain"] = serde_json::json!({"schema": {"type": "string"}});
            ok["text/vnd.graphviz"] = serde_json::json!({"schema": {"type": "string"}});
        }
        paths.insert(
            path.to_string(),
            serde_json::json!({"get": {
                "summary": summary,
                "parameters": params,
                "responses": {
                    "200": {"description": "OK", "content": ok},
                    "400": problem, "404": problem, "414": problem, "503": problem,
                },
            }}),
        );
    }
    // The changes: a bearer token of a holder in --tokens.
    let approved = generator
        .subschema_for::<crate::outputs::RequestApprovedOutput>()
        .to_value();
    let unlocked = generator.subschema_for::<UnlockOutput>().to_value();
    for (name, schema) in generator.take_definitions(true) {
        schemas.insert(name, schema);
    }
    let reason = serde_json::json!({"required": false, "content": {"application/json": {"schema": {
        "type": "object", "properties": {"reason": {"type": "string", "maxLength": 2048}}}}}});
    let problem = serde_json::json!({"description": "a problem document", "content": {"application/problem+json": {"schema": problem_ref}}});
    for (path, summary, ok, params) in [
        (
            "/api/v1/requests/{id}/approve",
            "Approve a request as the token's holder (never its requester; an approver of its route)",
            approved,
            vec!["id"],
        ),
        (
            "/api/v1/leases/{env}/{deployment}/unlock",
            "Force-unlock a lease, with a reason, as an approver",
            unlocked,
            vec!["env", "deployment"],
        ),
    ] {
        let params: Vec<serde_json::Value> = params.iter().map(|n| path_param(n)).collect();
        paths.insert(
            path.to_string(),
            serde_json::json!({"post": {
                "summary": summary,
                "security": [{"bearer": []}],
                "parameters": params,
                "requestBody": reason,
                "responses": {
                    "200": {"description": "OK", "content": {"application/json": {"schema": ok}}},
                    "400": problem, "401": problem, "403": problem, "404": problem, "413": problem, "503": problem,
                },
            }}),
        );
    }
    // Every `fooUs` is answered with its ISO 8601 `fooUtc` beside it.
    let mut schemas = serde_json::Value::Object(schemas);
    crate::outputs::declare_times(&mut schemas);
    serde_json::json!({
        "openapi": "3.1.0",
        "info": {"title": "goldenpath", "version": env!("CARGO_PKG_VERSION"),
                 "description": "The goldenpath registry, read-only: the CLI's --output json shapes."},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    })
}
