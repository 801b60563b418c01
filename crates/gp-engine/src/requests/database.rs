//! A database request, planned and applied on the environment's
//! foundational instance through its driver (`Driver::plan_provision`,
//! `Driver::provision`), journalled under the instance like the rest of
//! the foundational plane.

use gp_core::Plane;
use gp_core::request::{Body, Desired, Request};

use super::{RequestApplied, RequestPlan};
use crate::{Engine, EngineError};

impl Engine<'_> {
    /// The foundational postgres instance a database request goes to: the
    /// one it names, else the only one.
    pub fn request_instance(&self, r: &Request) -> Result<String, EngineError> {
        let named = match &r.body {
            Body::Database(d) => d.instance.as_ref(),
            _ => None,
        };
        let declared = self.validate()?;
        let candidates: Vec<&str> = self
            .platform
            .spec
            .components
            .iter()
            .filter(|c| {
                c.plane.value == Plane::Foundational
                    && declared
                        .get(&c.name.value)
                        .is_some_and(|v| v.owned.iter().any(|(_, k)| *k == "database"))
            })
            .map(|c| c.name.value.as_str())
            .collect();
        if let Some(named) = named {
            if candidates.contains(&named.value.as_str()) {
                return Ok(named.value.clone());
            }
            return Err(gp_core::InvalidInput(vec![r.at().at(
                named.start,
                format!(
                    "instance `{}` is not a foundational database instance (there are: {})",
                    named.value,
                    candidates.join(", ")
                ),
            )])
            .into());
        }
        match candidates.as_slice() {
            [one] => Ok(one.to_string()),
            [] => Err(EngineError::usage(
                "the platform has no foundational database instance to put databases on",
                None,
            )),
            many => Err(EngineError::usage(
                format!(
                    "{}: the platform has several instances ({}); name one with `instance:`",
                    r.path.display(),
                    many.join(", ")
                ),
                None,
            )),
        }
    }

    /// The driver's shape of a database request.
    fn provision_payload(r: &Request, desired: &Desired) -> serde_json::Value {
        let role = match desired {
            Desired::Database(d) => d.role.clone(),
            _ => String::new(),
        };
        serde_json::json!({
            "request": r.id().value,
            "database": desired.name(),
            "role": role,
            "adoptExisting": r.adopts(),
        })
    }

    pub(crate) fn plan_database(
        &self,
        r: &Request,
        plan: &mut RequestPlan,
        refused: &mut Vec<String>,
    ) -> Result<(), EngineError> {
        let instance = self.request_instance(r)?;
        let env = r.env();
        let live = self.inventory(env, &instance).unwrap_or_default();
        let existing = live
            .iter()
            .find(|d| d.get("database").and_then(|x| x.as_str()) == Some(&plan.resource));
        plan.exists = Some(existing.is_some());
        plan.existing_owner = existing
            .and_then(|d| d.get("owner").and_then(|o| o.as_str()))
            .map(str::to_string);
        let role = match &plan.desired {
            Desired::Database(d) => d.role.clone(),
            _ => String::new(),
        };
        if let Some(owner) = &plan.existing_owner
            && owner != &role
        {
            refused.push(format!(
                "database {} exists on {instance}, owned by {owner}, not {role}",
                plan.resource
            ));
        }
        match self.provision_plan(env, &instance, &Self::provision_payload(r, &plan.desired)) {
            Ok(steps) => plan.changes = steps,
            Err(e) => plan.read_error = Some(e.to_string()),
        }
        plan.instance = Some(instance);
        Ok(())
    }

    pub(crate) fn apply_database(
        &self,
        r: &Request,
        desired: &Desired,
        run_id: &str,
    ) -> Result<RequestApplied, EngineError> {
        let instance = self.request_instance(r)?;
        let env = r.env();
        let Desired::Database(d) = desired else {
            return Err(EngineError::usage("not a database request", None));
        };
        let live = self.inventory(env, &instance).unwrap_or_default();
        if let Some(owner) = live
            .iter()
            .find(|x| x.get("database").and_then(|v| v.as_str()) == Some(&d.database))
            .and_then(|x| x.get("owner").and_then(|o| o.as_str()))
            && owner != d.role
        {
            return Err(self.refuse(
                r,
                vec![format!(
                    "database {} already exists on {instance} and is owned by {owner}, not {}",
                    d.database, d.role
                )],
                Some("choose another databaseName, or have the owner hand it over".into()),
            ));
        }
        let label = format!("request {}", r.id().value);
        let applied = match self.provision_held(
            env,
            &instance,
            &Self::provision_payload(r, desired),
            &label,
            run_id,
        ) {
            Ok(a) => a,
            Err(e) => {
                self.record(
                    r,
                    super::RequestEventDetail::Failed {
                        hash: r.hash.clone(),
                        error: e.to_string(),
                    },
                )?;
                return Err(e);
            }
        };
        let outputs = applied
            .outputs
            .resources
            .get(&d.database)
            .cloned()
            .unwrap_or_default();
        let secret = outputs
            .get("secret_path")
            .and_then(|s| s.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| d.secret_path.clone());
        Ok(RequestApplied {
            request: r.id().value.clone(),
            kind: r.kind(),
            env: env.to_string(),
            resource: d.database.clone(),
            instance: Some(instance),
            role: Some(d.role.clone()),
            secret_path: Some(secret),
            arn: None,
            created: applied.counts.added > 0,
            changes: Vec::new(),
            counts: applied.counts,
            delivered: Vec::new(),
        })
    }
}
