//! The contract's DNS names: host suffixes, host names within the limits,
//! and the ownership TXT records ExternalDNS reads.

use super::*;

impl Contract<'_> {
    /// The persistent host suffix: `{env}.{domain}` unless the environment
    /// overrides it.
    pub fn persistent_host_suffix(&self) -> String {
        let env = self.platform.environment(&self.env);
        match env.and_then(|e| e.host_suffix.as_ref()) {
            Some(s) => s.value.clone(),
            None => format!("{}.{}", self.env, self.platform.spec.domain.value),
        }
    }

    /// `{env}.{domain}` (or the override) or `b-{B}.{env}.{domain}`.
    pub fn host_suffix(&self) -> String {
        self.suffix.clone()
    }

    /// The full name of a host of this deployment, checked: every label
    /// 1-63 bytes of `[a-z0-9-]`, at most 253 bytes, the ownership TXT name
    /// fits, and an ephemeral host lies under the build's own suffix.
    pub fn hostname(&self, relative: &str, record: RecordType) -> Result<String, ContractError> {
        let mut fqdn = String::with_capacity(relative.len() + 1 + self.suffix.len());
        fqdn.push_str(relative);
        fqdn.push('.');
        fqdn.push_str(&self.suffix);
        self.check_host(&fqdn, record)?;
        Ok(fqdn)
    }

    /// The persistent deployment's name for a host, as a build refers to a
    /// persistent-only service (e.g. Keycloak).
    pub fn persistent_hostname(&self, relative: &str) -> Result<String, ContractError> {
        let fqdn = format!("{relative}.{}", self.persistent_host_suffix());
        names::check_name(&fqdn)?;
        Ok(fqdn)
    }

    /// Checks a full name this deployment would publish.
    pub fn check_host(&self, fqdn: &str, record: RecordType) -> Result<(), ContractError> {
        names::check_host_name(fqdn)?;
        if let Some(b) = self.build_id() {
            let suffix = &self.suffix;
            if !names::is_under(fqdn, suffix) || fqdn == suffix {
                return Err(ContractError::OutsideSuffix {
                    host: fqdn.into(),
                    build: b,
                    suffix: suffix.clone(),
                });
            }
        }
        let txt = self.txt_owner_name(fqdn, record);
        if let Err(e) = names::check_record_name(&txt) {
            let reason = match e {
                NameError::LabelTooLong { len, .. } => {
                    format!(
                        "its first label is {len} bytes, the limit is {}",
                        names::MAX_LABEL
                    )
                }
                NameError::NameTooLong { len, .. } => {
                    format!("it is {len} bytes, the limit is {}", names::MAX_NAME)
                }
                other => other.to_string(),
            };
            return Err(ContractError::TxtOverflow {
                host: fqdn.into(),
                txt,
                reason,
            });
        }
        Ok(())
    }

    /// ExternalDNS's ownership TXT name for a record, as its affix name
    /// mapper writes it: `{prefix}{type}-{leftmost}{suffix}.{rest}`; with
    /// `%{record_type}` in the prefix or the suffix, the type goes there
    /// instead; a leading `*` becomes `txtWildcardReplacement` when set.
    pub fn txt_owner_name(&self, fqdn: &str, record: RecordType) -> String {
        const TYPE: &str = "%{record_type}";
        let dns = &self.platform.spec.dns;
        let rtype = record.lower();
        // The affixes are copied only when they carry the type.
        fn affix<'a>(a: &'a str, rtype: &str) -> std::borrow::Cow<'a, str> {
            if a.contains(TYPE) {
                a.replace(TYPE, rtype).into()
            } else {
                a.into()
            }
        }
        let (prefix, suffix) = (affix(&dns.txt_prefix, rtype), affix(&dns.txt_suffix, rtype));
        let templated = dns.txt_prefix.contains(TYPE) || dns.txt_suffix.contains(TYPE);
        let (leftmost, rest) = match fqdn.split_once('.') {
            Some((l, r)) => (l, Some(r)),
            None => (fqdn, None),
        };
        let first = if leftmost == "*" && !dns.txt_wildcard_replacement.is_empty() {
            dns.txt_wildcard_replacement.as_str()
        } else {
            leftmost
        };
        let mut name = String::with_capacity(prefix.len() + suffix.len() + fqdn.len() + 8);
        name.push_str(&prefix);
        if !templated {
            name.push_str(rtype);
            name.push('-');
        }
        name.push_str(first);
        name.push_str(&suffix);
        if let Some(r) = rest {
            name.push('.');
            name.push_str(r);
        }
        name
    }

    /// The TXT name ExternalDNS before 0.12 wrote (and 0.14 still writes
    /// beside the new one): `{prefix}{name}`, or with a suffix
    /// `{leftmost}{suffix}.{rest}`. Read as ownership too.
    pub fn legacy_txt_owner_name(&self, fqdn: &str) -> String {
        let dns = &self.platform.spec.dns;
        let prefix = dns.txt_prefix.replace("%{record_type}", "");
        let suffix = dns.txt_suffix.replace("%{record_type}", "");
        if suffix.is_empty() {
            return format!("{prefix}{fqdn}");
        }
        match fqdn.split_once('.') {
            Some((l, r)) => format!("{l}{suffix}.{r}"),
            None => format!("{fqdn}{suffix}"),
        }
    }

    /// The TXT value that marks a record as owned by this deployment.
    pub fn txt_owner_value(&self, component: &str) -> String {
        format!(
            "heritage=external-dns,external-dns/owner={},external-dns/resource=goldenpath/{component}",
            self.dns_owner_id()
        )
    }

    /// `{prefix}-{env}` or `{prefix}-{env}-{B}`.
    pub fn dns_owner_id(&self) -> String {
        self.name_prefix()
    }
}
