//! DNS name rules shared by the spec checks and the contract.

/// The longest DNS label, in bytes.
pub const MAX_LABEL: usize = 63;
/// The longest DNS name, in bytes (without the trailing dot).
pub const MAX_NAME: usize = 253;

/// Why a name is not a valid DNS name for goldenpath.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// A label longer than 63 bytes.
    #[error("label `{label}` of `{name}` is {len} bytes; a DNS label is at most {MAX_LABEL} bytes")]
    LabelTooLong {
        /// The whole name.
        name: String,
        /// The offending label.
        label: String,
        /// Its length.
        len: usize,
    },
    /// A name longer than 253 bytes.
    #[error("`{name}` is {len} bytes; a DNS name is at most {MAX_NAME} bytes")]
    NameTooLong {
        /// The whole name.
        name: String,
        /// Its length.
        len: usize,
    },
    /// An empty label (`a..b`, leading or trailing dot).
    #[error("`{name}` has an empty label")]
    EmptyLabel {
        /// The whole name.
        name: String,
    },
    /// A character outside `[a-z0-9-]`, or a hyphen at either end.
    #[error(
        "label `{label}` of `{name}` is not allowed: use lower-case letters, digits and `-`, not starting or ending with `-`"
    )]
    BadLabel {
        /// The whole name.
        name: String,
        /// The offending label.
        label: String,
    },
}

/// Checks one label: 1-63 bytes of `[a-z0-9-]`, not starting or ending
/// with `-`. `name` is the whole name, for the message.
pub fn check_label(label: &str, name: &str) -> Result<(), NameError> {
    if label.is_empty() {
        return Err(NameError::EmptyLabel { name: name.into() });
    }
    if label.len() > MAX_LABEL {
        return Err(NameError::LabelTooLong {
            name: name.into(),
            label: label.into(),
            len: label.len(),
        });
    }
    let ok = label
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-');
    if !ok {
        return Err(NameError::BadLabel {
            name: name.into(),
            label: label.into(),
        });
    }
    Ok(())
}

/// Checks a whole DNS name: every label, and at most 253 bytes.
pub fn check_name(name: &str) -> Result<(), NameError> {
    if name.len() > MAX_NAME {
        return Err(NameError::NameTooLong {
            name: name.into(),
            len: name.len(),
        });
    }
    for label in name.split('.') {
        check_label(label, name)?;
    }
    Ok(())
}

/// A host name: [`check_name`], except that the first label may be `*` (a
/// wildcard record).
pub fn check_host_name(name: &str) -> Result<(), NameError> {
    match name.strip_prefix("*.") {
        Some(rest) => check_name(rest),
        None if name == "*" => Ok(()),
        None => check_name(name),
    }
}

/// A DNS name whose labels may also hold `_` (TXT and service names:
/// `_external_dns.a-api.example.io`) and `*` (a wildcard, or ExternalDNS's
/// `a-*` TXT label). The length limits are the same.
pub fn check_record_name(name: &str) -> Result<(), NameError> {
    if name.len() > MAX_NAME {
        return Err(NameError::NameTooLong {
            name: name.into(),
            len: name.len(),
        });
    }
    for (i, label) in name.split('.').enumerate() {
        if i == 0 && label == "*" {
            continue;
        }
        if label.len() > MAX_LABEL {
            return Err(NameError::LabelTooLong {
                label: label.into(),
                name: name.into(),
                len: label.len(),
            });
        }
        // ExternalDNS writes `a-*` for a wildcard without a replacement:
        // `_` and `*` are letters here (checked in place, nothing copied).
        let ok = !label.is_empty()
            && label.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'*')
            })
            && !label.ends_with('-')
            && !label.starts_with('-');
        if !ok {
            return Err(NameError::BadLabel {
                label: label.into(),
                name: name.into(),
            });
        }
    }
    Ok(())
}

/// Whether `name` is `suffix` or lies under it.
pub fn is_under(name: &str, suffix: &str) -> bool {
    name == suffix
        || (name.len() > suffix.len()
            && name.ends_with(suffix)
            && name.as_bytes()[name.len() - suffix.len() - 1] == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert!(check_label("backstage", "x").is_ok());
        assert!(check_label("b-23-01-26-01", "x").is_ok());
        assert!(matches!(
            check_label(&"a".repeat(64), "x"),
            Err(NameError::LabelTooLong { len: 64, .. })
        ));
        assert!(check_label(&"a".repeat(63), "x").is_ok());
        for bad in ["Bad", "a_b", "-a", "a-", "é"] {
            assert!(
                matches!(check_label(bad, "x"), Err(NameError::BadLabel { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn names() {
        let long = format!("{}.io", vec!["a".repeat(50); 5].join("."));
        assert_eq!(long.len(), 257);
        assert!(matches!(
            check_name(&long),
            Err(NameError::NameTooLong { .. })
        ));
        assert!(matches!(
            check_name("a..b"),
            Err(NameError::EmptyLabel { .. })
        ));
        assert!(is_under("x.dev.example.io", "dev.example.io"));
        assert!(is_under("dev.example.io", "dev.example.io"));
        assert!(!is_under("xdev.example.io", "dev.example.io"));
    }

    /// A name of exactly `len` bytes of valid labels.
    fn name_of(len: usize) -> String {
        let mut labels = Vec::new();
        let mut left = len;
        while left > 0 {
            // A label and its dot, leaving no label of length 0.
            let take = if left > 63 { 62 } else { left };
            labels.push("a".repeat(take));
            left -= take;
            // The dot before the next label.
            left = left.saturating_sub(1);
        }
        let n = labels.join(".");
        assert_eq!(n.len(), len);
        n
    }

    #[test]
    fn a_name_of_253_bytes_is_the_longest() {
        assert!(check_name(&name_of(253)).is_ok());
        assert!(matches!(
            check_name(&name_of(254)),
            Err(NameError::NameTooLong { len: 254, .. })
        ));
        assert!(check_record_name(&name_of(253)).is_ok());
        assert!(matches!(
            check_record_name(&name_of(254)),
            Err(NameError::NameTooLong { len: 254, .. })
        ));
    }

    #[test]
    fn a_host_may_be_a_wildcard_in_its_first_label_only() {
        assert!(check_host_name("*").is_ok());
        assert!(check_host_name("*.dev.example.io").is_ok());
        assert!(check_host_name("api.dev.example.io").is_ok());
        assert!(check_host_name("a.*.example.io").is_err());
        assert!(check_host_name("*x.example.io").is_err());
        assert!(check_host_name("Api.example.io").is_err());
    }

    #[test]
    fn record_names_take_underscores_and_wildcards_within_the_limits() {
        for ok in [
            "_external_dns.a-api.example.io",
            "a-*.dev.example.io",
            "*.dev.example.io",
            "*",
            "_-x.example.io",
        ] {
            assert!(check_record_name(ok).is_ok(), "{ok}");
        }
        // A 63-byte label is the longest, also for record names.
        assert!(check_record_name(&format!("{}.io", "a".repeat(63))).is_ok());
        assert!(matches!(
            check_record_name(&format!("{}.io", "a".repeat(64))),
            Err(NameError::LabelTooLong { len: 64, .. })
        ));
        // A wildcard only as the whole first label; after that a `*` label
        // is a label like any other, checked.
        assert!(check_record_name("a.*.io").is_ok());
        for bad in [
            "",
            "a..io",
            "A.io",
            "a-.io",
            "-a.io",
            "a b.io",
            "a.io-",
            "-_a.io",
            "a_-.io",
            "a\u{e9}_.io",
            "a.b.c\u{2a}\u{301}",
        ] {
            assert!(
                matches!(check_record_name(bad), Err(NameError::BadLabel { .. })),
                "{bad}"
            );
        }
        // The first label `*` is skipped, the others still checked.
        assert!(check_record_name("*.A.io").is_err());
    }

    #[test]
    fn under_is_at_a_label_boundary_and_not_shorter_than_the_suffix() {
        assert!(!is_under("io", "example.io"));
        assert!(!is_under("example.io", "x.example.io"));
        assert!(is_under("a.example.io", "example.io"));
        assert!(!is_under(".example.io", "x.example.io"));
    }
}
