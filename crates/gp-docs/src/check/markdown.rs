//! Rules on Markdown bodies: bare URLs (read by a CommonMark parser) and
//! emoji.

/// Bare URLs in a Markdown body, as (line, column, URL), 1-based, the
/// column in characters. The body is read by a CommonMark parser, so code
/// spans, fenced and indented code, autolinks, links (text and destination)
/// and HTML are what the parser says they are. Linear in the body's length.
pub(crate) fn bare_urls(body: &str) -> Vec<(u32, u32, &str)> {
    // The last URL is searched from the end with memchr's substring
    // search (the standard library's searches a reversed pattern slowly).
    match memchr::memmem::rfind(body.as_bytes(), b"://") {
        None => Vec::new(),
        Some(last) => urls_in(body, deciding_part(body, last)),
    }
}

/// The part of `body` that decides what the text up to byte `last` is:
/// the body up to the first blank line after `last`'s line, unless a link
/// reference definition may follow it (the rest holds `]:`), else the
/// whole body.
///
/// What the text before a blank line is never depends on the lines after
/// it, but for a reference definition (which makes `[text][label]` and
/// `[label]` before it links): code spans, emphasis, links, inline HTML
/// and paragraphs end at a blank line; a fenced code block or an HTML
/// block open at the cut runs to the end of the part as it would run past
/// the cut, and one closed before it is closed in both; a container's
/// later lines do not change its earlier ones. A `\r`-only line ending is
/// not split on, so such a body is read whole.
fn deciding_part(body: &str, last: usize) -> &str {
    let Some(eol) = body[last..].find('\n') else {
        return body;
    };
    let mut at = last + eol + 1;
    while at < body.len() {
        let end = body[at..].find('\n').map_or(body.len(), |i| at + i + 1);
        let line = body[at..end].trim_end_matches(['\n', '\r']);
        if line.bytes().all(|b| b == b' ' || b == b'\t') {
            return if body[end..].contains("]:") {
                body
            } else {
                &body[..end]
            };
        }
        at = end;
    }
    body
}

/// The bare URLs of `body` found by parsing `part`, a prefix of it.
fn urls_in<'a>(body: &'a str, part: &str) -> Vec<(u32, u32, &'a str)> {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let mut offsets = Vec::new();
    let mut in_link = 0usize;
    let mut in_code = 0usize;
    for (event, range) in Parser::new_ext(part, Options::empty()).into_offset_iter() {
        match event {
            Event::Start(Tag::Link { .. } | Tag::Image { .. }) => in_link += 1,
            Event::End(TagEnd::Link | TagEnd::Image) => in_link = in_link.saturating_sub(1),
            Event::Start(Tag::CodeBlock(_)) => in_code += 1,
            Event::End(TagEnd::CodeBlock) => in_code = in_code.saturating_sub(1),
            Event::Text(text) if in_link == 0 && in_code == 0 => {
                // Text events map to their source range unless escapes
                // were resolved; only a verbatim range is searched.
                let source = &part[range.clone()];
                if source != text.as_ref() {
                    continue;
                }
                for (at, _) in source.match_indices("://") {
                    let scheme = &source[..at];
                    let start = ["https", "http", "ftp"]
                        .iter()
                        .find(|s| scheme.ends_with(*s))
                        .map(|s| at - s.len());
                    if let Some(start) = start {
                        offsets.push(range.start + start);
                    }
                }
            }
            _ => {}
        }
    }
    offsets.sort_unstable();
    offsets.dedup();
    // One forward pass turns offsets into line and column.
    let mut out = Vec::with_capacity(offsets.len());
    let url_at = |off: usize| {
        let rest = &body[off..];
        let end = rest
            .find(|c: char| {
                c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | '\'' | '`')
            })
            .unwrap_or(rest.len());
        rest[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']'])
    };
    let (mut line, mut cursor, mut col) = (1u32, 0usize, 1u32);
    for off in offsets {
        for c in body[cursor..off].chars() {
            if c == '\n' {
                line += 1;
                col = 1;
            } else {
                col += 1;
            }
        }
        cursor = off;
        out.push((line, col, url_at(off)));
    }
    out
}

/// One emoji (a cluster: base, variation selectors, joiners, modifiers).
pub(crate) struct Emoji {
    pub text: String,
    pub line: u32,
    pub col: u32,
    pub byte: usize,
    pub len: usize,
}

pub(crate) fn is_emoji(c: char) -> bool {
    let u = c as u32;
    matches!(u,
        0x1F000..=0x1FAFF
        | 0x2600..=0x27BF
        | 0x2B50 | 0x2B55 | 0x2B1B | 0x2B1C | 0x2B05..=0x2B07
        | 0x231A | 0x231B | 0x23E9..=0x23F3 | 0x23F8..=0x23FA
        | 0x3030 | 0x303D | 0x3297 | 0x3299)
}

pub(crate) fn find_emoji(text: &str) -> Vec<Emoji> {
    let mut out = Vec::new();
    if text.is_ascii() {
        return out;
    }
    // Emoji are never ASCII: lines of ASCII only (most of any document)
    // are stepped over whole.
    let mut at = 0;
    for (n, l) in text.split_inclusive('\n').enumerate() {
        if !l.is_ascii() {
            let line = u32::try_from(n + 1).unwrap_or(u32::MAX);
            out.extend(emoji_of_line(l, line, at));
        }
        at += l.len();
    }
    out
}

/// The emoji of one line (its text from its first byte, at `offset` in the
/// document).
fn emoji_of_line(text: &str, line: u32, offset: usize) -> Vec<Emoji> {
    let mut out = Vec::new();
    let mut col = 1u32;
    let mut iter = text.char_indices().peekable();
    while let Some((byte, c)) = iter.next() {
        if c == '\n' {
            break;
        }
        if is_emoji(c) {
            let mut s = c.to_string();
            let mut len = c.len_utf8();
            let start_col = col;
            while let Some(&(_, n)) = iter.peek() {
                let u = n as u32;
                let joins = u == 0xFE0F || u == 0x200D || (0x1F3FB..=0x1F3FF).contains(&u);
                let after_zwj = s.ends_with('\u{200D}') && is_emoji(n);
                if joins || after_zwj {
                    s.push(n);
                    len += n.len_utf8();
                    col += 1;
                    iter.next();
                } else {
                    break;
                }
            }
            out.push(Emoji {
                text: s,
                line,
                col: start_col,
                byte: offset + byte,
                len,
            });
        }
        col += 1;
    }
    out
}

pub(crate) fn allowed(set: &[String], emoji: &str) -> bool {
    let bare = emoji.replace('\u{FE0F}', "");
    set.iter()
        .any(|a| a == emoji || a.replace('\u{FE0F}', "") == bare)
}

#[cfg(test)]
mod emoji_tests {
    use super::find_emoji;

    #[test]
    fn emoji_are_found_at_their_line_column_and_byte_on_ascii_and_other_lines() {
        let text = "plain ascii line\r\ncafé 🚀 here ✅\n\n👩\u{200D}💻x 👍🏽\nlast 🎉";
        let found: Vec<(String, u32, u32)> = find_emoji(text)
            .into_iter()
            .map(|e| {
                // The bytes it names are its text.
                assert_eq!(&text[e.byte..e.byte + e.len], e.text);
                (e.text, e.line, e.col)
            })
            .collect();
        assert_eq!(
            found,
            vec![
                ("🚀".to_string(), 2, 6),
                ("✅".to_string(), 2, 13),
                ("👩\u{200D}💻".to_string(), 4, 1),
                ("👍🏽".to_string(), 4, 6),
                ("🎉".to_string(), 5, 6),
            ]
        );
        assert!(find_emoji("only ascii\nhere\n").is_empty());
        assert!(find_emoji("").is_empty());
        assert!(find_emoji("é ü ß\n").is_empty());
    }
}

#[cfg(test)]
mod bare_url_tests {
    use super::{bare_urls, deciding_part, urls_in};

    /// Lines that change how the lines around them are read: fences, HTML
    /// blocks across blank lines, containers, code spans left open, link
    /// reference definitions and the references they resolve, autolinks,
    /// indented code, setext underlines, escapes, `\r\n` and `\r`-only
    /// endings, blank lines of spaces and tabs.
    const PIECES: &[&str] = &[
        "",
        "   \t",
        "plain text",
        "a bare https://a.example/x here",
        "http://b.example, ftp://c.example.",
        "```",
        "~~~sh",
        "    indented https://code.example",
        "<!-- a comment https://comment.example",
        "-->",
        "<pre>",
        "</pre>",
        "<div>",
        "- a list item https://item.example",
        "  continued https://continued.example",
        "> quoted https://quote.example",
        "1. numbered",
        "`open code span https://span.example",
        "closing` after",
        "[see https://ref.example][r]",
        "[r]",
        "[r]: https://dest.example",
        "[r]: /dest",
        "[R]: <dest> \"title\"",
        "   [see https://r2.example]:\n/two",
        "[see https://r2.example]",
        "[s]:\n  https://dest2.example",
        "[text](https://link.example) and <https://auto.example>",
        "===",
        "\\https://escaped.example",
        "line with crlf https://crlf.example\r",
        "cr only\r\rhttps://cr.example",
        "[unclosed https://bracket.example",
        "]",
    ];

    /// Bodies of 1 to 14 pieces, the same on every run.
    fn bodies(n: usize) -> impl Iterator<Item = String> {
        let mut rng = gp_test::Rng(0x9E37_79B9_7F4A_7C15);
        (0..n).map(move |_| {
            // Any pieces, then as often as not a tail without URLs (where
            // the part can end early): blank lines, text, fences, HTML,
            // containers and now and then a definition.
            let len = 1 + rng.below(8);
            let tail = if rng.below(2) == 0 { rng.below(7) } else { 0 };
            let mut body = String::new();
            for _ in 0..len {
                let piece: &&str = rng.pick(PIECES);
                body.push_str(piece);
                body.push('\n');
            }
            for _ in 0..tail {
                let piece = loop {
                    let p = *rng.pick(PIECES);
                    if !p.contains("://") {
                        break p;
                    }
                };
                body.push_str(piece);
                body.push('\n');
            }
            body
        })
    }

    #[test]
    fn reading_the_deciding_part_finds_what_reading_the_whole_body_finds() {
        let (mut cut, mut whole) = (0, 0);
        for body in bodies(40_000) {
            let got = bare_urls(&body);
            let want = match body.rfind("://") {
                Some(_) => urls_in(&body, &body),
                None => Vec::new(),
            };
            assert_eq!(got, want, "{body:?}");
            if let Some(last) = body.rfind("://") {
                if deciding_part(&body, last).len() < body.len() {
                    cut += 1;
                } else {
                    whole += 1;
                }
            }
        }
        // Both sides of the rule ran many times.
        assert!(cut > 3_000 && whole > 3_000, "cut {cut}, whole {whole}");
    }

    #[test]
    fn bare_urls_are_found_outside_code_links_and_html_at_their_line_and_column() {
        let body = concat!(
            "Intro https://a.example/x, then [link https://b.example](https://c.example) and https://d.example.\n",
            "```\n",
            "https://in.fence\n",
            "```\n",
            "caf\u{e9} ftp://e.example\"quoted\" and <https://auto.example> then http://f.example<b> x\n",
            "`https://span.example` x\thttp://g.example\ty\n",
            "http://h.example\u{1}z\n",
        );
        assert_eq!(
            bare_urls(body),
            vec![
                // Trailing punctuation is not part of it; a link's text and
                // destination, a fence, an autolink and a code span hold
                // none; the column counts characters.
                (1, 7, "https://a.example/x"),
                (1, 81, "https://d.example"),
                (5, 6, "ftp://e.example"),
                (5, 62, "http://f.example"),
                (6, 26, "http://g.example"),
                (7, 1, "http://h.example"),
            ]
        );
    }

    #[test]
    fn the_part_ends_at_the_first_blank_line_after_the_last_url_unless_a_definition_may_follow() {
        let body = "a https://x.example\nmore\n \t\nlater\n\nend\n";
        assert_eq!(deciding_part(body, 2), "a https://x.example\nmore\n \t\n");
        // A definition after the cut: the whole body.
        let body = "[see https://x.example][r]\n\n[r]: /dest\n";
        assert_eq!(deciding_part(body, 7), body);
        assert!(bare_urls(body).is_empty());
        // No blank line after it, or none at all: the whole body.
        assert_eq!(deciding_part("a https://x\nb\n", 2), "a https://x\nb\n");
        assert_eq!(deciding_part("a https://x", 2), "a https://x");
        // A line of \r-separated blank lines is not taken for one.
        let body = "a https://x\nb\r\rc\n";
        assert_eq!(deciding_part(body, 2), body);
        // A fence opened after the URL and left open at the cut.
        let body = "see https://x.example\n```\n\n```\nhttps://y.example\n";
        assert_eq!(bare_urls(body).len(), 2);
    }
}
