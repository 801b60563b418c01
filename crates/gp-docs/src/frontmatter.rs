//! Splitting a Markdown file into front matter and body.
//!
//! Front matter is a first line `---`, YAML, and a closing `---` (or
//! `...`) line. HTML comments inside it are blanked (keeping line and
//! column positions) before the YAML is parsed. Scalars keep the text and
//! style they were written with: nothing is coerced to dates or floats.

use gp_core::yaml::{self, Node, Pos};

/// A parsed file.
#[derive(Debug)]
pub struct Split<'a> {
    /// The front matter's mapping (`None` when there is none).
    pub meta: Option<Node>,
    /// The body, and the 1-based line it starts on.
    pub body: &'a str,
    /// Line of the body's first line.
    pub body_line: u32,
    /// The front matter's YAML text (comments blanked), for messages.
    pub yaml: String,
}

/// Why front matter could not be read.
#[derive(Debug, PartialEq)]
pub enum FrontMatterError {
    /// The file does not start with `---`.
    Missing,
    /// No closing `---`.
    Unterminated,
    /// YAML error at a position in the file.
    Yaml(String, Pos),
    /// Not a mapping.
    NotAMapping(Pos),
}

/// Splits `text`.
pub fn split(text: &str) -> Result<Split<'_>, FrontMatterError> {
    let text_no_bom = text.strip_prefix('\u{feff}').unwrap_or(text);
    let bom = text.len() - text_no_bom.len();
    let mut lines = text_no_bom.split_inclusive('\n');
    let first = lines.next().unwrap_or_default();
    if first.trim_end() != "---" {
        return Err(FrontMatterError::Missing);
    }
    let start = bom + first.len();
    let mut offset = start;
    let mut end = None;
    for (line_no, l) in (2u32..).zip(lines) {
        let t = l.trim_end();
        if t == "---" || t == "..." {
            end = Some((offset, offset + l.len(), line_no));
            break;
        }
        offset += l.len();
    }
    let Some((yaml_end, body_start, close_line)) = end else {
        return Err(FrontMatterError::Unterminated);
    };
    let yaml_text = blank_comments(&text[start..yaml_end]);
    let meta = match yaml::parse(&yaml_text) {
        Err(e) => {
            return Err(FrontMatterError::Yaml(
                e.message,
                Pos {
                    line: e.pos.line + 1,
                    col: e.pos.col,
                    offset: e.pos.offset + start,
                },
            ));
        }
        Ok(None) => None,
        Ok(Some(mut node)) => {
            shift(&mut node, 1, start);
            if !matches!(node.kind, yaml::NodeKind::Map(_)) {
                return Err(FrontMatterError::NotAMapping(node.start));
            }
            Some(node)
        }
    };
    Ok(Split {
        meta,
        body: &text[body_start..],
        body_line: close_line + 1,
        yaml: yaml_text,
    })
}

/// Parses a `metadata.yaml` (a mapping, or empty).
pub fn parse_metadata(text: &str) -> Result<Option<Node>, FrontMatterError> {
    match yaml::parse(&blank_comments(text)) {
        Err(e) => Err(FrontMatterError::Yaml(e.message, e.pos)),
        Ok(None) => Ok(None),
        Ok(Some(n)) => match n.kind {
            yaml::NodeKind::Map(_) => Ok(Some(n)),
            _ => Err(FrontMatterError::NotAMapping(n.start)),
        },
    }
}

/// Replaces `<!-- ... -->` with spaces (newlines kept).
fn blank_comments(text: &str) -> String {
    if !text.contains("<!--") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("<!--") {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let end = after.find("-->").map(|j| j + 3).unwrap_or(after.len());
        for c in after[..end].chars() {
            out.push(if c == '\n' { '\n' } else { ' ' });
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn shift(node: &mut Node, lines: u32, offset: usize) {
    node.start.line += lines;
    node.start.offset += offset;
    node.end.line += lines;
    node.end.offset += offset;
    match &mut node.kind {
        yaml::NodeKind::Scalar(..) => {}
        yaml::NodeKind::Seq(items) => items.iter_mut().for_each(|n| shift(n, lines, offset)),
        yaml::NodeKind::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            shift(k, lines, offset);
            shift(v, lines, offset);
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_keeps_text_as_written() {
        let s =
            split("---\nid: a\n<!-- note: x -->\ndate: 2026-01-23\nversion: 1.0\n---\n# Title\n")
                .unwrap();
        let m = s.meta.unwrap();
        assert_eq!(m.get("date").unwrap().as_str(), Some("2026-01-23"));
        assert_eq!(m.get("version").unwrap().as_str(), Some("1.0"));
        assert_eq!(m.get("version").unwrap().start.line, 5);
        assert_eq!(s.body, "# Title\n");
        assert_eq!(s.body_line, 7);
    }

    #[test]
    fn errors() {
        assert_eq!(
            split("# no front matter\n").unwrap_err(),
            FrontMatterError::Missing
        );
        assert_eq!(
            split("---\nid: a\n").unwrap_err(),
            FrontMatterError::Unterminated
        );
        match split("---\nid: [a\n---\n").unwrap_err() {
            FrontMatterError::Yaml(_, pos) => assert!(pos.line >= 2),
            e => panic!("{e:?}"),
        }
    }
}
