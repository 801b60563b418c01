//! The orphan sweep by tags: what the cloud still holds tagged for a build
//! after its teardown (resources made by Terraform modules, controllers or
//! hand, which the journal never saw), and, with `delete`, the removal of
//! the kinds goldenpath owns, each recorded.

use gp_core::BuildId;
use serde::Serialize;

use crate::{Engine, EngineError};

/// One resource the sweep found.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SweptResource {
    /// The build whose tags it carries.
    pub build_id: String,
    /// Its id (an ARN).
    pub id: String,
    /// Its kind (`secretsmanager:secret`).
    pub kind: String,
    /// What happened: `found` (an orphan, listed), `deleted`, `kept` (a
    /// kind goldenpath does not own), `live` (the build is not torn down:
    /// not an orphan, never deleted), or `failed: ...`.
    pub state: String,
}

impl Engine<'_> {
    /// The sweep for one build, or (`None`) for every build of `env` that
    /// is not live; `delete` removes what goldenpath owns and records it.
    pub fn sweep_orphans(
        &self,
        env: &str,
        build: Option<BuildId>,
        delete: bool,
    ) -> Result<Vec<SweptResource>, EngineError> {
        let Some(sweep) = self.drivers.tag_sweep() else {
            return Err(EngineError::usage(
                "this platform has no tag sweep: it uses no AWS backend, or this build of goldenpath has no AWS support",
                None,
            ));
        };
        let deployment = match build {
            Some(b) => gp_core::Deployment::Ephemeral(b),
            // Every build of the environment: the persistent deployment's
            // tags carry no BuildId, so they match all of them.
            None => gp_core::Deployment::Persistent,
        };
        let tags = gp_core::Contract::new(self.platform, env, deployment)
            .map_err(|e| EngineError::usage(e.to_string(), None))?
            .sweep_tags();
        let found = sweep.tagged(&tags).map_err(|e| EngineError::Failed {
            message: e.message,
            hint: e.hint,
        })?;
        // Builds the registry holds that were never torn down: their
        // resources are theirs, not orphans. (A teardown that failed, even
        // only because of this sweep, makes what is left orphans.)
        let live: std::collections::BTreeSet<String> = self
            .registry
            .builds(env)?
            .into_iter()
            .filter(|b| {
                !b.imported && !matches!(b.status.as_str(), "torn-down" | "teardown-failed")
            })
            .map(|b| b.build_id)
            .collect();
        let mut out = Vec::new();
        for r in found {
            let Some(build_id) = build.map(|b| b.to_string()).or_else(|| r.build_id.clone()) else {
                // Tagged for the environment but for no build: persistent
                // or foundational, never an orphan of a build.
                continue;
            };
            let is_live = live.contains(&build_id);
            let state = if is_live {
                "live".to_string()
            } else if !r.deletable {
                "kept".to_string()
            } else if delete {
                match sweep.delete(&r) {
                    Ok(()) => {
                        self.record_event(
                            env,
                            &build_id,
                            &gp_registry::new_id(),
                            gp_registry::EventKind::OrphanDeleted,
                            Some(serde_json::json!({"id": r.id, "kind": r.kind})),
                        )?;
                        "deleted".to_string()
                    }
                    Err(e) => format!("failed: {}", e.message),
                }
            } else {
                "found".to_string()
            };
            out.push(SweptResource {
                build_id,
                id: r.id,
                kind: r.kind,
                state,
            });
        }
        Ok(out)
    }
}
