//! Pull request previews: the build a pull request's deploys made is found
//! again for every push ([`Engine::pull_request_build`]), and swept when
//! the pull request is closed or gone — leaked previews are the commonest
//! failure of every preview system. A sweep tears a build down through
//! the same recorded teardown as by hand, never one a live run holds.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::{Engine, EngineError, TeardownRequest, TeardownTarget};

/// What a sweep did with one preview.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SweptPreview {
    /// The build.
    pub build_id: String,
    /// Its pull request.
    pub pull_request: u64,
    /// `torn-down`, `would-tear-down` (a dry run), `held` (a live run
    /// holds it: left for the next sweep) or `failed`.
    pub action: String,
    /// Why, for held and failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Engine<'_> {
    /// The build that is pull request `number`'s preview in `env`: the
    /// newest build whose latest deploy named it and that is not torn
    /// down (one build per pull request, reused on every push).
    pub fn pull_request_build(
        &self,
        env: &str,
        number: u64,
    ) -> Result<Option<gp_core::BuildId>, gp_registry::RegistryError> {
        let (builds, _) = self.builds_checked(env)?;
        Ok(builds
            .into_iter()
            .filter(|b| !matches!(b.status.as_str(), "torn-down" | gp_registry::TAMPERED))
            .find(|b| b.pull_request.as_ref().is_some_and(|p| p.number == number))
            .and_then(|b| b.build_id.parse().ok()))
    }

    /// Tears down every preview build of `env` whose pull request is not
    /// in `open` (closed, merged or gone), unless a live run holds it.
    pub fn sweep_previews(
        &self,
        env: &str,
        open: &BTreeSet<u64>,
        dry_run: bool,
    ) -> Result<Vec<SweptPreview>, EngineError> {
        if self.platform.environment(env).is_none() {
            return Err(EngineError::usage(
                format!("environment `{env}` is not declared"),
                None,
            ));
        }
        let (builds, _) = self.builds_checked(env)?;
        let mut out = Vec::new();
        for b in builds {
            let Some(pr) = &b.pull_request else { continue };
            if open.contains(&pr.number)
                || matches!(b.status.as_str(), "torn-down" | gp_registry::TAMPERED)
            {
                continue;
            }
            let Ok(build) = b.build_id.parse::<gp_core::BuildId>() else {
                continue;
            };
            let mut item = SweptPreview {
                build_id: b.build_id.clone(),
                pull_request: pr.number,
                action: String::new(),
                detail: None,
            };
            let held = self
                .registry
                .lease(env, &b.build_id)?
                .filter(crate::lease::is_live);
            if let Some(l) = held {
                item.action = "held".into();
                item.detail = Some(format!("a live run holds it: {}", l.holder));
            } else if dry_run {
                item.action = "would-tear-down".into();
            } else {
                match self.teardown(&TeardownRequest {
                    env: env.into(),
                    target: TeardownTarget::Build(build),
                    confirm: false,
                    break_glass: vec![],
                    reason: Some(format!("pull request #{} is closed", pr.number)),
                    overrides: vec![],
                    cascade: false,
                }) {
                    Ok(t) if t.clean() => item.action = "torn-down".into(),
                    Ok(t) => {
                        item.action = "failed".into();
                        item.detail = Some(format!(
                            "{} failed, {} left behind",
                            t.failed.len(),
                            t.orphans.len()
                        ));
                    }
                    Err(e) => {
                        item.action = "failed".into();
                        item.detail = Some(e.to_string());
                    }
                }
            }
            out.push(item);
        }
        Ok(out)
    }
}
