//! `goldenpath validate`.

use clap::Args;
use serde::Serialize;

use crate::Context;
use crate::exit::{Code, Reported};

/// Arguments of `goldenpath validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {}

/// The JSON shape of `goldenpath validate --output json`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidateReport {
    /// Version of this shape.
    pub schema_version: u32,
    /// Whether everything checked is valid.
    pub valid: bool,
    /// The spec file.
    pub spec: String,
    /// Components declared.
    pub components: usize,
    /// Environments declared.
    pub environments: usize,
    /// Problems found.
    pub diagnostics: Vec<DiagnosticJson>,
}

/// A diagnostic in JSON.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiagnosticJson {
    /// File.
    pub file: String,
    /// 1-based line, if known.
    pub line: Option<u32>,
    /// 1-based column, if known.
    pub column: Option<u32>,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub hint: Option<String>,
}

impl From<&gp_core::Diagnostic> for DiagnosticJson {
    fn from(d: &gp_core::Diagnostic) -> Self {
        Self {
            file: d.file.display().to_string(),
            line: d.pos.map(|p| p.line),
            column: d.pos.map(|p| p.col),
            message: d.message.clone(),
            hint: d.hint.clone(),
        }
    }
}

/// Checks the spec and reports.
pub fn run(ctx: &Context, _args: ValidateArgs) -> anyhow::Result<()> {
    let spec = crate::cmd::shown(&ctx.spec_path()?);
    let checked = ctx.platform().and_then(|p| {
        let drivers = ctx.drivers()?;
        let declared = gp_engine::validate(p, &drivers)?;
        ctx.preflight(&drivers)?;
        gp_policy::PolicySet::load(p)?;
        // A spec change that would take a name a request holds (read from
        // the registry when there is one; none is created).
        if ctx.require_registry().is_ok() {
            let cancel = std::sync::atomic::AtomicBool::new(false);
            let engine = ctx.engine(&drivers, &gp_engine::NoEvents, &cancel)?;
            let claims = engine.spec_claims()?;
            if !claims.is_empty() {
                for d in &claims {
                    ctx.printer.error(&d.to_string(), &[], d.hint.as_deref());
                }
                return Err(Reported(Code::Refused).into());
            }
        }
        if ctx.global.verbose > 0 {
            for c in &p.spec.components {
                let d = declared.get(&c.name.value);
                let outputs = d
                    .and_then(|d| d.outputs.as_ref())
                    .map(|o| o.join(", "))
                    .unwrap_or_else(|| "known at apply".into());
                let resources = d.map(|d| d.resources.join(", ")).unwrap_or_default();
                ctx.printer.status(&format!(
                    "  {} ({}, {} tier {}): outputs {outputs}{}",
                    c.name.value,
                    c.driver.value,
                    c.plane.value,
                    c.tier.value,
                    if resources.is_empty() {
                        String::new()
                    } else {
                        format!("; resources {resources}")
                    }
                ));
            }
        }
        Ok(p)
    });
    match checked {
        Ok(p) => {
            if ctx.printer.is_json() {
                ctx.printer.json(&ValidateReport {
                    schema_version: 1,
                    valid: true,
                    spec,
                    components: p.spec.components.len(),
                    environments: p.spec.environments.len(),
                    diagnostics: vec![],
                })?;
            } else {
                ctx.printer.data(&format!(
                    "{spec} is valid: {} component(s), {} environment(s)",
                    p.spec.components.len(),
                    p.spec.environments.len()
                ))?;
            }
            Ok(())
        }
        Err(e) if ctx.printer.is_json() => {
            let Some(invalid) = e.downcast_ref::<gp_core::InvalidInput>() else {
                return Err(e);
            };
            ctx.printer.json(&ValidateReport {
                schema_version: 1,
                valid: false,
                spec,
                components: 0,
                environments: 0,
                diagnostics: invalid.0.iter().map(DiagnosticJson::from).collect(),
            })?;
            Err(Reported(Code::Invalid).into())
        }
        Err(e) => Err(e),
    }
}
