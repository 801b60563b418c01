//! What types cannot check: names, references, planes, hosts and cycles,
//! every problem with its position.

use super::*;

/// The longest a build may be given to live (`ttl`, `maxTtl`).
const MAX_TTL_S: u64 = 366 * 86_400;

impl Platform {
    pub(crate) fn check(&mut self) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        self.check_header(&mut out);
        self.check_environments(&mut out);
        self.index = self.check_names(&mut out);
        self.check_components(&mut out);
        self.check_hosts(&mut out);
        // What follows reads names the checks above proved valid.
        if out.is_empty() {
            self.check_application_names(&mut out);
        }
        out.extend(self.check_state_keys());
        self.check_durations_and_paths(&mut out);
        if out.is_empty()
            && let Some(cycle) = self.find_cycle()
        {
            let first = self
                .component(&cycle[0])
                .map(|c| c.name.start)
                .unwrap_or_default();
            out.push(
                self.diagnostic(first, format!("dependency cycle: {}", cycle.join(" -> ")))
                    .with_hint("remove one of these `needs` so the components can be ordered"),
            );
        }
        out
    }

    /// The header: apiVersion, kind, prefix, domain and zone, project and owner.
    fn check_header(&self, out: &mut Vec<Diagnostic>) {
        let s = &self.spec;
        if s.api_version.value != API_VERSION {
            out.push(
                self.diagnostic(
                    s.api_version.start,
                    format!("unsupported apiVersion `{}`", s.api_version.value),
                )
                .with_hint(format!("this goldenpath reads `apiVersion: {API_VERSION}`")),
            );
        }
        if s.kind.value != "Platform" {
            out.push(self.diagnostic(
                s.kind.start,
                format!("expected `kind: Platform`, found `{}`", s.kind.value),
            ));
        }
        if let Err(e) = names::check_label(&s.prefix.value, &s.prefix.value) {
            out.push(self.diagnostic(s.prefix.start, format!("invalid prefix: {e}")));
        }
        if let Err(e) = names::check_name(&s.domain.value) {
            out.push(self.diagnostic(s.domain.start, format!("invalid domain: {e}")));
        }
        if let Some(zone) = &s.dns.zone {
            if let Err(e) = names::check_name(&zone.value) {
                out.push(self.diagnostic(zone.start, format!("invalid zone: {e}")));
            } else if !names::is_under(&s.domain.value, &zone.value) {
                out.push(self.diagnostic(
                    zone.start,
                    format!(
                        "the zone `{}` must be the domain `{}` or a parent of it",
                        zone.value, s.domain.value
                    ),
                ));
            }
        }
        for (field, v, max) in [("project", &s.project, 128), ("owner", &s.owner, 128)] {
            if v.value.len() > max || v.value.trim().is_empty() {
                out.push(self.diagnostic(
                    v.start,
                    format!("`{field}` must be 1 to {max} characters (it becomes a tag on everything goldenpath creates)"),
                ));
            }
        }
    }

    /// Each environment: its name, host suffix and ttls.
    fn check_environments(&self, out: &mut Vec<Diagnostic>) {
        let s = &self.spec;
        if s.environments.is_empty() {
            out.push(self.diagnostic(s.kind.start, "the spec declares no environments"));
        }
        for (name, env) in &s.environments {
            if let Err(e) = names::check_label(&name.value, &name.value) {
                out.push(self.diagnostic(name.start, format!("invalid environment name: {e}")));
            }
            if let Some(suffix) = &env.host_suffix {
                if let Err(e) = names::check_name(&suffix.value) {
                    out.push(self.diagnostic(suffix.start, format!("invalid hostSuffix: {e}")));
                } else if !names::is_under(&suffix.value, &s.domain.value) {
                    out.push(self.diagnostic(
                        suffix.start,
                        format!(
                            "hostSuffix `{}` must be the domain `{}` or lie under it",
                            suffix.value, s.domain.value
                        ),
                    ));
                }
            }
            if let Some(ttl) = &env.persistent.ttl {
                out.push(self.diagnostic(
                    ttl.start,
                    "a persistent deployment has no ttl; set it under `ephemeral:`",
                ));
            }
            if let Some(ttl) = &env.persistent.max_ttl {
                out.push(self.diagnostic(
                    ttl.start,
                    "a persistent deployment has no maxTtl; set it under `ephemeral:`",
                ));
            }
            if let Some(ttl) = &env.ephemeral.max_ttl
                && parse_duration(&ttl.value).is_none()
            {
                out.push(self.diagnostic(
                    ttl.start,
                    format!(
                        "invalid maxTtl `{}`: expected a number and a unit, e.g. 30m, 24h or 7d",
                        ttl.value
                    ),
                ));
            }
            for t in [&env.ephemeral.ttl, &env.ephemeral.max_ttl]
                .into_iter()
                .flatten()
            {
                if parse_duration(&t.value).is_some_and(|s| s > MAX_TTL_S) {
                    out.push(self.diagnostic(
                        t.start,
                        format!(
                            "`{}` is more than a year: a build lives at most 366d",
                            t.value
                        ),
                    ));
                }
            }
            if let Some(ttl) = &env.ephemeral.ttl
                && parse_duration(&ttl.value).is_none()
            {
                out.push(self.diagnostic(
                    ttl.start,
                    format!(
                        "invalid ttl `{}`: expected a number and a unit, e.g. 30m, 24h or 7d",
                        ttl.value
                    ),
                ));
            }
        }
    }

    /// Component names: valid and unique. Returns the index of names.
    fn check_names(&self, out: &mut Vec<Diagnostic>) -> HashMap<String, usize> {
        let s = &self.spec;
        let mut index = HashMap::new();
        for (i, c) in s.components.iter().enumerate() {
            let name = &c.name.value;
            if let Err(e) = names::check_label(name, name) {
                out.push(self.diagnostic(c.name.start, format!("invalid component name: {e}")));
            }
            if let Some(&first) = index.get(name.as_str()) {
                let first: &ComponentSpec = &s.components[first];
                out.push(
                    self.diagnostic(c.name.start, format!("duplicate component `{name}`"))
                        .with_hint(format!(
                            "`{name}` is already declared at line {}; component names are unique",
                            first.name.start.line
                        )),
                );
            } else {
                index.insert(name.clone(), i);
            }
        }
        index
    }

    /// Each component: its plane, modes, tier, needs and secrets against the index.
    fn check_components(&self, out: &mut Vec<Diagnostic>) {
        let s = &self.spec;
        let index = &self.index;

        for c in &s.components {
            let name = &c.name.value;
            let plane = c.plane.value;
            if plane == Plane::Foundational {
                if let Some(modes) = &c.modes {
                    out.push(self.diagnostic(
                        modes.start,
                        format!(
                            "`{name}` is foundational; modes apply only to disposable components"
                        ),
                    ));
                }
            } else {
                if c.protected.value {
                    out.push(self.diagnostic(
                        c.protected.start,
                        format!(
                            "`{name}` is disposable; only foundational components can be protected"
                        ),
                    ));
                }
                if let Some(modes) = &c.modes
                    && modes.value.is_empty()
                {
                    out.push(self.diagnostic(
                        modes.start,
                        format!("`{name}` has no modes, so it would never run"),
                    ));
                }
            }
            let mut seen_needs = Vec::new();
            for need in &c.needs {
                let Some(r) = Ref::parse(&need.value) else {
                    out.push(self.diagnostic(
                        need.start,
                        format!(
                            "invalid need `{}`: expected a component name or `component/resource`",
                            need.value
                        ),
                    ));
                    continue;
                };
                if seen_needs.contains(&r) {
                    out.push(
                        self.diagnostic(need.start, format!("`{}` is listed twice", need.value)),
                    );
                }
                seen_needs.push(r.clone());
                if r.component == *name {
                    out.push(self.diagnostic(need.start, format!("`{name}` cannot need itself")));
                    continue;
                }
                let Some(&target) = index.get(&r.component) else {
                    out.push(
                        self.diagnostic(
                            need.start,
                            format!(
                                "`{name}` needs `{}`, but no component `{}` is declared",
                                need.value, r.component
                            ),
                        )
                        .with_hint_opt(suggest(&r.component, index.keys())),
                    );
                    continue;
                };
                let target = &s.components[target];
                if plane == Plane::Foundational && target.plane.value == Plane::Disposable {
                    out.push(self.diagnostic(
                        need.start,
                        format!(
                            "foundational `{name}` cannot need disposable `{}`: the foundational plane is deployed before any deployment",
                            r.component
                        ),
                    ));
                }
            }
            for host in &c.hosts {
                if let Err(e) = names::check_host_name(&host.name.value) {
                    out.push(self.diagnostic(host.name.start, format!("invalid host: {e}")));
                }
            }
            // Several entries may fill one target Secret; a key twice is an
            // error naming both places.
            let mut keys_of: BTreeMap<String, BTreeMap<String, crate::yaml::Pos>> = BTreeMap::new();
            for secret in &c.secrets {
                if secret.extract && !secret.keys.is_empty() {
                    out.push(self.diagnostic(
                        secret.from.start,
                        "`extract: true` takes the whole secret: drop `keys` (or `extract`)",
                    ));
                }
                let target = secret.target_name();
                let seen = keys_of.entry(target.clone()).or_default();
                for (k8s_key, source) in &secret.keys {
                    if let Some(first) = seen.get(k8s_key) {
                        out.push(self.diagnostic(
                            source.start,
                            format!(
                                "key `{k8s_key}` of Secret `{target}` is already filled at line {}",
                                first.line
                            ),
                        ));
                    } else {
                        seen.insert(k8s_key.clone(), source.start);
                    }
                }
            }
            for secret in &c.secrets {
                match Ref::parse(&secret.from.value) {
                    Some(Ref {
                        component,
                        resource: Some(_),
                    }) if index.contains_key(&component) => {
                        if !c.needs.iter().any(|n| {
                            Ref::parse(&n.value).is_some_and(|r| r.component == component)
                        }) {
                            out.push(
                                self.diagnostic(
                                    secret.from.start,
                                    format!(
                                        "`{name}` reads a secret of `{component}` but does not need it"
                                    ),
                                )
                                .with_hint(format!("add `{}` to `needs`", secret.from.value)),
                            );
                        }
                    }
                    Some(Ref {
                        component,
                        resource: Some(_),
                    }) => out.push(
                        self.diagnostic(
                            secret.from.start,
                            format!("no component `{component}` is declared"),
                        )
                        .with_hint_opt(suggest(&component, index.keys())),
                    ),
                    _ => out.push(self.diagnostic(
                        secret.from.start,
                        format!(
                            "invalid secret source `{}`: expected `component/resource`, e.g. `rds/backstage`",
                            secret.from.value
                        ),
                    )),
                }
            }
        }
    }

    /// Hosts are unique within a plane's deployment.
    fn check_hosts(&self, out: &mut Vec<Diagnostic>) {
        let s = &self.spec;
        let mut hosts: BTreeMap<&str, &ComponentSpec> = BTreeMap::new();
        for c in &s.components {
            for h in &c.hosts {
                if let Some(other) = hosts.insert(&h.name.value, c)
                    && other.name.value != c.name.value
                {
                    out.push(self.diagnostic(
                        h.name.start,
                        format!(
                            "host `{}` is already served by `{}`",
                            h.name.value, other.name.value
                        ),
                    ));
                }
            }
        }
    }

    /// Application names: valid and unique, in every environment, for the persistent deployment and (the longest) a build.
    fn check_application_names(&self, out: &mut Vec<Diagnostic>) {
        let s = &self.spec;
        let gitops: Vec<&str> = s
            .components
            .iter()
            .filter(|c| c.driver.value == "gitops")
            .map(|c| c.name.value.as_str())
            .collect();
        if !gitops.is_empty() {
            let at = s
                .gitops
                .application_name
                .as_ref()
                .map_or(Default::default(), |t| t.start);
            'envs: for env in s.environments.keys() {
                for d in [
                    crate::Deployment::Persistent,
                    crate::Deployment::Ephemeral(
                        "31-12-99-99".parse().unwrap_or_else(|_| unreachable!()),
                    ),
                ] {
                    let Ok(c) = crate::Contract::new(self, env, d) else {
                        continue;
                    };
                    if let Err(e) = c.check_application_names(gitops.iter().copied()) {
                        out.push(self.diagnostic(at, format!("in {}: {e}", env.value)));
                        break 'envs;
                    }
                }
            }
        }
    }

    /// The reaper's notices, the policies' paths and timeout.
    fn check_durations_and_paths(&self, out: &mut Vec<Diagnostic>) {
        let s = &self.spec;
        for lead in &s.reaper.notices {
            if parse_duration(&lead.value).is_none() {
                out.push(self.diagnostic(
                    lead.start,
                    format!(
                        "reaper.notices: `{}` is not a duration (`2h`, `30m`)",
                        lead.value
                    ),
                ));
            }
        }
        for path in &s.policy.paths {
            if !crate::spec::stays_inside(&path.value) {
                out.push(self.diagnostic(
                    path.start,
                    format!(
                        "policy.paths: `{}` leaves the spec's folder (absolute, or through `..`)",
                        path.value
                    ),
                ));
            }
        }
        for rule in &s.drift.ignore {
            if rule.matches.value.trim().is_empty() {
                out.push(self.diagnostic(
                    rule.matches.start,
                    "drift.ignore: `match` is empty: it would leave out nothing or everything",
                ));
            }
            if let Some(c) = &rule.component
                && !c.value.contains(['*', '?'])
                && !s.components.iter().any(|x| x.name.value == c.value)
            {
                out.push(self.diagnostic(
                    c.start,
                    format!("drift.ignore: no component is named `{}`", c.value),
                ));
            }
        }
        if let Some(t) = &s.policy.timeout
            && crate::spec::parse_duration(&t.value).is_none()
        {
            out.push(self.diagnostic(
                t.start,
                format!(
                    "policy.timeout: `{}` is not a duration (`10s`, `1m`)",
                    t.value
                ),
            ));
        }
    }

    /// A cycle in `needs`, as the list of names with the first repeated at
    /// the end, or `None`.
    pub(crate) fn find_cycle(&self) -> Option<Vec<String>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        let comps = &self.spec.components;
        let mut marks = vec![Mark::New; comps.len()];
        let mut stack: Vec<usize> = Vec::new();
        fn visit(
            p: &Platform,
            i: usize,
            marks: &mut [Mark],
            stack: &mut Vec<usize>,
        ) -> Option<Vec<String>> {
            marks[i] = Mark::Active;
            stack.push(i);
            for need in &p.spec.components[i].needs {
                let Some(r) = Ref::parse(&need.value) else {
                    continue;
                };
                let Some(&j) = p.index.get(&r.component) else {
                    continue;
                };
                match marks[j] {
                    Mark::Active => {
                        let from = stack.iter().position(|&k| k == j).unwrap_or(0);
                        let mut names: Vec<String> = stack[from..]
                            .iter()
                            .map(|&k| p.spec.components[k].name.value.clone())
                            .collect();
                        names.push(p.spec.components[j].name.value.clone());
                        return Some(names);
                    }
                    Mark::New => {
                        if let Some(c) = visit(p, j, marks, stack) {
                            return Some(c);
                        }
                    }
                    Mark::Done => {}
                }
            }
            stack.pop();
            marks[i] = Mark::Done;
            None
        }
        for i in 0..comps.len() {
            if marks[i] == Mark::New
                && let Some(c) = visit(self, i, &mut marks, &mut stack)
            {
                return Some(c);
            }
        }
        None
    }
}

impl Platform {
    /// `stateKeys`: each template well formed, and no two keys of one
    /// environment alike (a build's, the persistent one, each foundational
    /// component's).
    fn check_state_keys(&self) -> Vec<Diagnostic> {
        let keys = &self.spec.state_keys;
        let mut out = Vec::new();
        let named = [
            ("build", &keys.build, true, false),
            ("persistent", &keys.persistent, false, false),
            ("foundational", &keys.foundational, false, true),
        ];
        for (name, t, build, component) in named {
            let Some(t) = t else { continue };
            if let Err(e) = check_state_key_template(&t.value, build, component) {
                out.push(self.diagnostic(t.start, format!("stateKeys.{name}: {e}")));
            }
        }
        if !out.is_empty() {
            return out;
        }
        let foundational: Vec<&str> = self
            .spec
            .components
            .iter()
            .filter(|c| c.plane.value == Plane::Foundational)
            .map(|c| c.name.value.as_str())
            .collect();
        for env in self.spec.environments.keys() {
            let sample = crate::Deployment::Ephemeral(
                "31-12-99-99".parse().unwrap_or_else(|_| unreachable!()),
            );
            let (Ok(p), Ok(b)) = (
                crate::Contract::new(self, env, crate::Deployment::Persistent),
                crate::Contract::new(self, env, sample),
            ) else {
                continue;
            };
            let mut seen: BTreeMap<String, String> = BTreeMap::new();
            let all = [
                ("the persistent deployment".to_string(), p.state_key()),
                ("a build".to_string(), b.state_key()),
            ]
            .into_iter()
            .chain(
                foundational
                    .iter()
                    .map(|c| (format!("`{c}`"), p.foundational_state_key(c))),
            );
            for (who, key) in all {
                if let Some(other) = seen.insert(key.clone(), who.clone()) {
                    let at = self.position_of(&["stateKeys"]);
                    out.push(self.diagnostic(
                        at,
                        format!(
                            "in {}: {other} and {who} would share the state key `{key}`",
                            env.value
                        ),
                    ));
                    return out;
                }
            }
        }
        out
    }
}

/// One `stateKeys` template: a relative path of plain segments, known
/// placeholders, `{env}` always, `{build}` exactly when `build`,
/// `{component}` when `component`.
fn check_state_key_template(t: &str, build: bool, component: bool) -> Result<(), String> {
    let mut rest = t;
    let mut seen = std::collections::BTreeSet::new();
    while let Some(i) = rest.find('{') {
        let Some(j) = rest[i..].find('}') else {
            return Err(format!("`{t}` has an unclosed `{{`"));
        };
        let name = &rest[i + 1..i + j];
        match name {
            "env" | "build" | "component" | "project" | "prefix" => {
                seen.insert(name.to_string());
            }
            other => {
                return Err(format!(
                    "`{t}` names `{{{other}}}`: only {{env}}, {{build}}, {{component}}, {{project}} and {{prefix}} are known"
                ));
            }
        }
        rest = &rest[i + j + 1..];
    }
    let plain: String = t.replace(['{', '}'], "");
    if let Some(c) = plain
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | '=' | ':')))
    {
        return Err(format!(
            "`{t}` holds `{c}`: a key is letters, digits and . _ - / = :"
        ));
    }
    if t.starts_with('/') || t.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Err(format!(
            "`{t}` must be a relative path of plain segments (no leading /, no empty, . or .. segment)"
        ));
    }
    let has = |p: &str| seen.contains(p);
    if !has("env") {
        return Err(format!(
            "`{t}` must hold {{env}}: environments never share a key"
        ));
    }
    if build && !has("build") {
        return Err(format!(
            "`{t}` must hold {{build}}: two builds never share a key"
        ));
    }
    if !build && has("build") {
        return Err(format!(
            "`{t}` names {{build}}, which only a build's key has"
        ));
    }
    if component && !has("component") {
        return Err(format!(
            "`{t}` must hold {{component}}: each foundational component has its own key"
        ));
    }
    Ok(())
}
