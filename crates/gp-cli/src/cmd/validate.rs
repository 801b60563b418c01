//! `goldenpath validate`.

use clap::Args;

use crate::Context;
use crate::exit::{Code, Reported};
use crate::printer::Output;

/// Arguments of `goldenpath validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {}

use crate::outputs::{DiagnosticJson, ValidateReport};

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
    let annotations = |diagnostics: &[gp_core::Diagnostic]| -> Vec<gp_core::annotate::Annotation> {
        diagnostics
            .iter()
            .map(|d| gp_core::annotate::Annotation {
                error: true,
                file: d.file.display().to_string(),
                line: d.pos.map_or(0, |p| p.line),
                column: d.pos.map_or(0, |p| p.col),
                rule: "spec".into(),
                message: match &d.hint {
                    Some(h) => format!("{} (hint: {h})", d.message),
                    None => d.message.clone(),
                },
            })
            .collect()
    };
    // Findings for CI: every diagnostic as a SARIF result or a GitHub
    // annotation at its file, line and column.
    if matches!(ctx.printer.output(), Output::Sarif | Output::Github) {
        let diagnostics = match &checked {
            Ok(_) => Vec::new(),
            Err(e) => match e.downcast_ref::<gp_core::InvalidInput>() {
                Some(invalid) => invalid.0.clone(),
                None => return checked.map(|_| ()),
            },
        };
        let found = annotations(&diagnostics);
        if ctx.printer.output() == Output::Sarif {
            ctx.printer.json(&gp_core::annotate::sarif(
                "goldenpath validate",
                &[],
                &found,
            ))?;
        } else if found.is_empty() {
            ctx.printer.data(&format!(
                "::notice title=goldenpath validate::{spec} is valid"
            ))?;
        } else {
            ctx.printer
                .data(gp_core::annotate::github(&found).trim_end())?;
        }
        return if found.is_empty() {
            Ok(())
        } else {
            Err(Reported(Code::Invalid).into())
        };
    }
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
