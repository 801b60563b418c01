//! Request ids: `PREFIX-NNNN` (`RDS-0007`, `S3-0001`, `SEC-0012`,
//! `ECR-0003`), unique across every kind and file; the next free one of a
//! kind is one past the highest in use (files and registry alike, so an id
//! whose file was deleted is never handed out again).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::diag::Diagnostic;
use crate::yaml::Spanned;

use super::kind::{At, RequestKind};

/// A request id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId {
    /// Its kind (the prefix).
    pub kind: RequestKind,
    /// Its number, 1 to 9999.
    pub number: u16,
}

/// The highest number an id can carry.
pub const MAX: u16 = 9999;

impl RequestId {
    /// `PREFIX-NNNN` exactly: a kind's prefix and four digits.
    pub fn parse(s: &str) -> Option<RequestId> {
        RequestKind::ALL.into_iter().find_map(|kind| {
            let digits = s.strip_prefix(kind.id_prefix())?;
            (digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| digits.parse().ok())
                .flatten()
                .map(|number| RequestId { kind, number })
        })
    }

    /// The next free id of `kind`: one past the highest of that kind in
    /// `used` (ids of other kinds, and text that is no id, are ignored);
    /// `None` when 9999 is taken.
    pub fn next_free<'a>(
        kind: RequestKind,
        used: impl IntoIterator<Item = &'a str>,
    ) -> Option<RequestId> {
        let highest = used
            .into_iter()
            .filter_map(RequestId::parse)
            .filter(|id| id.kind == kind)
            .map(|id| id.number)
            .max()
            .unwrap_or(0);
        (highest < MAX).then_some(RequestId {
            kind,
            number: highest + 1,
        })
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:04}", self.kind.id_prefix(), self.number)
    }
}

/// Why a file's id is not one of its kind, positioned.
pub(crate) fn problems(kind: RequestKind, id: &Spanned<String>, at: &At<'_>) -> Vec<Diagnostic> {
    match RequestId::parse(&id.value) {
        Some(parsed) if parsed.kind == kind => Vec::new(),
        _ => vec![at.at(
            id.start,
            format!(
                "invalid id `{}`: a {} request's id is {p}NNNN, e.g. {p}0001",
                id.value.escape_debug(),
                kind.noun(),
                p = kind.id_prefix()
            ),
        )],
    }
}

/// Ids held by more than one file: each such id with its files, in order.
pub fn duplicates(
    files: impl IntoIterator<Item = (String, PathBuf)>,
) -> Vec<(String, Vec<PathBuf>)> {
    let mut by_id: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for (id, path) in files {
        by_id.entry(id).or_default().push(path);
    }
    by_id.into_iter().filter(|(_, f)| f.len() > 1).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_only_in_their_exact_form() {
        let id = RequestId::parse("SEC-0012").unwrap();
        assert_eq!((id.kind, id.number), (RequestKind::Secret, 12));
        assert_eq!(id.to_string(), "SEC-0012");
        for bad in [
            "SEC-12",
            "SEC-00120",
            "sec-0012",
            "SEC0012",
            "XYZ-0001",
            "S3-00a1",
            "",
            "RDS-",
        ] {
            assert_eq!(RequestId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_next_free_id_is_past_the_highest_of_its_kind() {
        let used = ["RDS-0002", "RDS-0009", "S3-0040", "notes", "RDS-12"];
        assert_eq!(
            RequestId::next_free(RequestKind::Database, used)
                .unwrap()
                .to_string(),
            "RDS-0010"
        );
        assert_eq!(
            RequestId::next_free(RequestKind::Bucket, used)
                .unwrap()
                .to_string(),
            "S3-0041"
        );
        assert_eq!(
            RequestId::next_free(RequestKind::Repository, used)
                .unwrap()
                .to_string(),
            "ECR-0001"
        );
        assert_eq!(
            RequestId::next_free(RequestKind::Secret, ["SEC-9999"]),
            None,
            "no id past 9999"
        );
    }

    #[test]
    fn duplicates_name_every_file_of_an_id() {
        let d = duplicates([
            ("RDS-0001".to_string(), PathBuf::from("a.yaml")),
            ("RDS-0002".to_string(), PathBuf::from("b.yaml")),
            ("RDS-0001".to_string(), PathBuf::from("c/d.yaml")),
        ]);
        assert_eq!(
            d,
            vec![(
                "RDS-0001".to_string(),
                vec![PathBuf::from("a.yaml"), PathBuf::from("c/d.yaml")]
            )]
        );
        assert!(duplicates([("S3-0001".to_string(), PathBuf::from("a"))]).is_empty());
    }

    #[test]
    fn an_id_of_another_kind_is_a_problem_at_its_position() {
        let text = "id: S3-0001\n";
        let at = At::new("x.yaml".as_ref(), text);
        let id = Spanned {
            value: "S3-0001".to_string(),
            start: crate::yaml::Pos {
                line: 1,
                col: 5,
                offset: 4,
            },
            end: Default::default(),
        };
        let p = problems(RequestKind::Database, &id, &at);
        assert_eq!(p.len(), 1);
        assert!(p[0].message.contains("RDS-NNNN"), "{}", p[0].message);
        assert!(problems(RequestKind::Bucket, &id, &at).is_empty());
    }
}
