//! A deployment's state, derived by replaying its journal.
//!
//! The engine writes two levels of entries. Component entries (action
//! `apply` or `teardown`, resource `component NAME`) bracket a component's
//! turn; their `after` carries the outputs and the hash of the settings
//! applied. Resource entries (`create`, `adopt`, `update`, `destroy`) are
//! written by drivers through the recorder, before and after each action;
//! the `before` carries the [`ResourceRef`].

use std::collections::{BTreeMap, HashMap};

use gp_driver::{Action, ComponentOutputs, ResourceRef};
use gp_registry::{JournalRow, Registry, RegistryError, Stage};

/// The component-level action words.
pub const APPLY: &str = "apply";
/// Written when a component's resources have been torn down.
pub const TEARDOWN: &str = "teardown";

/// What happened to a component last.
#[derive(Clone, Debug, PartialEq)]
pub enum ComponentState {
    /// Its last apply succeeded.
    Applied,
    /// Its last apply failed.
    Failed(String),
    /// Its last apply started and never finished (a crash).
    Interrupted,
    /// It was torn down.
    TornDown,
}

/// The last record of a component.
#[derive(Clone, Debug, PartialEq)]
pub struct ComponentRecord {
    /// Its state.
    pub state: ComponentState,
    /// Outputs of the last successful apply.
    pub outputs: Option<ComponentOutputs>,
    /// Settings hash of the last successful apply.
    pub settings_hash: Option<String>,
    /// When the last entry was written.
    pub at_us: i64,
}

/// A resource the deployment created (or adopted).
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceRecord {
    /// The component.
    pub component: String,
    /// Its driver.
    pub driver: String,
    /// The resource.
    pub resource: ResourceRef,
    /// Create or adopt.
    pub action: Action,
    /// Whether the create finished (false: interrupted or failed; it may
    /// exist partly).
    pub finished: bool,
    /// Whether it has been destroyed since.
    pub destroyed: bool,
    /// Journal sequence of the create.
    pub seq: i64,
}

impl ResourceRecord {
    /// Created here, or adopted and claimed (counted only with `claims`).
    pub fn owned(&self, claims: bool) -> bool {
        self.action == Action::Create
            || (claims && self.action == Action::Adopt && self.resource.is_claimed())
    }
}

/// A deployment's journal, replayed.
#[derive(Clone, Debug, Default)]
pub struct DeploymentState {
    /// Per component.
    pub components: BTreeMap<String, ComponentRecord>,
    /// Every resource created or adopted, in journal order.
    pub resources: Vec<ResourceRecord>,
}

impl DeploymentState {
    /// Loads and replays the journal of (`env`, `deployment`).
    pub fn load(
        registry: &Registry,
        env: &str,
        deployment: &str,
    ) -> Result<DeploymentState, RegistryError> {
        Ok(Self::replay(&registry.journal_shared(env, deployment)?))
    }

    /// The state of `deployment` and of its environment's foundational
    /// plane (the same state when `deployment` is the foundational plane).
    pub fn load_with_foundational(
        registry: &Registry,
        env: &str,
        deployment: gp_core::Deployment,
    ) -> Result<(DeploymentState, DeploymentState), RegistryError> {
        let own = Self::load(registry, env, &deployment.key())?;
        let foundational = if deployment == gp_core::Deployment::Foundational {
            own.clone()
        } else {
            Self::load(registry, env, &gp_core::Deployment::Foundational.key())?
        };
        Ok((own, foundational))
    }

    /// [`Self::load_with_foundational`], the foundational plane's journal
    /// read first and its state handed to `ahead` before the deployment's
    /// own journal is read: what `ahead` starts from the plane's outputs
    /// (a zone's transfer) runs while that journal is read.
    pub fn load_foundational_first<T>(
        registry: &Registry,
        env: &str,
        deployment: gp_core::Deployment,
        ahead: impl FnOnce(&DeploymentState) -> T,
    ) -> Result<(DeploymentState, DeploymentState, T), RegistryError> {
        let foundational = Self::load(registry, env, &gp_core::Deployment::Foundational.key())?;
        let started = ahead(&foundational);
        let own = if deployment == gp_core::Deployment::Foundational {
            foundational.clone()
        } else {
            Self::load(registry, env, &deployment.key())?
        };
        Ok((own, foundational, started))
    }

    /// Replays journal rows.
    pub fn replay(rows: &[JournalRow]) -> DeploymentState {
        let mut state = DeploymentState::default();
        // action id -> index into `resources` (for create/adopt), or the
        // destroy's target key.
        let mut resource_by_action: HashMap<&str, usize> = HashMap::new();
        let mut destroy_target: HashMap<&str, (&str, &str)> = HashMap::new();
        // Every resource's indexes into `resources` by component, kind and
        // id, oldest first: a journal of thousands of records replays in
        // one pass, not a scan of every resource per row.
        // Keyed by text borrowed from the rows themselves: nothing is copied
        // to find a resource again.
        let mut by_key: HashMap<(&str, &str, &str), Vec<usize>> = HashMap::new();
        for row in rows {
            let e = &row.entry;
            match e.action.as_str() {
                APPLY | TEARDOWN => {
                    let rec =
                        state
                            .components
                            .entry(e.component.clone())
                            .or_insert(ComponentRecord {
                                state: ComponentState::Interrupted,
                                outputs: None,
                                settings_hash: None,
                                at_us: row.at_us,
                            });
                    rec.at_us = row.at_us;
                    match (e.action.as_str(), e.stage) {
                        (APPLY, Stage::Before) => rec.state = ComponentState::Interrupted,
                        (APPLY, Stage::After) => {
                            rec.state = ComponentState::Applied;
                            if let Some(o) = &e.outputs {
                                rec.outputs = o
                                    .get("outputs")
                                    .and_then(|v| serde::Deserialize::deserialize(v).ok());
                                rec.settings_hash = o
                                    .get("settingsHash")
                                    .and_then(|v| v.as_str())
                                    .map(str::to_string);
                            }
                        }
                        (APPLY, Stage::Failed) => {
                            rec.state =
                                ComponentState::Failed(e.detail.clone().unwrap_or_default());
                        }
                        (TEARDOWN, Stage::After) => {
                            rec.state = ComponentState::TornDown;
                            rec.outputs = None;
                            rec.settings_hash = None;
                        }
                        _ => {}
                    }
                }
                action => {
                    let Some(action) = Action::parse(action) else {
                        continue;
                    };
                    match e.stage {
                        Stage::Before => {
                            let Some((resource, kind, id)) = e
                                .outputs
                                .as_ref()
                                .and_then(|o| o.get("resource"))
                                .and_then(resource_of)
                            else {
                                continue;
                            };
                            match action {
                                Action::Create | Action::Adopt => {
                                    // A create of something already alive
                                    // (re-created after drift) is the same
                                    // resource.
                                    let k = (e.component.as_str(), kind, id);
                                    let existing = by_key.get(&k).and_then(|v| {
                                        v.iter().copied().find(|&i| !state.resources[i].destroyed)
                                    });
                                    let idx = match existing {
                                        Some(i) => {
                                            // Once created, it stays ours to
                                            // destroy even if later adopted.
                                            if action == Action::Create {
                                                state.resources[i].action = Action::Create;
                                            }
                                            state.resources[i].resource = resource;
                                            i
                                        }
                                        None => {
                                            state.resources.push(ResourceRecord {
                                                component: e.component.clone(),
                                                driver: e.driver.clone(),
                                                resource,
                                                action,
                                                finished: false,
                                                destroyed: false,
                                                seq: row.seq,
                                            });
                                            by_key
                                                .entry(k)
                                                .or_default()
                                                .push(state.resources.len() - 1);
                                            state.resources.len() - 1
                                        }
                                    };
                                    resource_by_action.insert(&e.action_id, idx);
                                }
                                Action::Destroy => {
                                    destroy_target.insert(&e.action_id, (kind, id));
                                }
                                Action::Update => {}
                            }
                        }
                        Stage::After => {
                            if let Some(&i) = resource_by_action.get(e.action_id.as_str()) {
                                state.resources[i].finished = true;
                            }
                            if let Some(&(kind, id)) = destroy_target.get(e.action_id.as_str())
                                && let Some(v) = by_key.get(&(e.component.as_str(), kind, id))
                            {
                                for &i in v {
                                    state.resources[i].destroyed = true;
                                }
                            }
                        }
                        Stage::Failed => {}
                    }
                }
            }
        }
        state
    }

    /// Resources created by this deployment and not destroyed, newest first:
    /// the order teardown removes them in. With `claims` (a build's
    /// teardown), adopted resources the driver claimed as the build's own
    /// are among them.
    pub fn to_destroy(&self, claims: bool) -> Vec<&ResourceRecord> {
        let mut v: Vec<&ResourceRecord> = self
            .resources
            .iter()
            .filter(|r| r.owned(claims) && !r.destroyed)
            .collect();
        v.sort_by_key(|r| std::cmp::Reverse(r.seq));
        v
    }

    /// Every resource this deployment ever created (or, with `claims`,
    /// claimed), for the orphan check.
    pub fn ever_created(&self, claims: bool) -> Vec<&ResourceRecord> {
        self.resources.iter().filter(|r| r.owned(claims)).collect()
    }

    /// The outputs of a component's last successful apply.
    pub fn outputs(&self, component: &str) -> Option<&ComponentOutputs> {
        self.components
            .get(component)
            .filter(|c| c.state != ComponentState::TornDown)
            .and_then(|c| c.outputs.as_ref())
    }
}

/// The resource a `before` row names, with its kind and id borrowed from
/// the row: the same [`ResourceRef`] serde reads from the value (an object
/// of `kind`, `id` and optional `data`, nothing else), built field by field
/// for that common shape; any other shape goes through serde, which
/// decides as it always has.
fn resource_of(v: &serde_json::Value) -> Option<(ResourceRef, &str, &str)> {
    if let Some(o) = v.as_object()
        && let (Some(kind), Some(id)) = (
            o.get("kind").and_then(serde_json::Value::as_str),
            o.get("id").and_then(serde_json::Value::as_str),
        )
        && o.len() == 2 + usize::from(o.contains_key("data"))
    {
        let data = o.get("data").cloned().unwrap_or_default();
        return Some((
            ResourceRef {
                kind: kind.to_string(),
                id: id.to_string(),
                data,
            },
            kind,
            id,
        ));
    }
    let r = <ResourceRef as serde::Deserialize>::deserialize(v).ok()?;
    // Shapes serde also reads (a sequence of the fields) name the kind and
    // id only in the value it built.
    let (kind, id) = match v {
        serde_json::Value::Array(a) => (a.first()?.as_str()?, a.get(1)?.as_str()?),
        _ => return None,
    };
    Some((r, kind, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A journal written in order, as the recorder writes it.
    #[derive(Default)]
    struct Journal(Vec<JournalRow>);

    impl Journal {
        fn row(
            &mut self,
            action_id: &str,
            stage: Stage,
            component: &str,
            action: &str,
            outputs: Option<serde_json::Value>,
        ) -> &mut Self {
            let seq = self.0.len() as i64 + 1;
            self.0.push(JournalRow {
                seq,
                at_us: seq * 10,
                entry: gp_registry::JournalEntry {
                    id: format!("e{seq}"),
                    env: "dev".into(),
                    deployment: "builds/b1".into(),
                    run_id: Some("r".into()),
                    action_id: action_id.into(),
                    stage,
                    component: component.into(),
                    driver: "exec".into(),
                    action: action.into(),
                    resource: String::new(),
                    outputs,
                    detail: (stage == Stage::Failed).then(|| "boom".to_string()),
                },
            });
            self
        }

        /// One resource action, before and after.
        fn resource(
            &mut self,
            id: &str,
            component: &str,
            action: &str,
            r: ResourceRef,
        ) -> &mut Self {
            let res = Some(json!({"resource": r}));
            self.row(id, Stage::Before, component, action, res).row(
                id,
                Stage::After,
                component,
                action,
                None,
            )
        }

        fn state(&self) -> DeploymentState {
            DeploymentState::replay(&self.0)
        }
    }

    fn ids(v: &[&ResourceRecord]) -> Vec<String> {
        v.iter().map(|r| r.resource.id.clone()).collect()
    }

    #[test]
    fn a_resource_is_owned_when_created_or_when_adopted_claimed_and_claims_count() {
        let rec = |action, resource: ResourceRef| ResourceRecord {
            component: "c".into(),
            driver: "exec".into(),
            resource,
            action,
            finished: true,
            destroyed: false,
            seq: 1,
        };
        let plain = ResourceRef::new("state", "s");
        let claimed = ResourceRef::new("state", "s").claimed();
        assert!(rec(Action::Create, plain.clone()).owned(false));
        assert!(rec(Action::Create, plain.clone()).owned(true));
        assert!(!rec(Action::Adopt, plain.clone()).owned(true));
        assert!(!rec(Action::Adopt, plain.clone()).owned(false));
        assert!(rec(Action::Adopt, claimed.clone()).owned(true));
        assert!(!rec(Action::Adopt, claimed.clone()).owned(false));
        assert!(!rec(Action::Update, claimed).owned(true));
    }

    #[test]
    fn a_component_is_interrupted_applied_failed_or_torn_down_by_its_last_entry() {
        let mut j = Journal::default();
        j.row("a1", Stage::Before, "c", APPLY, None);
        assert_eq!(j.state().components["c"].state, ComponentState::Interrupted);
        j.row(
            "a1",
            Stage::After,
            "c",
            APPLY,
            Some(json!({"outputs": {"values": {"k": "v"}}, "settingsHash": "h1"})),
        );
        let s = j.state();
        assert_eq!(s.components["c"].state, ComponentState::Applied);
        assert_eq!(s.components["c"].settings_hash.as_deref(), Some("h1"));
        assert!(s.outputs("c").is_some());
        assert_eq!(s.components["c"].at_us, 20);
        // A new apply that starts again is interrupted until it ends.
        j.row("a2", Stage::Before, "c", APPLY, None);
        assert_eq!(j.state().components["c"].state, ComponentState::Interrupted);
        j.row("a2", Stage::Failed, "c", APPLY, None);
        assert_eq!(
            j.state().components["c"].state,
            ComponentState::Failed("boom".into())
        );
        // A teardown's before changes nothing; its after tears it down.
        j.row("t1", Stage::Before, "c", TEARDOWN, None);
        assert_eq!(
            j.state().components["c"].state,
            ComponentState::Failed("boom".into())
        );
        j.row("t1", Stage::After, "c", TEARDOWN, None);
        let s = j.state();
        assert_eq!(s.components["c"].state, ComponentState::TornDown);
        assert_eq!(s.components["c"].settings_hash, None);
        assert!(s.outputs("c").is_none());
    }

    #[test]
    fn to_destroy_is_what_was_created_and_not_destroyed_newest_first() {
        let mut j = Journal::default();
        j.resource("1", "c", "create", ResourceRef::new("db", "one"))
            .resource("2", "c", "adopt", ResourceRef::new("db", "adopted"))
            .resource(
                "3",
                "c",
                "adopt",
                ResourceRef::new("state", "mine").claimed(),
            )
            .resource("4", "c", "create", ResourceRef::new("db", "two"))
            .resource("5", "c", "update", ResourceRef::new("db", "one"))
            .resource("6", "c", "create", ResourceRef::new("db", "gone"))
            .resource("7", "c", "destroy", ResourceRef::new("db", "gone"));
        let s = j.state();
        assert_eq!(ids(&s.to_destroy(false)), ["two", "one"]);
        assert_eq!(ids(&s.to_destroy(true)), ["two", "mine", "one"]);
        // The orphan check asks about everything ever created.
        assert_eq!(ids(&s.ever_created(false)), ["one", "two", "gone"]);
        assert_eq!(ids(&s.ever_created(true)), ["one", "mine", "two", "gone"]);
        assert!(s.resources.iter().all(|r| r.finished));
    }

    #[test]
    fn a_destroy_of_another_components_resource_destroys_nothing_of_this_one() {
        let mut j = Journal::default();
        j.resource("1", "a", "create", ResourceRef::new("db", "x"))
            .resource("2", "b", "destroy", ResourceRef::new("db", "x"))
            .resource("3", "a", "destroy", ResourceRef::new("db", "y"));
        assert_eq!(ids(&j.state().to_destroy(false)), ["x"]);
        // Same id, other kind: not the same resource.
        let mut j = Journal::default();
        j.resource("1", "a", "create", ResourceRef::new("db", "x"))
            .resource("2", "a", "destroy", ResourceRef::new("role", "x"));
        assert_eq!(ids(&j.state().to_destroy(false)), ["x"]);
    }

    #[test]
    fn a_destroy_that_never_finished_leaves_the_resource_to_destroy() {
        let mut j = Journal::default();
        j.resource("1", "c", "create", ResourceRef::new("db", "x"));
        j.row(
            "2",
            Stage::Before,
            "c",
            "destroy",
            Some(json!({"resource": ResourceRef::new("db", "x")})),
        )
        .row("2", Stage::Failed, "c", "destroy", None);
        assert_eq!(ids(&j.state().to_destroy(false)), ["x"]);
    }

    #[test]
    fn a_create_that_never_finished_is_still_destroyed_and_marked_unfinished() {
        let mut j = Journal::default();
        j.row(
            "1",
            Stage::Before,
            "c",
            "create",
            Some(json!({"resource": ResourceRef::new("db", "x")})),
        );
        let s = j.state();
        assert_eq!(ids(&s.to_destroy(false)), ["x"]);
        assert!(!s.resources[0].finished);
        // An after of another action does not finish it.
        j.row("other", Stage::After, "c", "create", None);
        assert!(!j.state().resources[0].finished);
    }

    #[test]
    fn created_then_adopted_stays_created_and_adopted_then_created_becomes_created() {
        let mut j = Journal::default();
        j.resource("1", "c", "create", ResourceRef::new("db", "x"))
            .resource("2", "c", "adopt", ResourceRef::new("db", "x"));
        let s = j.state();
        assert_eq!(s.resources.len(), 1);
        assert_eq!(s.resources[0].action, Action::Create);
        let mut j = Journal::default();
        j.resource("1", "c", "adopt", ResourceRef::new("db", "x"))
            .resource("2", "c", "create", ResourceRef::new("db", "x"));
        let s = j.state();
        assert_eq!(s.resources.len(), 1);
        assert_eq!(s.resources[0].action, Action::Create);
        // The same name in another component is another resource.
        let mut j = Journal::default();
        j.resource("1", "a", "create", ResourceRef::new("db", "x"))
            .resource("2", "b", "adopt", ResourceRef::new("db", "x"));
        assert_eq!(j.state().resources.len(), 2);
        // Re-created after its destroy: a new record, destroyed apart.
        let mut j = Journal::default();
        j.resource("1", "c", "create", ResourceRef::new("db", "x"))
            .resource("2", "c", "destroy", ResourceRef::new("db", "x"))
            .resource("3", "c", "create", ResourceRef::new("db", "x"));
        let s = j.state();
        assert_eq!(s.resources.len(), 2);
        assert_eq!(ids(&s.to_destroy(false)), ["x"]);
        assert_eq!(s.to_destroy(false)[0].seq, 5);
    }

    #[test]
    fn rows_without_a_resource_or_with_an_unknown_action_are_ignored() {
        let mut j = Journal::default();
        j.row("1", Stage::Before, "c", "create", None)
            .row("1", Stage::After, "c", "create", None)
            .row(
                "2",
                Stage::Before,
                "c",
                "frobnicate",
                Some(json!({"resource": ResourceRef::new("db", "x")})),
            );
        assert!(j.state().resources.is_empty());
    }

    /// The replay's resources against the plain reading of the journal
    /// (for each row, a scan of every resource), over generated journals:
    /// creates, adopts, destroys and updates of a few names in two
    /// components, some destroys by another component, some never
    /// finished. The index the replay keeps must change nothing.
    #[test]
    fn the_indexed_replay_matches_a_scan_of_every_resource_per_row() {
        fn scan(rows: &[JournalRow]) -> Vec<(String, String, bool, bool, Action)> {
            let mut out: Vec<(String, String, bool, bool, Action)> = Vec::new();
            let mut by_action: HashMap<String, usize> = HashMap::new();
            let mut destroys: HashMap<String, String> = HashMap::new();
            for row in rows {
                let e = &row.entry;
                let Some(action) = Action::parse(&e.action) else {
                    continue;
                };
                let id = e
                    .outputs
                    .as_ref()
                    .and_then(|o| o.get("resource"))
                    .and_then(|r| serde_json::from_value::<ResourceRef>(r.clone()).ok())
                    .map(|r| r.id);
                match (e.stage, id) {
                    (Stage::Before, Some(id)) => match action {
                        Action::Create | Action::Adopt => {
                            let i = match out
                                .iter()
                                .position(|r| !r.3 && r.0 == e.component && r.1 == id)
                            {
                                Some(i) => {
                                    if action == Action::Create {
                                        out[i].4 = Action::Create;
                                    }
                                    i
                                }
                                None => {
                                    out.push((e.component.clone(), id, false, false, action));
                                    out.len() - 1
                                }
                            };
                            by_action.insert(e.action_id.clone(), i);
                        }
                        Action::Destroy => {
                            destroys.insert(e.action_id.clone(), id);
                        }
                        Action::Update => {}
                    },
                    (Stage::After, _) => {
                        if let Some(&i) = by_action.get(&e.action_id) {
                            out[i].2 = true;
                        }
                        if let Some(id) = destroys.get(&e.action_id) {
                            for r in out.iter_mut() {
                                if r.0 == e.component && r.1 == *id {
                                    r.3 = true;
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            out
        }
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..300 {
            let mut j = Journal::default();
            for n in 0..next(40) {
                let component = ["a", "b"][next(2) as usize];
                let action = ["create", "adopt", "destroy", "update"][next(4) as usize];
                let r = ResourceRef::new("db", format!("x{}", next(4)));
                let id = format!("{n}");
                let before = Some(json!({ "resource": r }));
                j.row(&id, Stage::Before, component, action, before);
                match next(4) {
                    // Finished by its own component; or, now and then, an
                    // after written under the other component; or never.
                    0 | 1 => j.row(&id, Stage::After, component, action, None),
                    2 => j.row(&id, Stage::After, "b", action, None),
                    _ => j.row(&id, Stage::Failed, component, action, None),
                };
            }
            let got: Vec<_> = j
                .state()
                .resources
                .iter()
                .map(|r| {
                    (
                        r.component.clone(),
                        r.resource.id.clone(),
                        r.finished,
                        r.destroyed,
                        r.action,
                    )
                })
                .collect();
            assert_eq!(got, scan(&j.0));
        }
    }

    /// The resource a row names is what serde reads from it, for every
    /// shape a row may hold (hostile ones too): the same resource, or
    /// none, and the kind and id it is found by are the resource's own.
    #[test]
    fn a_rows_resource_is_what_serde_reads_for_every_shape() {
        let shapes = [
            json!({"kind": "record", "id": "a.example.io A"}),
            json!({"kind": "record", "id": "a", "data": {"fqdn": "a", "zone": {"zone": "z"}}}),
            json!({"kind": "record", "id": "a", "data": null}),
            json!({"id": "a", "kind": "record", "data": [1, 2]}),
            json!({"kind": "record", "id": "a", "extra": 1}),
            json!({"kind": "record", "data": {}, "extra": 1}),
            json!({"kind": "record"}),
            json!({"kind": 1, "id": "a"}),
            json!({"kind": "record", "id": ["a"]}),
            json!({}),
            json!(["record", "a"]),
            json!(["record", "a", {"x": 1}]),
            json!(["record"]),
            json!([1, "a"]),
            json!("record a"),
            json!(null),
            json!(7),
        ];
        for v in shapes {
            let serde = <ResourceRef as serde::Deserialize>::deserialize(&v).ok();
            let ours = resource_of(&v);
            assert_eq!(ours.as_ref().map(|o| &o.0), serde.as_ref(), "{v}");
            if let Some((r, kind, id)) = ours {
                assert_eq!((kind, id), (r.kind.as_str(), r.id.as_str()), "{v}");
            }
        }
    }
}
