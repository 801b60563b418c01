//! Bucket, secret and repository requests: the platform's rules, the
//! approval they need, what is there now against what they ask, and
//! applying them — every step recorded as a request event.
//!
//! Apply refuses, records the refusal and changes nothing when the
//! request breaks a rule, lacks the approval its content needs, names a
//! resource another request applied, or finds the resource tagged for
//! another request. A request whose file names no requester may not be
//! applied by someone who approved it (the applier is who asked).
//! Otherwise each change is recorded before (`step`, `done: false`) and
//! after (`done: true`) it is made, then the result (`applied`).

use gp_core::Diagnostic;
use gp_core::resource::{Desired, LoadedResource};
use gp_driver::cloud::{CloudApplied, CloudPlan, CloudResources};
use serde::Serialize;

use crate::requests::{Approval, same_person};
use crate::{Engine, EngineError};

/// What applying a resource request would do.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourcePlan {
    /// What apply makes, defaults filled in.
    pub desired: Desired,
    /// What is there now and what would change (`None` when it could not
    /// be read: `cloudError` says why).
    pub cloud: Option<CloudPlan>,
    /// Why the resource could not be read.
    pub cloud_error: Option<String>,
    /// The platform's rules it breaks (each a refusal).
    #[serde(skip)]
    pub refusals: Vec<Diagnostic>,
    /// Another request that applied this resource already.
    pub taken_by: Option<String>,
    /// Whether it needs an approval, and why.
    pub needs_approval: Option<&'static str>,
    /// The approval recorded for exactly its current content.
    pub approval: Option<Approval>,
}

impl Engine<'_> {
    /// The request that applied a resource of this kind and name, if it is
    /// another one.
    fn resource_taken(
        &self,
        r: &LoadedResource,
        name: &str,
    ) -> Result<Option<String>, EngineError> {
        for e in self.registry.request_events(None)? {
            if e.event != "applied" || e.kind != r.kind().as_str() || e.request_id == r.id().value {
                continue;
            }
            let applied = e
                .detail
                .as_ref()
                .and_then(|d| d.get("resource"))
                .and_then(|v| v.as_str());
            if applied == Some(name) {
                return Ok(Some(e.request_id));
            }
        }
        Ok(None)
    }

    /// What the request makes, in the contract of its environment.
    pub fn resource_desired(&self, r: &LoadedResource) -> Result<Desired, EngineError> {
        let env = match self.platform.environment(r.env()) {
            Some(_) => r.env().to_string(),
            // A repository for no one environment: the first one's
            // contract (only its prefix is used).
            None => self
                .platform
                .environment_names()
                .next()
                .unwrap_or_default()
                .to_string(),
        };
        let contract =
            gp_core::Contract::new(self.platform, &env, gp_core::Deployment::Persistent)?;
        Ok(r.desired(&contract))
    }

    /// What applying would do: the rules it breaks, the approval it needs
    /// and has, what is there now and each change.
    pub fn resource_plan(
        &self,
        r: &LoadedResource,
        cloud: &dyn CloudResources,
    ) -> Result<ResourcePlan, EngineError> {
        let refusals = r.guard(self.platform);
        let desired = self.resource_desired(r)?;
        let name = desired_name(&desired);
        let (cloud, cloud_error) = if refusals.is_empty() {
            match cloud.plan(&desired) {
                Ok(p) => (Some(p), None),
                Err(e) => (None, Some(e.to_string())),
            }
        } else {
            (None, None)
        };
        Ok(ResourcePlan {
            taken_by: self.resource_taken(r, &name)?,
            desired,
            cloud,
            cloud_error,
            refusals,
            needs_approval: r.needs_approval().then(|| r.approval_reason()),
            approval: self.request_approval(r)?,
        })
    }

    /// Applies a resource request (see the module's rules).
    pub fn resource_apply(
        &self,
        r: &LoadedResource,
        cloud: &dyn CloudResources,
    ) -> Result<CloudApplied, EngineError> {
        let id = r.id().value.clone();
        let refuse =
            |reasons: Vec<String>, hint: Option<String>| self.refuse_resource(r, reasons, hint);
        let refusals = r.guard(self.platform);
        if !refusals.is_empty() {
            return Err(refuse(
                refusals.iter().map(|d| d.message.clone()).collect(),
                Some("fix the request, then run goldenpath request validate".into()),
            ));
        }
        let desired = self.resource_desired(r)?;
        let name = desired_name(&desired);
        if let Some(other) = self.resource_taken(r, &name)? {
            return Err(refuse(
                vec![format!(
                    "{} {name} was applied by request {other}; a request may only adopt what no one else owns",
                    r.kind().noun()
                )],
                Some("choose another name".into()),
            ));
        }
        if r.needs_approval() {
            if self.request_approval(r)?.is_none() {
                return Err(refuse(
                    vec![format!(
                        "it needs an approval ({}) and none is recorded for its current content",
                        r.approval_reason()
                    )],
                    Some(format!(
                        "an approver (not the requester) runs: goldenpath request approve {id}"
                    )),
                ));
            }
            if r.requester().is_none() && self.approved_by(r, &self.actor)? {
                return Err(refuse(
                    vec![format!(
                        "{} approved it, and the file names no requester: whoever applies it is who asked, and an approval comes from someone else",
                        self.actor
                    )],
                    Some("someone other than its approvers applies it".into()),
                ));
            }
        }
        // Under the environment's foundational lease, as a database request
        // is: two applies (or an apply and a foundational deploy) take
        // turns.
        let lease = match self.platform.environment(r.env()) {
            Some(_) => Some(self.take_lease(r.env(), &gp_core::Deployment::Foundational.key())?),
            None => None,
        };
        let result = self.resource_apply_leased(r, cloud, &desired, &name);
        if let Some((_, held)) = lease
            && let Err(e) = self.registry.lease_release(&held)
        {
            tracing::warn!("cannot release the lease: {e}");
        }
        result
    }

    fn resource_apply_leased(
        &self,
        r: &LoadedResource,
        cloud: &dyn CloudResources,
        desired: &Desired,
        name: &str,
    ) -> Result<CloudApplied, EngineError> {
        let id = r.id().value.clone();
        let refuse = |reasons: Vec<String>| self.refuse_resource(r, reasons, None);
        let plan = cloud.plan(desired).map_err(|e| self.cloud_failed(r, &e))?;
        if let Some(other) = plan.tagged_request.as_ref().filter(|o| **o != id) {
            return Err(refuse(vec![format!(
                "{} {name} exists and is tagged for request {other}; a request may only adopt what no one else owns",
                r.kind().noun()
            )]));
        }
        self.record_request(
            r,
            "apply_started",
            serde_json::json!({"hash": r.hash, "resource": name, "changes": plan.changes, "adopt": plan.exists}),
        )?;
        let mut record_error = None;
        let result = cloud.apply(desired, &id, &mut |change, done| {
            if record_error.is_none()
                && let Err(e) = self.record_request(
                    r,
                    "step",
                    serde_json::json!({"change": change, "done": done}),
                )
            {
                record_error = Some(e);
            }
        });
        if let Some(e) = record_error {
            return Err(e);
        }
        match result {
            Err(e) => Err(self.cloud_failed(r, &e)),
            Ok(done) => {
                self.record_request(
                    r,
                    "applied",
                    serde_json::json!({
                        "hash": r.hash,
                        "resource": name,
                        "arn": done.arn,
                        "created": done.created,
                        "changes": done.changes,
                        "owner": r.owner(),
                        "requester": r.requester().map(str::to_string).unwrap_or_else(|| self.actor.clone()),
                    }),
                )?;
                Ok(done)
            }
        }
    }

    /// A refusal, recorded: nothing was changed.
    fn refuse_resource(
        &self,
        r: &LoadedResource,
        reasons: Vec<String>,
        hint: Option<String>,
    ) -> EngineError {
        if let Err(e) = self.record_request(
            r,
            "refused",
            serde_json::json!({"reasons": reasons, "hash": r.hash}),
        ) {
            return e;
        }
        EngineError::refused(
            format!(
                "request {}: {}; nothing was changed",
                r.id().value,
                reasons.join("; ")
            ),
            hint,
        )
    }

    /// Whether `who` approved the request's current content.
    fn approved_by(&self, r: &LoadedResource, who: &str) -> Result<bool, EngineError> {
        Ok(self
            .registry
            .request_events(Some(&r.id().value))?
            .iter()
            .filter(|e| e.event == "approved")
            .filter(|e| {
                e.detail
                    .as_ref()
                    .and_then(|d| d.get("hash"))
                    .and_then(|h| h.as_str())
                    == Some(r.hash.as_str())
            })
            .any(|e| same_person(&e.actor, who)))
    }

    /// A cloud failure, recorded; a refusal (someone else's resource) is
    /// exit 3, the rest exit 1.
    fn cloud_failed(&self, r: &LoadedResource, e: &gp_driver::DriverError) -> EngineError {
        let event = if e.kind == gp_driver::ErrorKind::Refused {
            "refused"
        } else {
            "failed"
        };
        if let Err(rec) = self.record_request(
            r,
            event,
            serde_json::json!({"error": e.to_string(), "hash": r.hash}),
        ) {
            return rec;
        }
        let message = format!("request {}: {e}", r.id().value);
        if e.kind == gp_driver::ErrorKind::Refused {
            EngineError::refused(message, e.hint.clone())
        } else {
            EngineError::failed(message, e.hint.clone())
        }
    }
}

/// The resource's name: the bucket, the secret's path, the repository.
pub fn desired_name(d: &Desired) -> String {
    match d {
        Desired::Bucket(b) => b.name.clone(),
        Desired::Secret(s) => s.name.clone(),
        Desired::Repository(r) => r.name.clone(),
    }
}

/// The ExternalSecret that takes a secret request's secret into its app's
/// namespace: the whole secret extracted into `k8sSecretName`, through
/// the platform's ClusterSecretStore, in `api_version`.
pub fn external_secret(
    platform: &gp_core::Platform,
    r: &LoadedResource,
    d: &Desired,
    api_version: &str,
) -> Option<serde_json::Value> {
    let Desired::Secret(s) = d else {
        return None;
    };
    let (name, namespace, target) = s.external_secret.as_ref()?;
    Some(serde_json::json!({
        "apiVersion": format!("external-secrets.io/{api_version}"),
        "kind": "ExternalSecret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/managed-by": "goldenpath",
                "goldenpath.dev/request": r.id().value,
            },
        },
        "spec": {
            "refreshInterval": platform.spec.gitops.refresh_interval,
            "secretStoreRef": {"name": platform.spec.gitops.secret_store, "kind": "ClusterSecretStore"},
            "target": {"name": target, "creationPolicy": "Owner"},
            "dataFrom": [{"extract": {"key": s.name}}],
        },
    }))
}
