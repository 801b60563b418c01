//! Path globs: `*` and `?` within a segment, `**` for any number of
//! segments. Paths are relative, with `/` separators.

/// Whether `path` matches `pattern`.
pub fn matches(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match_segments(&pat, &segs)
}

fn match_segments(pat: &[&str], segs: &[&str]) -> bool {
    match pat.first() {
        None => segs.is_empty(),
        Some(&"**") => (0..=segs.len()).any(|i| match_segments(&pat[1..], &segs[i..])),
        Some(p) => {
            !segs.is_empty()
                && match_segment(p.as_bytes(), segs[0].as_bytes())
                && match_segments(&pat[1..], &segs[1..])
        }
    }
}

fn match_segment(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            match_segment(&p[1..], s) || (!s.is_empty() && match_segment(p, &s[1..]))
        }
        (Some(b'?'), Some(_)) => match_segment(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => match_segment(&p[1..], &s[1..]),
        _ => false,
    }
}

/// Whether `path` is inside a folder matching `pattern` (or matches it).
pub fn under(pattern: &str, path: &str) -> bool {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    (1..=segs.len()).any(|n| matches(pattern, &segs[..n].join("/")))
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
        assert!(matches(".github/workflows/**", ".github/workflows/ci.yml"));
        assert!(matches("ADR-????-*.md", "ADR-0001-x.md"));
        assert!(!matches("ADR-????-*.md", "ADR-01-x.md"));
        assert!(under("docs/adrs", "docs/adrs/ADR-0001-x.md"));
        assert!(under("gitops/**", "gitops/apps/x.yaml"));
        assert!(!under("docs/adrs", "docs/other.md"));
    }
}
