//! The resource graph of one deployment.
//!
//! For a persistent or ephemeral deployment the targets are the disposable
//! components, filtered by the environment's highest tier for that kind of
//! deployment and by mode; the foundational components they need are
//! read-only dependencies. For the foundational plane the targets are the
//! named foundational components (or all of them). Nodes come in a
//! deterministic topological order (ties broken by declaration order).

use std::collections::{BTreeSet, HashMap};

use gp_core::{ComponentSpec, Deployment, Mode, Plane, Platform, Ref};

/// Why a node is in the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Deployed (or torn down) by this run.
    Target,
    /// A foundational component the targets need; never changed here.
    Dependency,
}

impl Role {
    /// `target` or `dependency`, as JSON and tables show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Target => "target",
            Self::Dependency => "dependency",
        }
    }
}

/// What the graph already knows about a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// It runs.
    Run,
    /// Filtered out by tier or mode; the reason says which.
    Skip(String),
    /// It needs something that is filtered out.
    Blocked(String),
}

/// One node.
#[derive(Clone, Debug)]
pub struct GraphNode {
    /// Index of the component in the spec.
    pub spec_index: usize,
    /// Component name.
    pub name: String,
    /// Target or read-only dependency.
    pub role: Role,
    /// Run, skip or blocked.
    pub disposition: Disposition,
    /// Indices (into [`Graph::nodes`]) of the nodes it needs.
    pub deps: Vec<usize>,
    /// Its needs as written (`rds/backstage`), with the node index of each.
    pub needs: Vec<(Ref, usize)>,
}

/// The graph of a deployment.
#[derive(Clone, Debug)]
pub struct Graph {
    /// Environment.
    pub env: String,
    /// Deployment.
    pub deployment: Deployment,
    /// Nodes in topological order.
    pub nodes: Vec<GraphNode>,
    index: HashMap<String, usize>,
}

/// Why a graph cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// A named foundational target does not exist or is not foundational.
    #[error("{message}")]
    BadTarget {
        /// What is wrong.
        message: String,
        /// A did-you-mean, when a name is close.
        hint: Option<String>,
    },
    /// The environment is not declared.
    #[error("environment `{0}` is not declared in the spec")]
    UnknownEnvironment(String),
}

impl Graph {
    /// Builds the graph. `targets` names foundational components for the
    /// foundational plane (all of them when empty).
    pub fn build(
        platform: &Platform,
        env: &str,
        deployment: Deployment,
        targets: &[String],
    ) -> Result<Graph, GraphError> {
        let environment = platform
            .environment(env)
            .ok_or_else(|| GraphError::UnknownEnvironment(env.into()))?;
        let comps = &platform.spec.components;
        let by_name: HashMap<&str, usize> = comps
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.value.as_str(), i))
            .collect();

        // Which components are targets.
        let mut target_set: BTreeSet<usize> = BTreeSet::new();
        match deployment {
            Deployment::Foundational => {
                if targets.is_empty() {
                    target_set.extend(
                        comps
                            .iter()
                            .enumerate()
                            .filter(|(_, c)| c.plane.value == Plane::Foundational)
                            .map(|(i, _)| i),
                    );
                } else {
                    for t in targets {
                        match by_name.get(t.as_str()) {
                            Some(&i) if comps[i].plane.value == Plane::Foundational => {
                                target_set.insert(i);
                            }
                            Some(_) => {
                                return Err(GraphError::BadTarget {
                                    message: format!(
                                        "`{t}` is disposable; --foundational takes foundational components"
                                    ),
                                    hint: None,
                                });
                            }
                            None => {
                                let names: Vec<&str> = comps
                                    .iter()
                                    .filter(|c| c.plane.value == Plane::Foundational)
                                    .map(|c| c.name.value.as_str())
                                    .collect();
                                let hint = gp_core::spec::suggest(
                                    t,
                                    comps
                                        .iter()
                                        .filter(|c| c.plane.value == Plane::Foundational)
                                        .map(|c| &c.name.value),
                                );
                                return Err(GraphError::BadTarget {
                                    message: format!(
                                        "no foundational component `{t}` (declared: {})",
                                        names.join(", ")
                                    ),
                                    hint,
                                });
                            }
                        }
                    }
                }
            }
            _ => {
                target_set.extend(
                    comps
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| c.plane.value == Plane::Disposable)
                        .map(|(i, _)| i),
                );
            }
        }

        // Read-only dependencies: foundational needs of targets,
        // transitively through foundational components.
        let mut members: BTreeSet<usize> = target_set.clone();
        let mut stack: Vec<usize> = target_set.iter().copied().collect();
        while let Some(i) = stack.pop() {
            for (r, _) in comps[i].need_refs() {
                if let Some(&j) = by_name.get(r.component.as_str())
                    && comps[j].plane.value == Plane::Foundational
                    && members.insert(j)
                {
                    stack.push(j);
                }
            }
        }

        // Deterministic topological order (Kahn, smallest spec index first).
        let deps_of = |i: usize| -> BTreeSet<usize> {
            comps[i]
                .need_refs()
                .filter_map(|(r, _)| by_name.get(r.component.as_str()).copied())
                .filter(|j| members.contains(j))
                .collect()
        };
        // Each node counts what it still waits for; finishing a node only
        // visits its own dependents, so the sort is linear in the edges.
        let mut waiting: HashMap<usize, usize> = HashMap::with_capacity(members.len());
        let mut dependents: HashMap<usize, Vec<usize>> = HashMap::new();
        for &i in &members {
            let deps = deps_of(i);
            waiting.insert(i, deps.len());
            for d in deps {
                dependents.entry(d).or_default().push(i);
            }
        }
        let mut order = Vec::with_capacity(members.len());
        let mut ready: BTreeSet<usize> = waiting
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(&i, _)| i)
            .collect();
        while let Some(i) = ready.pop_first() {
            order.push(i);
            for &j in dependents.get(&i).map(Vec::as_slice).unwrap_or_default() {
                if let Some(n) = waiting.get_mut(&j) {
                    *n -= 1;
                    if *n == 0 {
                        ready.insert(j);
                    }
                }
            }
        }
        // The spec check refuses cycles, so every member is ordered here.

        let index: HashMap<String, usize> = order
            .iter()
            .enumerate()
            .map(|(n, &i)| (comps[i].name.value.clone(), n))
            .collect();
        let mode = deployment.mode();
        let mut nodes: Vec<GraphNode> = Vec::with_capacity(order.len());
        for &i in &order {
            let c = &comps[i];
            let role = if target_set.contains(&i) {
                Role::Target
            } else {
                Role::Dependency
            };
            let needs: Vec<(Ref, usize)> = c
                .need_refs()
                .filter_map(|(r, _)| index.get(&r.component).map(|&n| (r, n)))
                .collect();
            let mut deps: Vec<usize> = needs.iter().map(|(_, n)| *n).collect();
            deps.sort_unstable();
            deps.dedup();
            let mut disposition = Disposition::Run;
            if role == Role::Target
                && let Some(mode) = mode
            {
                let policy = match mode {
                    Mode::Persistent => &environment.persistent,
                    Mode::Ephemeral => &environment.ephemeral,
                };
                if !c.runs_in(mode) {
                    disposition = Disposition::Skip(mode_reason(c, mode));
                } else if c.tier.value > policy.max_tier.value {
                    disposition = Disposition::Skip(format!(
                        "tier {} is above the {mode} limit {} for {env}",
                        c.tier.value, policy.max_tier.value
                    ));
                }
            }
            if disposition == Disposition::Run {
                for (r, n) in &needs {
                    let dep: &GraphNode = &nodes[*n];
                    match &dep.disposition {
                        Disposition::Skip(why) => {
                            disposition = Disposition::Blocked(format!(
                                "needs {r}, which is skipped here ({why})"
                            ));
                            break;
                        }
                        Disposition::Blocked(_) => {
                            disposition =
                                Disposition::Blocked(format!("needs {r}, which is blocked"));
                            break;
                        }
                        Disposition::Run => {}
                    }
                }
            }
            nodes.push(GraphNode {
                spec_index: i,
                name: c.name.value.clone(),
                role,
                disposition,
                deps,
                needs,
            });
        }
        Ok(Graph {
            env: env.into(),
            deployment,
            nodes,
            index,
        })
    }

    /// The node of a component.
    pub fn node(&self, name: &str) -> Option<&GraphNode> {
        self.index.get(name).map(|&i| &self.nodes[i])
    }

    /// The component spec of a node.
    pub fn spec<'p>(&self, platform: &'p Platform, node: &GraphNode) -> &'p ComponentSpec {
        &platform.spec.components[node.spec_index]
    }
}

fn mode_reason(c: &ComponentSpec, mode: Mode) -> String {
    let runs: Vec<String> = c
        .modes
        .as_ref()
        .map(|m| m.value.iter().map(|x| x.to_string()).collect())
        .unwrap_or_default();
    match mode {
        Mode::Ephemeral => format!(
            "{} runs in {} deployments only; builds use the persistent {}",
            c.name.value,
            runs.join(" and "),
            c.name.value
        ),
        Mode::Persistent => format!(
            "{} runs in {} deployments only",
            c.name.value,
            runs.join(" and ")
        ),
    }
}

/// Renders the graph as Mermaid or DOT.
pub fn render(graph: &Graph, platform: &Platform, format: GraphFormat) -> String {
    let mut out = String::new();
    let id = |n: &str| n.replace('-', "_");
    match format {
        GraphFormat::Mermaid => {
            out.push_str("flowchart LR\n");
            for n in &graph.nodes {
                let c = graph.spec(platform, n);
                let label = format!("{}<br/>{} · tier {}", n.name, c.plane.value, c.tier.value);
                let shape = match n.role {
                    Role::Dependency => format!("{}[(\"{label}\")]", id(&n.name)),
                    Role::Target => format!("{}[\"{label}\"]", id(&n.name)),
                };
                out.push_str(&format!("  {shape}\n"));
            }
            for n in &graph.nodes {
                for (r, d) in &n.needs {
                    let dep = &graph.nodes[*d];
                    match &r.resource {
                        Some(res) => out.push_str(&format!(
                            "  {} -- {res} --> {}\n",
                            id(&dep.name),
                            id(&n.name)
                        )),
                        None => out.push_str(&format!("  {} --> {}\n", id(&dep.name), id(&n.name))),
                    }
                }
            }
            for n in &graph.nodes {
                match &n.disposition {
                    Disposition::Skip(_) => {
                        out.push_str(&format!("  class {} skipped\n", id(&n.name)))
                    }
                    Disposition::Blocked(_) => {
                        out.push_str(&format!("  class {} blocked\n", id(&n.name)))
                    }
                    Disposition::Run => {}
                }
                if n.role == Role::Dependency {
                    out.push_str(&format!("  class {} foundational\n", id(&n.name)));
                }
            }
            out.push_str("  classDef foundational fill:#eef,stroke:#557\n");
            out.push_str("  classDef skipped stroke-dasharray: 5 5,color:#888\n");
            out.push_str("  classDef blocked stroke:#c00,stroke-dasharray: 2 2\n");
        }
        GraphFormat::Dot => {
            out.push_str(&format!(
                "digraph \"{} {}\" {{\n  rankdir=LR;\n  node [shape=box];\n",
                graph.env,
                graph.deployment.key()
            ));
            for n in &graph.nodes {
                let c = graph.spec(platform, n);
                let mut attrs = vec![format!(
                    "label=\"{}\\n{} · tier {}\"",
                    n.name, c.plane.value, c.tier.value
                )];
                if n.role == Role::Dependency {
                    attrs.push("shape=cylinder".into());
                }
                match &n.disposition {
                    Disposition::Skip(_) => attrs.push("style=dashed, fontcolor=gray".into()),
                    Disposition::Blocked(_) => attrs.push("style=dotted, color=red".into()),
                    Disposition::Run => {}
                }
                out.push_str(&format!("  \"{}\" [{}];\n", n.name, attrs.join(", ")));
            }
            for n in &graph.nodes {
                for (r, d) in &n.needs {
                    let dep = &graph.nodes[*d];
                    match &r.resource {
                        Some(res) => out.push_str(&format!(
                            "  \"{}\" -> \"{}\" [label=\"{res}\"];\n",
                            dep.name, n.name
                        )),
                        None => out.push_str(&format!("  \"{}\" -> \"{}\";\n", dep.name, n.name)),
                    }
                }
            }
            out.push_str("}\n");
        }
    }
    out
}

/// `graph --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphFormat {
    /// Mermaid flowchart.
    Mermaid,
    /// Graphviz DOT.
    Dot,
}
