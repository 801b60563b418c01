//! Records, changes, and ExternalDNS's ownership rules.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One resource record. Names are lower-case and without the trailing dot.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Rr {
    /// Owner name.
    pub name: String,
    /// `A`, `AAAA`, `CNAME`, `TXT`, `SOA`, `NS`, ...
    pub rtype: String,
    /// TTL in seconds.
    pub ttl: u32,
    /// The data: an address, a target name (no trailing dot), the text of a
    /// TXT record (unquoted), or the presentation form for other types.
    pub value: String,
}

impl fmt::Display for Rr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.name, self.rtype, self.value)
    }
}

/// One atomic change to the zone, with the prerequisites that make a
/// concurrent change fail it instead of being overwritten.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Add a record and its ownership TXT; both RRsets must not exist.
    Create {
        /// The record.
        record: Rr,
        /// Its TXT.
        txt: Rr,
        /// The legacy-format TXT too (`txtLegacy: true`); its RRset must
        /// not exist either.
        legacy: Option<Rr>,
    },
    /// Replace a record we own; our TXT must still be there, the old RRset
    /// must be as we saw it.
    Update {
        /// What is there now.
        old: Vec<Rr>,
        /// What replaces it.
        new: Rr,
        /// Our TXT (a prerequisite).
        txt: Rr,
    },
    /// Remove a record we own and its TXT; our TXT must still be there.
    Delete {
        /// The RRset.
        records: Vec<Rr>,
        /// Our TXT.
        txt: Rr,
        /// Our legacy-format TXT, when the zone holds exactly it.
        legacy: Option<Rr>,
    },
}

/// The delete of a record we own, sent without the zone having been read
/// ([`crate::Backend::apply_unread`]): applied only while the record's
/// RRset exists, our ownership TXT is exactly there and the legacy name
/// holds no TXT — what a read of the zone would have found before deleting
/// the same RRsets. Anything else, and the server refuses the batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnreadDelete {
    /// The record's name.
    pub fqdn: String,
    /// Its type (`A`, `AAAA`, `CNAME`).
    pub rtype: String,
    /// Our ownership TXT, exactly.
    pub txt: Rr,
    /// The legacy-format TXT name, when the contract has one apart from
    /// the TXT's: it must hold no TXT.
    pub legacy: Option<String>,
}

/// The value ExternalDNS writes in an ownership TXT, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ownership {
    /// `external-dns/owner`.
    pub owner: String,
    /// `external-dns/resource`, if present.
    pub resource: Option<String>,
}

/// Parses `"heritage=external-dns,external-dns/owner=X,external-dns/resource=Y"`.
pub fn parse_ownership(txt: &str) -> Option<Ownership> {
    let txt = txt.trim_matches('"');
    let mut heritage = false;
    let mut owner = None;
    let mut resource = None;
    for part in txt.split(',') {
        match part.split_once('=') {
            Some(("heritage", "external-dns")) => heritage = true,
            Some(("external-dns/owner", o)) => owner = Some(o.to_string()),
            Some(("external-dns/resource", r)) => resource = Some(r.to_string()),
            _ => {}
        }
    }
    if !heritage {
        return None;
    }
    owner.map(|owner| Ownership { owner, resource })
}

/// A record goldenpath wants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Desired {
    /// Full name.
    pub fqdn: String,
    /// `A`, `AAAA` or `CNAME`.
    #[serde(rename = "type")]
    pub rtype: String,
    /// Address or target name.
    pub target: String,
    /// Its ownership TXT name.
    pub txt_name: String,
    /// The TXT name older ExternalDNS versions wrote (read as ownership).
    #[serde(default)]
    pub legacy_txt_name: String,
    /// Its ownership TXT value.
    pub txt_value: String,
}

/// What to do about one desired record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Nothing there: create it.
    Create,
    /// Ours and different: replace.
    Update(Vec<Rr>),
    /// Ours and equal.
    Unchanged,
    /// Not ours (another owner, or no ownership TXT): never touched.
    Conflict(String),
}

/// A zone's records indexed by name: deciding about a thousand records
/// looks each name up once instead of scanning the zone per record.
pub struct Zone<'a> {
    by_name: std::collections::HashMap<&'a str, Vec<&'a Rr>>,
}

impl<'a> Zone<'a> {
    /// The index of `records`.
    pub fn new(records: &'a [Rr]) -> Self {
        let mut by_name: std::collections::HashMap<&'a str, Vec<&'a Rr>> =
            std::collections::HashMap::with_capacity(records.len());
        for r in records {
            by_name.entry(r.name.as_str()).or_default().push(r);
        }
        Self { by_name }
    }

    /// The records at `name`.
    pub fn at(&self, name: &str) -> impl Iterator<Item = &'a Rr> + '_ {
        self.by_name.get(name).into_iter().flatten().copied()
    }
}

/// Decides what to do about `want`, owned by `owner`, given the zone.
pub fn decide(want: &Desired, zone: &Zone<'_>, owner: &str) -> Decision {
    let rrset: Vec<Rr> = zone
        .at(&want.fqdn)
        .filter(|r| r.rtype == want.rtype)
        .cloned()
        .collect();
    // A CNAME cannot live beside other data at the same name.
    let other_at_name: Vec<&Rr> = zone
        .at(&want.fqdn)
        .filter(|r| r.rtype != want.rtype && (r.rtype == "CNAME" || want.rtype == "CNAME"))
        .collect();
    let txt: Vec<&Rr> = zone
        .at(&want.txt_name)
        .filter(|r| r.rtype == "TXT")
        .collect();
    // The legacy format's TXT (at the record's own name without a prefix)
    // counts only when it is an ownership record.
    let legacy: Vec<Ownership> =
        if want.legacy_txt_name.is_empty() || want.legacy_txt_name == want.txt_name {
            Vec::new()
        } else {
            zone.at(&want.legacy_txt_name)
                .filter(|r| r.rtype == "TXT")
                .filter_map(|t| parse_ownership(&t.value))
                .collect()
        };
    let owners: Vec<Option<Ownership>> = txt
        .iter()
        .map(|t| parse_ownership(&t.value))
        .chain(legacy.into_iter().map(Some))
        .collect();
    let ours = owners
        .iter()
        .any(|o| o.as_ref().is_some_and(|o| o.owner == owner));
    if let Some(other) = owners.iter().flatten().find(|o| o.owner != owner) {
        return Decision::Conflict(format!(
            "{} {} is owned by {}",
            want.fqdn, want.rtype, other.owner
        ));
    }
    if !ours {
        if !rrset.is_empty() || !other_at_name.is_empty() {
            return Decision::Conflict(format!(
                "{} already has records without an ownership TXT; they belong to someone else",
                want.fqdn
            ));
        }
        if !txt.is_empty() {
            return Decision::Conflict(format!(
                "{} holds a TXT record goldenpath does not own",
                want.txt_name
            ));
        }
        return Decision::Create;
    }
    if rrset.len() == 1 && rrset[0].value == want.target {
        Decision::Unchanged
    } else {
        Decision::Update(rrset)
    }
}

/// The legacy-format TXT to write beside a new record, when `txtLegacy` is
/// on: none when its name is the new TXT's, when it would sit beside a
/// CNAME at the record's own name (DNS forbids it; ExternalDNS needs a
/// prefix there too), or when a TXT RRset is already at that name (an SPF
/// record, say: never appended to).
pub fn legacy_to_write(want: &Desired, zone: &Zone<'_>, ttl: u32) -> Option<Rr> {
    let name = &want.legacy_txt_name;
    if name.is_empty()
        || *name == want.txt_name
        || (*name == want.fqdn && want.rtype == "CNAME")
        || zone.at(name).any(|r| r.rtype == "TXT")
    {
        return None;
    }
    Some(Rr {
        name: name.clone(),
        rtype: "TXT".into(),
        ttl,
        value: want.txt_value.clone(),
    })
}

/// The legacy-format TXT to remove with a record: only an RRset that is
/// exactly our one ownership value (what goldenpath or our own ExternalDNS
/// wrote), never one holding anything else.
pub fn legacy_to_delete(
    legacy_name: &str,
    txt_name: &str,
    zone: &Zone<'_>,
    value: &str,
) -> Option<Rr> {
    if legacy_name.is_empty() || legacy_name == txt_name {
        return None;
    }
    let set: Vec<&Rr> = zone.at(legacy_name).filter(|r| r.rtype == "TXT").collect();
    match set.as_slice() {
        [only] if only.value == value => Some((*only).clone()),
        _ => None,
    }
}

/// Whether `zone` holds `want` as ours.
pub fn is_ours(fqdn: &str, rtype: &str, txt_name: &str, zone: &Zone<'_>, owner: &str) -> bool {
    zone.at(fqdn).any(|r| r.rtype == rtype)
        && zone
            .at(txt_name)
            .filter(|r| r.rtype == "TXT")
            .any(|t| parse_ownership(&t.value).is_some_and(|o| o.owner == owner))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rr(name: &str, rtype: &str, value: &str) -> Rr {
        Rr {
            name: name.into(),
            rtype: rtype.into(),
            ttl: 300,
            value: value.into(),
        }
    }

    fn want() -> Desired {
        Desired {
            fqdn: "app.b-1.dev.x.io".into(),
            rtype: "A".into(),
            target: "10.0.0.1".into(),
            txt_name: "a-app.b-1.dev.x.io".into(),
            legacy_txt_name: String::new(),
            txt_value:
                "heritage=external-dns,external-dns/owner=me,external-dns/resource=goldenpath/app"
                    .into(),
        }
    }

    #[test]
    fn ownership_decides() {
        let txt = |o: &str| {
            rr(
                "a-app.b-1.dev.x.io",
                "TXT",
                &format!("heritage=external-dns,external-dns/owner={o}"),
            )
        };
        assert_eq!(decide(&want(), &Zone::new(&[]), "me"), Decision::Create);
        assert_eq!(
            decide(
                &want(),
                &Zone::new(&[rr("app.b-1.dev.x.io", "A", "10.0.0.1"), txt("me")]),
                "me"
            ),
            Decision::Unchanged
        );
        assert!(matches!(
            decide(
                &want(),
                &Zone::new(&[rr("app.b-1.dev.x.io", "A", "10.0.0.9"), txt("me")]),
                "me"
            ),
            Decision::Update(_)
        ));
        assert!(
            matches!(decide(&want(), &Zone::new(&[rr("app.b-1.dev.x.io", "A", "10.0.0.1"), txt("other")]), "me"), Decision::Conflict(m) if m.contains("owned by other"))
        );
        assert!(matches!(
            decide(
                &want(),
                &Zone::new(&[rr("app.b-1.dev.x.io", "A", "10.0.0.1")]),
                "me"
            ),
            Decision::Conflict(_)
        ));
        assert!(matches!(
            decide(
                &want(),
                &Zone::new(&[rr("app.b-1.dev.x.io", "CNAME", "lb.x.io")]),
                "me"
            ),
            Decision::Conflict(_)
        ));
    }

    fn txt_of(owner: &str) -> Rr {
        rr(
            "a-app.b-1.dev.x.io",
            "TXT",
            &format!("heritage=external-dns,external-dns/owner={owner}"),
        )
    }

    #[test]
    fn another_owners_txt_beside_ours_is_a_conflict_never_an_update() {
        for zone in [
            vec![
                rr("app.b-1.dev.x.io", "A", "10.0.0.9"),
                txt_of("me"),
                txt_of("them"),
            ],
            vec![
                rr("app.b-1.dev.x.io", "A", "10.0.0.1"),
                txt_of("them"),
                txt_of("me"),
            ],
        ] {
            assert!(
                matches!(decide(&want(), &Zone::new(&zone), "me"), Decision::Conflict(m) if m.contains("owned by them")),
                "{zone:?}"
            );
        }
    }

    #[test]
    fn a_txt_that_is_no_ownership_record_is_not_ours() {
        let spf = rr("a-app.b-1.dev.x.io", "TXT", "v=spf1 -all");
        // Alone at the TXT name: refused, never overwritten.
        assert!(
            matches!(decide(&want(), &Zone::new(std::slice::from_ref(&spf)), "me"), Decision::Conflict(m) if m.contains("does not own"))
        );
        // Beside our own, the record is still ours.
        assert_eq!(
            decide(
                &want(),
                &Zone::new(&[rr("app.b-1.dev.x.io", "A", "10.0.0.1"), txt_of("me"), spf]),
                "me"
            ),
            Decision::Unchanged
        );
    }

    #[test]
    fn a_second_record_of_ours_at_the_name_is_an_update_to_one() {
        let zone = [
            rr("app.b-1.dev.x.io", "A", "10.0.0.1"),
            rr("app.b-1.dev.x.io", "A", "10.0.0.2"),
            txt_of("me"),
        ];
        assert_eq!(
            decide(&want(), &Zone::new(&zone), "me"),
            Decision::Update(vec![zone[0].clone(), zone[1].clone()])
        );
        // Records of another type at the name are not the RRset.
        let zone = [rr("app.b-1.dev.x.io", "AAAA", "::1"), txt_of("me")];
        assert_eq!(
            decide(&want(), &Zone::new(&zone), "me"),
            Decision::Update(vec![])
        );
    }

    #[test]
    fn the_legacy_txt_counts_only_as_an_ownership_record() {
        let mut w = want();
        w.legacy_txt_name = "app.b-1.dev.x.io".into();
        let legacy = |v: &str| rr("app.b-1.dev.x.io", "TXT", v);
        let a = rr("app.b-1.dev.x.io", "A", "10.0.0.1");
        // Ours in the legacy format only: ours.
        assert_eq!(
            decide(
                &w,
                &Zone::new(&[
                    a.clone(),
                    legacy("heritage=external-dns,external-dns/owner=me")
                ]),
                "me"
            ),
            Decision::Unchanged
        );
        // Another owner's legacy TXT: theirs.
        assert!(matches!(
            decide(
                &w,
                &Zone::new(&[
                    a.clone(),
                    legacy("heritage=external-dns,external-dns/owner=them")
                ]),
                "me"
            ),
            Decision::Conflict(_)
        ));
        // A plain TXT at the record's name says nothing of ownership.
        assert!(matches!(
            decide(&w, &Zone::new(&[a.clone(), legacy("v=spf1 -all")]), "me"),
            Decision::Conflict(m) if m.contains("without an ownership TXT")
        ));
        // When the legacy name is the TXT name, it is read once, as the TXT.
        let mut same = want();
        same.legacy_txt_name = same.txt_name.clone();
        assert_eq!(
            decide(&same, &Zone::new(&[a, txt_of("me")]), "me"),
            Decision::Unchanged
        );
    }

    #[test]
    fn a_cname_never_lives_beside_other_data() {
        let mut w = want();
        w.rtype = "CNAME".into();
        w.target = "lb.x.io".into();
        assert!(matches!(
            decide(
                &w,
                &Zone::new(&[rr("app.b-1.dev.x.io", "A", "10.0.0.1")]),
                "me"
            ),
            Decision::Conflict(_)
        ));
        // Data of another type beside an A is no conflict by itself.
        assert_eq!(
            decide(
                &want(),
                &Zone::new(&[rr("app.b-1.dev.x.io", "MX", "10 mx.x.io")]),
                "me"
            ),
            Decision::Create
        );
    }

    #[test]
    fn what_is_written_and_removed_beside_a_record_in_the_legacy_format() {
        let mut w = want();
        w.legacy_txt_name = "app.b-1.dev.x.io".into();
        assert_eq!(
            legacy_to_write(&w, &Zone::new(&[]), 60).map(|r| (r.name, r.value)),
            Some(("app.b-1.dev.x.io".to_string(), w.txt_value.clone()))
        );
        // Never appended to a TXT RRset already there.
        assert_eq!(
            legacy_to_write(
                &w,
                &Zone::new(&[rr("app.b-1.dev.x.io", "TXT", "v=spf1")]),
                60
            ),
            None
        );
        // Never beside a CNAME at its own name.
        let mut c = w.clone();
        c.rtype = "CNAME".into();
        assert_eq!(legacy_to_write(&c, &Zone::new(&[]), 60), None);
        // Not when it is the TXT name, or none.
        let mut same = want();
        same.legacy_txt_name = same.txt_name.clone();
        assert_eq!(legacy_to_write(&same, &Zone::new(&[]), 60), None);
        assert_eq!(legacy_to_write(&want(), &Zone::new(&[]), 60), None);
        // Removed only when it is exactly our one value.
        let ours = rr("app.b-1.dev.x.io", "TXT", &w.txt_value);
        assert_eq!(
            legacy_to_delete(
                &w.legacy_txt_name,
                &w.txt_name,
                &Zone::new(std::slice::from_ref(&ours)),
                &w.txt_value
            ),
            Some(ours.clone())
        );
        let spf = rr("app.b-1.dev.x.io", "TXT", "v=spf1");
        assert_eq!(
            legacy_to_delete(
                &w.legacy_txt_name,
                &w.txt_name,
                &Zone::new(&[ours, spf.clone()]),
                &w.txt_value
            ),
            None
        );
        assert_eq!(
            legacy_to_delete(
                &w.legacy_txt_name,
                &w.txt_name,
                &Zone::new(&[spf]),
                &w.txt_value
            ),
            None
        );
        assert_eq!(
            legacy_to_delete("", &w.txt_name, &Zone::new(&[]), &w.txt_value),
            None
        );
        assert_eq!(
            legacy_to_delete(&w.txt_name, &w.txt_name, &Zone::new(&[]), &w.txt_value),
            None
        );
        // When the legacy name is the TXT name, the ownership TXT there is
        // removed as itself, never a second time (Route 53 refuses a batch
        // deleting one record twice).
        let own = rr(&w.txt_name, "TXT", &w.txt_value);
        assert_eq!(
            legacy_to_delete(&w.txt_name, &w.txt_name, &Zone::new(&[own]), &w.txt_value),
            None
        );
    }

    #[test]
    fn ours_needs_the_record_and_our_ownership_txt() {
        let a = rr("app.b-1.dev.x.io", "A", "10.0.0.1");
        let is = |zone: &[Rr], owner: &str| {
            is_ours(
                "app.b-1.dev.x.io",
                "A",
                "a-app.b-1.dev.x.io",
                &Zone::new(zone),
                owner,
            )
        };
        assert!(is(&[a.clone(), txt_of("me")], "me"));
        assert!(!is(&[a.clone(), txt_of("them")], "me"));
        assert!(!is(std::slice::from_ref(&a), "me"));
        assert!(!is(&[txt_of("me")], "me"));
        assert!(!is(
            &[rr("app.b-1.dev.x.io", "AAAA", "::1"), txt_of("me")],
            "me"
        ));
    }

    #[test]
    fn ownership_needs_the_heritage_and_an_owner() {
        assert_eq!(parse_ownership("external-dns/owner=me"), None);
        assert_eq!(parse_ownership("heritage=external-dns"), None);
        assert_eq!(
            parse_ownership("heritage=external-dns,external-dns/owner=me"),
            Some(Ownership {
                owner: "me".into(),
                resource: None
            })
        );
        assert_eq!(
            parse_ownership("heritage=other,external-dns/owner=me"),
            None
        );
    }

    #[test]
    fn parses_external_dns_txt() {
        let o = parse_ownership("\"heritage=external-dns,external-dns/owner=gp-dev,external-dns/resource=ingress/ns/x\"").unwrap();
        assert_eq!(o.owner, "gp-dev");
        assert_eq!(o.resource.as_deref(), Some("ingress/ns/x"));
        assert!(parse_ownership("v=spf1 -all").is_none());
    }
}
