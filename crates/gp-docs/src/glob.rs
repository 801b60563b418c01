//! Path globs, on ripgrep's `globset`: `*` and `?` within a segment, `**`
//! for any number of segments, `[abc]` and `{a,b}`. Paths are relative,
//! with `/` separators; a pattern's leading and trailing `/` are ignored.

use globset::{GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};

/// One pattern, compiled the way every glob of the docs configuration is.
pub fn compile(pattern: &str) -> Result<globset::Glob, globset::Error> {
    GlobBuilder::new(pattern.trim_matches('/'))
        .literal_separator(true)
        .backslash_escape(true)
        .build()
}

/// Whether `path` matches `pattern` (an invalid pattern matches nothing).
/// Compiles the pattern on each call: a loop compiles a [`Set`] once.
pub fn matches(pattern: &str, path: &str) -> bool {
    compile(pattern)
        .map(|g| g.compile_matcher())
        .is_ok_and(|m: GlobMatcher| m.is_match(path.trim_matches('/')))
}

/// Whether `path` is inside a folder matching `pattern` (or matches it).
pub fn under(pattern: &str, path: &str) -> bool {
    Set::new(&[pattern.to_string()]).under(path)
}

/// A list of patterns compiled once.
#[derive(Clone, Debug)]
pub struct Set {
    set: GlobSet,
    empty: bool,
}

impl Default for Set {
    fn default() -> Self {
        Set {
            set: GlobSet::empty(),
            empty: true,
        }
    }
}

impl Set {
    /// Compiles `patterns`; an invalid one is left out (configurations are
    /// validated when loaded, see [`first_invalid`]).
    pub fn new(patterns: &[String]) -> Set {
        let mut b = GlobSetBuilder::new();
        let mut n = 0;
        for p in patterns {
            if let Ok(g) = compile(p) {
                b.add(g);
                n += 1;
            }
        }
        Set {
            set: b.build().unwrap_or_else(|_| GlobSet::empty()),
            empty: n == 0,
        }
    }

    /// Whether no pattern is in the set.
    pub fn is_empty(&self) -> bool {
        self.empty
    }

    /// Whether `path` matches one of the patterns.
    pub fn matches(&self, path: &str) -> bool {
        !self.empty && self.set.is_match(path.trim_matches('/'))
    }

    /// Whether `path`, or a folder it is in, matches one of the patterns.
    pub fn under(&self, path: &str) -> bool {
        if self.empty {
            return false;
        }
        let path = path.trim_matches('/');
        if self.set.is_match(path) {
            return true;
        }
        path.match_indices('/')
            .any(|(i, _)| self.set.is_match(&path[..i]))
    }
}

/// The first pattern of `patterns` that does not compile, and why.
pub fn first_invalid<'a>(
    patterns: impl IntoIterator<Item = &'a String>,
) -> Option<(&'a String, String)> {
    patterns
        .into_iter()
        .find_map(|p| compile(p).err().map(|e| (p, e.kind().to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(matches("docs/*.md", "docs/a.md"));
        assert!(!matches("docs/*.md", "docs/x/a.md"));
        assert!(matches("docs/**/*.md", "docs/x/y/a.md"));
        assert!(matches("docs/**/*.md", "docs/a.md"));
        assert!(matches("**/*.md", "a.md"));
        assert!(matches(".github/workflows/**", ".github/workflows/ci.yml"));
        assert!(matches("ADR-????-*.md", "ADR-0001-x.md"));
        assert!(!matches("ADR-????-*.md", "ADR-01-x.md"));
        assert!(matches("docs/adrs/", "docs/adrs"));
        assert!(under("docs/adrs", "docs/adrs/ADR-0001-x.md"));
        assert!(under("gitops/**", "gitops/apps/x.yaml"));
        assert!(under("**/security", "docs/platform/security/keys.md"));
        assert!(!under("docs/adrs", "docs/other.md"));
        assert!(!under("docs/adrs", "docs/adrs-old/a.md"));
        let set = Set::new(&["docs/governance".into(), "**/schemas".into()]);
        assert!(set.under("docs/governance/x/y.md") && set.under("a/schemas/b.md"));
        assert!(!set.under("docs/other/y.md"));
        assert!(Set::new(&[]).is_empty() && !Set::new(&[]).under("a"));
        assert!(first_invalid(&["ok/*".to_string(), "bad/[".to_string()]).is_some());
    }
}
