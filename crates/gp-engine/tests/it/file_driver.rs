//! A test-only driver: each resource is a file under `{state}/files/`, so
//! tests can observe exactly what exists. Settings: `files: [names]` (one
//! resource each, created in order) and `databases: [names]` (resources
//! others can need as `component/name`); `manifests:` YAML it checks
//! against the run's policies before writing anything.

use std::path::PathBuf;

use gp_driver::*;
use serde::Deserialize;

pub struct FileDriver;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default)]
    files: Vec<String>,
    #[serde(default)]
    databases: Vec<String>,
    #[serde(default)]
    content: String,
    /// Manifests it delivers: checked against the run's policies before
    /// any file is written, as the GitOps driver checks what it renders.
    #[serde(default)]
    manifests: Option<String>,
    /// A local file it would read (checked by preflight).
    #[serde(default)]
    source: Option<String>,
    /// Names it holds as they are (a bucket, a secret, a repository), for
    /// the ownership index.
    #[serde(default)]
    buckets: Vec<String>,
    #[serde(default)]
    secrets: Vec<String>,
    #[serde(default)]
    repositories: Vec<String>,
}

fn path(ctx: &ComponentCtx<'_>, name: &str) -> PathBuf {
    let scope = match ctx.component.plane.value {
        gp_core::Plane::Foundational => "foundational".to_string(),
        _ => ctx.contract.deployment().key(),
    };
    ctx.state_dir
        .join("files")
        .join(scope)
        .join(format!("{}-{name}", ctx.name()))
}

fn all(s: &Settings) -> Vec<String> {
    s.files.iter().chain(s.databases.iter()).cloned().collect()
}

impl Driver for FileDriver {
    fn name(&self) -> &'static str {
        "file"
    }

    fn validate(&self, ctx: &ValidateCtx<'_>) -> Result<Validated, Vec<gp_core::Diagnostic>> {
        let s: Settings = typed_settings(ctx.platform, ctx.settings, true)?;
        Ok(Validated {
            outputs: Some(vec!["path".into(), "content".into()]),
            resources: s.databases.clone(),
            resource_outputs: Some(vec!["path".into()]),
            owned: Vec::new(),
        })
    }

    /// A file to read at deploy time (`source:`) must exist on this
    /// machine.
    fn preflight(&self, ctx: &ValidateCtx<'_>) -> Vec<gp_core::Diagnostic> {
        let Ok(s) = typed_settings::<Settings>(ctx.platform, ctx.settings, true) else {
            return Vec::new();
        };
        match s.source {
            Some(p) if !std::path::Path::new(&p).exists() => vec![ctx.platform.diagnostic(
                ctx.component.name.start,
                format!("{}: no file {p}", ctx.component.name.value),
            )],
            _ => Vec::new(),
        }
    }

    /// Each of its `databases` as a database name of the deployment:
    /// `{name}` on the foundational plane, `{name}_persistent`, and
    /// `{name}_b_{build}` in a build (the compact form, `23012601`).
    fn holds(&self, ctx: &ValidateCtx<'_>, contract: &gp_core::Contract<'_>) -> Vec<HeldName> {
        let Ok(s) = typed_settings::<Settings>(ctx.platform, ctx.settings, true) else {
            return Vec::new();
        };
        let suffix = match contract.deployment() {
            gp_core::Deployment::Foundational => String::new(),
            gp_core::Deployment::Persistent => "_persistent".into(),
            gp_core::Deployment::Ephemeral(b) => format!("_b_{}", b.to_string().replace('-', "")),
        };
        use gp_core::ownership::NameKind;
        let exact = |kind: NameKind, names: &[String]| -> Vec<HeldName> {
            names
                .iter()
                .map(|n| HeldName {
                    kind,
                    name: n.clone(),
                    under: false,
                    what: format!("the {} {n}", kind.noun()),
                })
                .collect()
        };
        s.databases
            .iter()
            .map(|d| HeldName {
                kind: NameKind::Database,
                name: format!("{d}{suffix}"),
                under: false,
                what: format!("the database {d}"),
            })
            .chain(exact(NameKind::Bucket, &s.buckets))
            .chain(exact(NameKind::Secret, &s.secrets))
            .chain(exact(NameKind::Repository, &s.repositories))
            .collect()
    }

    fn observe(&self, ctx: &ComponentCtx<'_>) -> Result<Observation, DriverError> {
        let s: Settings = settings_at_apply(ctx)?;
        let names = all(&s);
        let present = names.iter().filter(|n| path(ctx, n).exists()).count();
        Ok(match present {
            0 => Observation::absent(),
            n if n == names.len() => Observation::present(None),
            _ => Observation {
                presence: Presence::Partial,
                drift: vec![],
                outputs: None,
                counts: None,
            },
        })
    }

    fn apply(&self, ctx: &ComponentCtx<'_>) -> Result<Applied, DriverError> {
        let s: Settings = settings_at_apply(ctx)?;
        if let Some(m) = &s.manifests {
            let files = [(format!("{}/manifests.yaml", ctx.name()), m.clone())].into();
            ctx.recorder.check_policy(PolicySubject::Rendered(&files))?;
        }
        let mut out = ComponentOutputs::default();
        let mut counts = Counts::default();
        for name in all(&s) {
            let p = path(ctx, &name);
            let exists = p.exists();
            let action = if exists {
                if ctx.last.is_some() {
                    Action::Update
                } else {
                    Action::Adopt
                }
            } else {
                Action::Create
            };
            let r = ResourceRef::new("file", &name).with_data(serde_json::json!({"path": p}));
            let id = ctx.recorder.before(action, &r)?;
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, &s.content).unwrap();
            ctx.recorder.after(&id, None)?;
            if action == Action::Create {
                counts.added += 1;
            }
            if s.databases.contains(&name) {
                out.resources.insert(
                    name.clone(),
                    [("path".to_string(), serde_json::json!(p))].into(),
                );
            }
        }
        out.values
            .insert("path".into(), serde_json::json!(path(ctx, "")));
        out.values
            .insert("content".into(), serde_json::json!(s.content));
        Ok(Applied {
            outputs: out,
            counts,
        })
    }

    fn destroy(&self, _ctx: &ComponentCtx<'_>, r: &ResourceRef) -> Result<(), DriverError> {
        let p = PathBuf::from(r.data["path"].as_str().unwrap());
        match std::fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(DriverError::permanent(e.to_string())),
        }
    }

    fn resource_kinds(&self) -> &'static [&'static str] {
        &["file"]
    }

    fn exists(&self, _ctx: &ComponentCtx<'_>, r: &ResourceRef) -> Result<Existence, DriverError> {
        let p = PathBuf::from(r.data["path"].as_str().unwrap());
        Ok(if p.exists() {
            Existence::Exists
        } else {
            Existence::Gone
        })
    }
}
