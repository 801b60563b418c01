//! The plainest YAML read directly: a block mapping of simple keys whose
//! values are one-line plain or quoted scalars, one-line flow sequences of
//! plain scalars, empty values and nested mappings of the same, with
//! comments and blank lines — what front matter and folder metadata
//! mostly are. It gives the very tree, positions included, that the full
//! parser gives, or `None` at the first thing it does not read that way
//! (then the full parser reads the document). `tests::*` compare the two
//! over generated documents.

use super::{Keys, MAX_DEPTH, Node, NodeKind, Pos, Style};

/// Longer documents go to the full parser.
const LIMIT: usize = 64 * 1024;

/// A line that is not blank and not a comment.
#[derive(Clone, Copy)]
struct Line<'a> {
    /// Byte offset of the line's first character.
    offset: usize,
    /// 1-based line number.
    number: u32,
    /// Leading spaces.
    indent: usize,
    /// The line after its indentation, without its line ending.
    text: &'a str,
}

impl Line<'_> {
    /// The position of byte `i` of `text` (ASCII: a byte is a column).
    fn pos(&self, i: usize) -> Pos {
        let col = self.indent + i + 1;
        Pos {
            line: self.number,
            col: u32::try_from(col).unwrap_or(u32::MAX),
            offset: self.offset + self.indent + i,
        }
    }
}

/// The document's tree, or `None` when it is not of the plain shape read
/// here (or is empty).
pub(super) fn parse(text: &str) -> Option<Node> {
    // ASCII without tabs, carriage returns or other control characters:
    // a byte is a column, and nothing the full parser treats specially.
    if text.len() > LIMIT
        || !text
            .bytes()
            .all(|b| b == b'\n' || (0x20..0x7f).contains(&b))
    {
        return None;
    }
    let mut lines = Vec::new();
    let mut offset = 0;
    for (n, raw) in text.split('\n').enumerate() {
        let body = raw.trim_start_matches(' ');
        if !body.is_empty() && !body.starts_with('#') {
            lines.push(Line {
                offset,
                number: u32::try_from(n + 1).ok()?,
                indent: raw.len() - body.len(),
                text: body,
            });
        }
        offset += raw.len() + 1;
    }
    let first = *lines.first()?;
    let (root, next) = mapping(&lines, 0, first.indent, 1, end_of(text))?;
    (next == lines.len()).then_some(root)
}

/// The position just past the end of `text`.
fn end_of(text: &str) -> Pos {
    let line = text.bytes().filter(|&b| b == b'\n').count() + 1;
    let col = text.len() - text.rfind('\n').map_or(0, |i| i + 1) + 1;
    Pos {
        line: u32::try_from(line).unwrap_or(u32::MAX),
        col: u32::try_from(col).unwrap_or(u32::MAX),
        offset: text.len(),
    }
}

/// The mapping whose keys are the lines from `i` indented by `indent`:
/// the node and the index of the first line after it. It ends where the
/// first line indented less starts, else at `end` (the end of the text).
fn mapping(
    lines: &[Line<'_>],
    mut i: usize,
    indent: usize,
    depth: usize,
    end: Pos,
) -> Option<(Node, usize)> {
    if depth >= MAX_DEPTH {
        return None;
    }
    let start = lines[i].pos(0);
    let mut entries: Vec<(Node, Node)> = Vec::new();
    let mut keys = Keys::default();
    while let Some(line) = lines.get(i) {
        if line.indent < indent {
            break;
        }
        if line.indent > indent {
            return None;
        }
        let (key, colon) = key(line)?;
        if keys.first(&entries, &line.text[..colon]).is_some() {
            return None;
        }
        let deeper = lines.get(i + 1).filter(|l| l.indent > indent);
        let value_at = line.text.len() - line.text[colon + 1..].trim_start_matches(' ').len();
        let value_text = &line.text[value_at..];
        let value = if value_text.is_empty() || value_text.starts_with('#') {
            match deeper {
                Some(child) => {
                    let (node, next) = mapping(lines, i + 1, child.indent, depth + 1, end)?;
                    i = next;
                    node
                }
                None => {
                    i += 1;
                    // An empty value: `~` where the colon is.
                    Node {
                        kind: NodeKind::Scalar("~".into(), Style::Plain),
                        start: line.pos(colon),
                        end: line.pos(colon),
                    }
                }
            }
        } else {
            // A value on the key's line (a deeper line after it, which
            // would continue it, ends the reading at the loop's top).
            i += 1;
            value(line, value_at)?
        };
        keys.added(&key);
        entries.push((key, value));
    }
    let end = lines.get(i).map_or(end, |l| l.pos(0));
    Some((
        Node {
            kind: NodeKind::Map(entries),
            start,
            end,
        },
        i,
    ))
}

/// A key of letters, digits, `_`, `-`, `.` and `/` (not first) followed by
/// `:` and a space or the end of the line: the key and where its colon is.
fn key(line: &Line<'_>) -> Option<(Node, usize)> {
    let text = line.text;
    let colon = text.find(':')?;
    let name = &text[..colon];
    let mut bytes = name.bytes();
    let first = bytes.next()?;
    if !(first.is_ascii_alphanumeric() || first == b'_')
        || !bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'))
    {
        return None;
    }
    let rest = &text[colon + 1..];
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    Some((
        Node {
            kind: NodeKind::Scalar(name.to_string(), Style::Plain),
            start: line.pos(0),
            end: line.pos(colon),
        },
        colon,
    ))
}

/// What may follow a value on its line: spaces, then a comment or nothing.
fn only_comment(rest: &str) -> bool {
    let trimmed = rest.trim_start_matches(' ');
    trimmed.is_empty() || (trimmed.starts_with('#') && trimmed.len() < rest.len())
}

/// A plain scalar of the shape read here: it starts with a letter, digit
/// or one of `_./(~` (or `-` before a digit), holds no `: ` and does not
/// end with `:`.
fn plain(text: &str, flow: bool) -> bool {
    let b = text.as_bytes();
    let Some(&first) = b.first() else {
        return false;
    };
    let starts = first.is_ascii_alphanumeric()
        || matches!(first, b'_' | b'.' | b'/' | b'(' | b'~')
        || (first == b'-' && b.get(1).is_some_and(u8::is_ascii_digit));
    // `: ` (a mapping) or ` #` (a comment) anywhere, in one pass over the
    // bytes (two substring searches were the check's largest `memcmp`).
    let indicator = b
        .windows(2)
        .any(|w| (w[0] == b':' && w[1] == b' ') || (w[0] == b' ' && w[1] == b'#'));
    if !starts || indicator || text.ends_with(':') {
        return false;
    }
    // In a flow sequence, also none of the flow indicators, quotes or a
    // colon at all.
    !flow
        || !text.bytes().any(|c| {
            matches!(
                c,
                b'[' | b']' | b'{' | b'}' | b',' | b':' | b'"' | b'\'' | b'#'
            )
        })
}

/// The value that starts at byte `at` of the line's text.
fn value(line: &Line<'_>, at: usize) -> Option<Node> {
    let text = &line.text[at..];
    let scalar = |s: &str, style, start: usize, end: usize| Node {
        kind: NodeKind::Scalar(s.to_string(), style),
        start: line.pos(start),
        end: line.pos(end),
    };
    match text.as_bytes()[0] {
        quote @ (b'"' | b'\'') => {
            let close = text[1..].find(quote as char)? + 1;
            let inner = &text[1..close];
            // No escapes, and no doubled quote in single quotes.
            if inner.contains('\\') || !only_comment(&text[close + 1..]) {
                return None;
            }
            Some(scalar(inner, Style::Quoted, at, at + close + 1))
        }
        b'[' => {
            let close = text.find(']')?;
            if !only_comment(&text[close + 1..]) {
                return None;
            }
            let inner = &text[1..close];
            let mut items = Vec::new();
            if !inner.trim_matches(' ').is_empty() {
                let mut from = at + 1;
                for item in inner.split(',') {
                    let lead = item.len() - item.trim_start_matches(' ').len();
                    let word = item.trim_matches(' ');
                    if !plain(word, true) {
                        return None;
                    }
                    items.push(scalar(
                        word,
                        Style::Plain,
                        from + lead,
                        from + lead + word.len(),
                    ));
                    from += item.len() + 1;
                }
            }
            Some(Node {
                kind: NodeKind::Seq(items),
                start: line.pos(at),
                end: line.pos(at + close + 1),
            })
        }
        _ => {
            let word = match text.find(" #") {
                Some(i) => &text[..i],
                None => text,
            }
            .trim_end_matches(' ');
            if !plain(word, false) {
                return None;
            }
            Some(scalar(word, Style::Plain, at, at + word.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_events;
    use super::{LIMIT, parse};

    /// Lines of every shape this reads and of shapes it leaves to the full
    /// parser: indented keys, every kind of value, comments where they may
    /// and may not be, continuations, block sequences, anchors, tags,
    /// escapes, doubled quotes, duplicate keys, tabs, CR, non-ASCII, a
    /// second document, a value that is a mapping on its line.
    const PIECES: &[&str] = &[
        "id: doc-0001",
        "title: Document 1 about platform",
        "type: documentation",
        "version: 1.0",
        "date: 2026-01-28",
        "tags: [platform, docs]",
        "relates_to: [doc-0002, ADR-0003]",
        "empty: []",
        "spaced: [ a ,b  c , d ]",
        "trailing: [a, ]",
        "reliability:",
        "  slo: 99.9",
        "  owner: team-a",
        "    deep: x",
        "  nested:",
        "      deeper: y",
        "status: accepted   # why",
        "note: a # b",
        "hash: a#b",
        "quoted: \"Q q\"",
        "single: 'S s'  # c",
        "escaped: \"a\\\"b\"",
        "escape: \"x\\ty\"",
        "unicode: \"\\u0041\"",
        "backslash: 'a\\b'",
        "doubled: 'it''s'",
        "colon: a: b",
        "url: https://example.com/x",
        "paren: (draft)",
        "tilde: ~",
        "neg: -1",
        "dash: - x",
        "bool: true",
        "nothing:",
        "nothing_comment: # c",
        "# a comment",
        "  # an indented comment",
        "",
        "                           ",
        "- item",
        "  - item",
        "anchor: &a x",
        "alias: *a",
        "tag: !!str 1",
        "block: |",
        "  text",
        "flow_map: {a: 1}",
        "glued:value",
        "space key: x",
        "id: doc-0001",
        "tab:\tx",
        "cr: x\r",
        "caf\u{e9}: x",
        "---",
        "...",
        "apostrophe: Platform's path",
        "brackets: a [b] c",
        "glued: \"x\"#c",
        "glued_single: 'x'#c",
        "glued_seq: [a, b]#c",
        "after_quote: \"x\" y",
        "after_seq: [a] b",
        "tagged: !1 x",
        "anchored: &1 x",
        "aliased: *1",
        "question: ?1",
        "flow_map1: {1: a}",
        "negative: -1.5",
        "dash_word: -x",
        "spaced_key : x",
        "&anchored_key: x",
        "!tagged_key: x",
        "ends: colon:",
        "path/key: v",
        "dotted.key: v",
        "1: one",
    ];

    fn documents(n: usize) -> impl Iterator<Item = String> {
        let mut rng = gp_test::Rng(0x2545_F491_4F6C_DD1D);
        (0..n).map(move |_| {
            let len = 1 + rng.below(10);
            let mut doc = String::new();
            for i in 0..len {
                // Mostly the shapes read here, so that many documents are.
                let piece = if rng.below(3) == 0 {
                    rng.pick(PIECES)
                } else {
                    rng.pick(&PIECES[..20])
                };
                doc.push_str(piece);
                if i + 1 < len || rng.below(2) == 0 {
                    doc.push('\n');
                }
            }
            doc
        })
    }

    #[test]
    fn what_is_read_directly_is_what_the_full_parser_reads() {
        let (mut direct, mut full) = (0, 0);
        for doc in documents(60_000) {
            match parse(&doc) {
                Some(node) => {
                    direct += 1;
                    assert_eq!(parse_events(&doc), Ok(Some(node)), "{doc:?}");
                }
                None => full += 1,
            }
        }
        // Both sides ran many times.
        assert!(
            direct > 5_000 && full > 5_000,
            "direct {direct}, full {full}"
        );
    }

    #[test]
    fn a_plain_scalar_is_one_without_a_mapping_or_comment_indicator() {
        for (text, flow, expected) in [
            ("words and (parens)", false, true),
            ("x#y", false, true),
            ("a:b", false, true),
            ("a: b", false, false),
            (": b", false, false),
            ("a :", false, false),
            ("a:", false, false),
            ("a #b", false, false),
            ("a b #", false, false),
            ("#a", false, false),
            ("a:b", true, false),
            ("a b", true, true),
            ("-1", false, true),
            ("-a", false, false),
            ("", false, false),
        ] {
            assert_eq!(super::plain(text, flow), expected, "{text:?} (flow {flow})");
        }
    }

    #[test]
    fn each_shape_it_reads_is_read_directly() {
        for doc in [
            "a: b\n",
            "_private: x\n9lives: y\nkebab-key: z\ndotted.key: w\npath/key: v\n",
            "  indented: root\n  second: key\n",
            "plain: words and (parens) ~ x#y\n",
            "neg: -1\ntilde: ~\nslash: /path\ndot: .hidden\n",
            "quoted: \"Q q\"  # c\nsingle: 'S s'\n",
            "seq: [a, b c ,d]\nempty: []\nspaced: [ ]\n",
            "null:\nnull_comment: # c\n",
            "nested:\n  inner: 1\n  deeper:\n    most: 2\nback: 3\n",
            "# a comment\n\n   \na: b # c\n  # indented comment\nc: d\n",
            "no_newline: at the end",
        ] {
            let node = parse(doc).unwrap_or_else(|| panic!("not read directly: {doc:?}"));
            assert_eq!(parse_events(doc), Ok(Some(node)), "{doc:?}");
        }
    }

    #[test]
    fn a_long_or_deep_document_goes_to_the_full_parser_which_bounds_it() {
        // Up to the limit (a document of exactly LIMIT bytes), read
        // directly; one byte past it, by the full parser.
        let keys: String = (0..LIMIT / 16).map(|i| format!("k{i}: value\n")).collect();
        let pad = LIMIT - keys.len() - "last: \n".len();
        let exact = format!("{keys}last: {}\n", "x".repeat(pad));
        assert_eq!(exact.len(), LIMIT);
        let node = parse(&exact).expect("read directly");
        assert_eq!(parse_events(&exact), Ok(Some(node)));
        let over = format!("{keys}last: {}\n", "x".repeat(pad + 1));
        assert!(parse(&over).is_none());
        assert!(super::super::parse(&over).is_ok());
        // A value longer than the full parser allows is its error.
        // Left to the full parser, which refuses it with `why`.
        let refused = |text: &str, why: &str| {
            assert!(parse(text).is_none());
            let e = super::super::parse(text).unwrap_err();
            assert!(e.message.contains(why), "{}", e.message);
        };
        refused(
            &format!("a: {}\n", "x".repeat(super::super::MAX_SCALAR + 1)),
            "longer than",
        );
        // Nested deeper than the full parser allows: its error, not a tree.
        // A mapping `levels` deep, each level a key of the one above.
        let nested = |levels: usize| {
            (0..levels)
                .map(|d| format!("{}k{d}:\n", "  ".repeat(d)))
                .collect::<String>()
                + &format!("{}leaf: x\n", "  ".repeat(levels))
        };
        refused(&nested(super::super::MAX_DEPTH + 1), "deeper than");
        // Just within it, read directly.
        let within = nested(super::super::MAX_DEPTH - 2);
        let node = parse(&within).expect("read directly");
        assert_eq!(parse_events(&within), Ok(Some(node)));
    }

    #[test]
    fn a_front_matter_is_read_directly_and_other_shapes_are_not() {
        let front = "id: doc-0895\ntitle: Document 895\ntags: [platform, docs]\nreliability:\n  slo: 99.9\n                    \nlast:\n";
        assert!(parse(front).is_some());
        for other in [
            "",
            "# only a comment\n",
            "a:\n  - x\n",
            "a: b\n  continued\n",
            "a: b\na: c\n",
            "a: \"x\\ty\"\n",
            "a: 'it''s'\n",
            "a: b: c\n",
            "a:\tb\n",
            "a: b\r\n",
            "a: caf\u{e9}\n",
            "a: &x b\n",
            "a: {b: c}\n",
            "- a\n",
        ] {
            assert!(parse(other).is_none(), "{other:?}");
        }
    }
}
