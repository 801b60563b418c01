//! Ownership: every name in a shared system has exactly one owner — a
//! component of the spec, a deployment (the persistent one, or every build
//! past and future), or a request — and one index answers who owns a name.
//!
//! A name is held exactly (`keycloak`), or everything under a prefix is
//! (`goldenpath/dev/rds/` — a component's secret folder), or a name is
//! held by *every* build: the index learns such a pattern from the
//! contract itself, by deriving the same name for two probe builds and
//! keeping what the build id changed as a slot any build id fills
//! ([`Shape::per_build`]). A name the contract derives later is covered
//! without anyone writing its pattern down.
//!
//! ```
//! use gp_core::ownership::{Index, NameKind, Owner, Shape};
//! let mut index = Index::default();
//! index.hold(NameKind::Database, Shape::Exact("keycloak".into()), Owner::component("rds"), "a database of rds");
//! assert!(index.owner_of(NameKind::Database, "keycloak").is_some());
//! assert!(index.owner_of(NameKind::Role, "keycloak").is_none());
//! ```

use std::fmt;

use serde::Serialize;

use crate::{BuildId, Contract, Deployment};

/// What kind of name.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum NameKind {
    /// A database on a PostgreSQL instance.
    Database,
    /// A login role on a PostgreSQL instance.
    Role,
    /// A path in the secrets store.
    Secret,
    /// An S3 bucket.
    Bucket,
    /// An ECR repository.
    Repository,
}

impl NameKind {
    /// In words.
    pub fn noun(self) -> &'static str {
        match self {
            NameKind::Database => "database",
            NameKind::Role => "role",
            NameKind::Secret => "secret",
            NameKind::Bucket => "bucket",
            NameKind::Repository => "repository",
        }
    }
}

/// Who owns a name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", tag = "kind", content = "name")]
pub enum Owner {
    /// A component of the spec.
    Component(String),
    /// A deployment: `persistent`, or `every build`.
    Deployment(String),
    /// A request, by id (what it created or adopted).
    Request(String),
}

impl Owner {
    /// A component.
    pub fn component(name: &str) -> Owner {
        Owner::Component(name.to_string())
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Component(c) => write!(f, "component `{c}`"),
            Owner::Deployment(d) => write!(f, "{d}"),
            Owner::Request(r) => write!(f, "request {r}"),
        }
    }
}

/// How a build id is written inside a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BuildForm {
    /// `23-01-26-01`.
    Dashed,
    /// `23012601`.
    Compact,
}

impl BuildForm {
    fn write(self, b: BuildId) -> String {
        match self {
            BuildForm::Dashed => b.to_string(),
            BuildForm::Compact => b.to_string().replace('-', ""),
        }
    }

    fn len(self) -> usize {
        match self {
            BuildForm::Dashed => 11,
            BuildForm::Compact => 8,
        }
    }

    fn read(self, text: &str) -> Option<BuildId> {
        match self {
            BuildForm::Dashed => text.parse().ok(),
            BuildForm::Compact => {
                if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                format!(
                    "{}-{}-{}-{}",
                    &text[0..2],
                    &text[2..4],
                    &text[4..6],
                    &text[6..8]
                )
                .parse()
                .ok()
            }
        }
    }
}

/// Which names an entry holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Shape {
    /// Exactly this name.
    Exact(String),
    /// Every name under this prefix (and the prefix without its last `/`).
    Under(String),
    /// This name with any build id in the slot: `before`, the id, `after`.
    PerBuild {
        /// What comes before the id.
        before: String,
        /// How the id is written.
        form: BuildForm,
        /// What comes after it.
        after: String,
        /// Everything after it, too (a build's folder).
        under: bool,
    },
}

/// Two builds no derived name holds by accident: the slot a build id fills
/// is found by deriving a name for each.
pub const PROBES: [(u8, u8, u8, u8); 2] = [(17, 3, 25, 91), (28, 11, 26, 92)];

impl Shape {
    /// Whether `name` is one this shape holds.
    pub fn holds(&self, name: &str) -> bool {
        match self {
            Shape::Exact(n) => n == name,
            Shape::Under(prefix) => {
                name.starts_with(prefix.as_str())
                    || prefix.strip_suffix('/').is_some_and(|p| p == name)
            }
            Shape::PerBuild {
                before,
                form,
                after,
                under,
            } => {
                let Some(rest) = name.strip_prefix(before.as_str()) else {
                    return false;
                };
                if rest.len() < form.len() || !rest.is_char_boundary(form.len()) {
                    return false;
                }
                let (id, tail) = rest.split_at(form.len());
                form.read(id).is_some()
                    && if *under {
                        tail.starts_with(after.as_str())
                            || after.strip_suffix('/').is_some_and(|a| a == tail)
                    } else {
                        tail == after
                    }
            }
        }
    }

    /// Names it holds, for examples and tests: itself, a name under it, or
    /// the name of each of `builds`.
    pub fn examples(&self, builds: &[BuildId]) -> Vec<String> {
        match self {
            Shape::Exact(n) => vec![n.clone()],
            Shape::Under(p) => vec![format!("{p}example"), p.trim_end_matches('/').into()],
            Shape::PerBuild {
                before,
                form,
                after,
                under,
            } => builds
                .iter()
                .flat_map(|b| {
                    let name = format!("{before}{}{after}", form.write(*b));
                    if *under {
                        vec![format!("{name}example"), name]
                    } else {
                        vec![name]
                    }
                })
                .collect(),
        }
    }

    /// The shape of a name a build's contract derives: `derive` is asked
    /// for the two probe builds, and the build id found where the two
    /// differ becomes a slot. `None` when the name does not depend on the
    /// build (then it is exact) or nothing is derived.
    pub fn per_build(
        mut derive: impl FnMut(BuildId) -> Option<String>,
        under: bool,
    ) -> Option<Shape> {
        let probes: Vec<BuildId> = PROBES
            .iter()
            .filter_map(|(d, m, y, s)| BuildId::new(*d, *m, *y, *s).ok())
            .collect();
        let (a, b) = (probes.first()?, probes.get(1)?);
        let (na, nb) = (derive(*a)?, derive(*b)?);
        if na == nb {
            return Some(if under {
                Shape::Under(na)
            } else {
                Shape::Exact(na)
            });
        }
        for form in [BuildForm::Dashed, BuildForm::Compact] {
            let (ta, tb) = (form.write(*a), form.write(*b));
            if let Some(i) = na.find(&ta) {
                let (before, after) = (&na[..i], &na[i + ta.len()..]);
                if format!("{before}{tb}{after}") == nb {
                    return Some(Shape::PerBuild {
                        before: before.to_string(),
                        form,
                        after: after.to_string(),
                        under,
                    });
                }
            }
        }
        None
    }
}

/// One name (or set of names) and its owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Held {
    /// What kind of name.
    pub kind: NameKind,
    /// Which names.
    pub shape: Shape,
    /// Who owns them.
    pub owner: Owner,
    /// What it is, in words (`the database of build-db in every build`).
    pub what: String,
    /// The component of the spec it comes from, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
}

/// Every name an environment's owners hold.
#[derive(Clone, Debug, Default, Serialize, schemars::JsonSchema)]
pub struct Index {
    /// What is held, in the order it was added.
    pub held: Vec<Held>,
}

impl Index {
    /// Adds a held name.
    pub fn hold(&mut self, kind: NameKind, shape: Shape, owner: Owner, what: impl Into<String>) {
        self.held.push(Held {
            kind,
            shape,
            owner,
            what: what.into(),
            component: None,
        });
    }

    /// [`Index::hold`] of what a component of the spec holds.
    pub fn hold_of(
        &mut self,
        component: &str,
        kind: NameKind,
        shape: Shape,
        owner: Owner,
        what: impl Into<String>,
    ) {
        self.hold(kind, shape, owner, what);
        if let Some(h) = self.held.last_mut() {
            h.component = Some(component.to_string());
        }
    }

    /// Adds what a deployment kind's contract derives: for the
    /// foundational plane and the persistent deployment as it is, for
    /// builds as a pattern over every build id.
    pub fn hold_derived(
        &mut self,
        platform: &crate::Platform,
        env: &str,
        deployment: DeploymentKind,
        what: Derived,
        derive: impl Fn(&Contract<'_>) -> Option<String>,
    ) {
        let Derived {
            kind,
            under,
            owner,
            what,
        } = what;
        let shape = match deployment {
            DeploymentKind::Foundational | DeploymentKind::Persistent => {
                let d = if deployment == DeploymentKind::Foundational {
                    Deployment::Foundational
                } else {
                    Deployment::Persistent
                };
                Contract::new(platform, env, d)
                    .ok()
                    .and_then(|c| derive(&c))
                    .map(|n| {
                        if under {
                            Shape::Under(n)
                        } else {
                            Shape::Exact(n)
                        }
                    })
            }
            DeploymentKind::Builds => Shape::per_build(
                |b| {
                    Contract::new(platform, env, Deployment::Ephemeral(b))
                        .ok()
                        .and_then(|c| derive(&c))
                },
                under,
            ),
        };
        if let Some(shape) = shape {
            self.hold(kind, shape, owner, what);
        }
    }

    /// Who holds `name` of `kind`, if anyone.
    pub fn owner_of(&self, kind: NameKind, name: &str) -> Option<&Held> {
        self.held
            .iter()
            .find(|h| h.kind == kind && h.shape.holds(name))
    }
}

/// What [`Index::hold_derived`] holds: the kind, whether everything under
/// the derived name too, the owner and the words.
pub struct Derived {
    /// What kind of name.
    pub kind: NameKind,
    /// Everything under it too.
    pub under: bool,
    /// Who owns it.
    pub owner: Owner,
    /// What it is, in words.
    pub what: String,
}

/// The deployments whose names a contract derives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeploymentKind {
    /// The foundational plane.
    Foundational,
    /// The persistent deployment.
    Persistent,
    /// Every build, past and future.
    Builds,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> BuildId {
        s.parse().unwrap()
    }

    #[test]
    fn a_per_build_shape_is_learned_from_two_probes_and_holds_every_build() {
        let compact = Shape::per_build(
            |id| Some(format!("scratch_b{}", id.to_string().replace('-', ""))),
            false,
        )
        .unwrap();
        assert!(matches!(
            compact,
            Shape::PerBuild {
                form: BuildForm::Compact,
                ..
            }
        ));
        for yes in [
            "scratch_b23012601",
            "scratch_b01010099",
            "scratch_b29022401",
        ] {
            assert!(compact.holds(yes), "{yes}");
        }
        for no in [
            "scratch_b2301260",
            // A multi-byte character where the id would end.
            "scratch_b1234567\u{e9}",
            "scratch_b23012601x",
            "scratch_b32012601",
            "scratch_b23012600",
            "scratch",
            "other_b23012601",
        ] {
            assert!(!compact.holds(no), "{no}");
        }
        let folder = Shape::per_build(|id| Some(format!("gp/dev/builds/{id}/")), true).unwrap();
        assert!(folder.holds("gp/dev/builds/23-01-26-01/scratch/postgres"));
        assert!(folder.holds("gp/dev/builds/23-01-26-01"));
        assert!(!folder.holds("gp/dev/builds/23-01-26-0x/a"));
        assert!(!folder.holds("gp/dev/other/23-01-26-01/a"));
        // Not derived from the build: exact, or a folder.
        assert_eq!(
            Shape::per_build(|_| Some("keycloak".into()), false),
            Some(Shape::Exact("keycloak".into()))
        );
        assert_eq!(Shape::per_build(|_| None, false), None);
        // A name that changes otherwise than by the id: no shape.
        let mut n = 0;
        assert_eq!(
            Shape::per_build(
                |_| {
                    n += 1;
                    Some(format!("x{n}"))
                },
                false
            ),
            None
        );
    }

    #[test]
    fn examples_are_held_by_their_shape() {
        let builds = [b("23-01-26-01"), b("31-12-99-42")];
        let shapes = [
            Shape::Exact("a".into()),
            Shape::Under("p/q/".into()),
            Shape::per_build(
                |id| Some(format!("n_b{}", id.to_string().replace('-', ""))),
                false,
            )
            .unwrap(),
            Shape::per_build(|id| Some(format!("p/builds/{id}/")), true).unwrap(),
        ];
        for s in &shapes {
            let ex = s.examples(&builds);
            assert!(!ex.is_empty());
            for e in ex {
                assert!(s.holds(&e), "{s:?} {e}");
            }
        }
    }

    #[test]
    fn the_index_answers_by_kind_and_name() {
        let mut i = Index::default();
        i.hold(
            NameKind::Secret,
            Shape::Under("gp/dev/rds/".into()),
            Owner::component("rds"),
            "the secrets of rds",
        );
        i.hold(
            NameKind::Role,
            Shape::Exact("goldenpath_admin".into()),
            Owner::component("rds"),
            "its admin role",
        );
        assert_eq!(
            i.owner_of(NameKind::Secret, "gp/dev/rds/admin")
                .map(|h| &h.owner),
            Some(&Owner::component("rds"))
        );
        assert!(i.owner_of(NameKind::Secret, "gp/dev/rds").is_some());
        assert!(i.owner_of(NameKind::Secret, "gp/dev/rdsx/admin").is_none());
        assert!(i.owner_of(NameKind::Database, "goldenpath_admin").is_none());
        assert_eq!(Owner::component("rds").to_string(), "component `rds`");
        assert_eq!(
            Owner::Request("RDS-0001".into()).to_string(),
            "request RDS-0001"
        );
    }

    #[test]
    fn every_kind_has_its_noun() {
        let nouns: Vec<&str> = [
            NameKind::Database,
            NameKind::Role,
            NameKind::Secret,
            NameKind::Bucket,
            NameKind::Repository,
        ]
        .map(NameKind::noun)
        .to_vec();
        assert_eq!(
            nouns,
            ["database", "role", "secret", "bucket", "repository"]
        );
    }

    #[test]
    fn what_a_component_holds_names_the_component() {
        let mut i = Index::default();
        i.hold_of(
            "rds",
            NameKind::Role,
            Shape::Exact("admin".into()),
            Owner::component("rds"),
            "its admin role",
        );
        i.hold(
            NameKind::Role,
            Shape::Exact("app".into()),
            Owner::Request("RDS-0001".into()),
            "the login role",
        );
        let held = i.owner_of(NameKind::Role, "admin").unwrap();
        assert_eq!(held.component.as_deref(), Some("rds"));
        assert_eq!(held.what, "its admin role");
        assert_eq!(i.owner_of(NameKind::Role, "app").unwrap().component, None);
    }

    fn golden() -> crate::Platform {
        crate::Platform::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../examples/golden-v1/goldenpath.yaml"),
        )
        .unwrap()
    }

    #[test]
    fn a_derived_name_is_held_as_each_deployment_kind_derives_it() {
        let p = golden();
        let derived = |under: bool| Derived {
            kind: NameKind::Secret,
            under,
            owner: Owner::Deployment("them".into()),
            what: "their secrets".into(),
        };
        let prefix = |c: &Contract<'_>| Some(c.name_prefix());
        let mut i = Index::default();
        i.hold_derived(
            &p,
            "dev",
            DeploymentKind::Persistent,
            derived(false),
            prefix,
        );
        assert!(i.owner_of(NameKind::Secret, "goldenpath-dev").is_some());
        assert!(i.owner_of(NameKind::Secret, "goldenpath-dev/x").is_none());
        let mut i = Index::default();
        i.hold_derived(
            &p,
            "dev",
            DeploymentKind::Foundational,
            derived(true),
            prefix,
        );
        assert!(i.owner_of(NameKind::Secret, "goldenpath-dev/x").is_some());
        assert_eq!(i.held[0].what, "their secrets");
        let mut i = Index::default();
        i.hold_derived(&p, "dev", DeploymentKind::Builds, derived(false), prefix);
        assert!(
            i.owner_of(NameKind::Secret, "goldenpath-dev-23-01-26-01")
                .is_some()
        );
        assert!(
            i.owner_of(NameKind::Secret, "goldenpath-dev-31-12-99-42")
                .is_some()
        );
        assert!(i.owner_of(NameKind::Secret, "goldenpath-dev").is_none());
        // Each kind from its own deployment's contract.
        let key = |c: &Contract<'_>| Some(c.deployment().key());
        let mut i = Index::default();
        i.hold_derived(&p, "dev", DeploymentKind::Persistent, derived(false), key);
        i.hold_derived(&p, "dev", DeploymentKind::Foundational, derived(false), key);
        let names: Vec<String> = i
            .held
            .iter()
            .map(|h| match &h.shape {
                Shape::Exact(n) => n.clone(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(names, ["persistent", "foundational"]);
        // Nothing derived: nothing held.
        let mut i = Index::default();
        i.hold_derived(
            &p,
            "dev",
            DeploymentKind::Persistent,
            derived(false),
            |_| None,
        );
        i.hold_derived(&p, "dev", DeploymentKind::Builds, derived(false), |_| None);
        assert!(i.held.is_empty());
    }

    #[test]
    fn a_compact_id_is_exactly_eight_digits() {
        assert_eq!(
            BuildForm::Compact.read("23012601"),
            "23-01-26-01".parse().ok()
        );
        for no in ["2301260", "230126011", "2301260x", "", "23-01-26"] {
            assert_eq!(BuildForm::Compact.read(no), None, "{no}");
        }
        assert_eq!(
            BuildForm::Dashed.read("23-01-26-01"),
            "23-01-26-01".parse().ok()
        );
    }
}
