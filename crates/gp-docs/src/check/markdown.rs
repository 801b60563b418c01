//! Rules on Markdown bodies: bare URLs (read by a CommonMark parser) and
//! emoji.

/// Bare URLs in a Markdown body, as (line, column, URL), 1-based, the
/// column in characters. The body is read by a CommonMark parser, so code
/// spans, fenced and indented code, autolinks, links (text and destination)
/// and HTML are what the parser says they are. Linear in the body's length.
pub(crate) fn bare_urls(body: &str) -> Vec<(u32, u32, &str)> {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    if !body.contains("://") {
        return Vec::new();
    }
    let mut offsets = Vec::new();
    let mut in_link = 0usize;
    let mut in_code = 0usize;
    for (event, range) in Parser::new_ext(body, Options::empty()).into_offset_iter() {
        match event {
            Event::Start(Tag::Link { .. } | Tag::Image { .. }) => in_link += 1,
            Event::End(TagEnd::Link | TagEnd::Image) => in_link = in_link.saturating_sub(1),
            Event::Start(Tag::CodeBlock(_)) => in_code += 1,
            Event::End(TagEnd::CodeBlock) => in_code = in_code.saturating_sub(1),
            Event::Text(text) if in_link == 0 && in_code == 0 => {
                // Text events map to their source range unless escapes
                // were resolved; only a verbatim range is searched.
                let source = &body[range.clone()];
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
