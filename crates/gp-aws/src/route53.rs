//! The `route53` backend of the `dns` driver.
//!
//! Records and their ownership TXTs are written as ExternalDNS writes them
//! (plain RRsets, one quoted TXT string), so the cluster's ExternalDNS and
//! goldenpath read each other's ownership. A batch of the driver's changes
//! becomes `ChangeResourceRecordSets` requests of at most 1,000 changes
//! (and 32,000 characters of values), each atomic: a record's changes and
//! its TXT's always travel in the same request. Prerequisites are DELETEs
//! of what was seen (Route 53 refuses a DELETE that does not match exactly
//! and a CREATE of a name that exists), so a concurrent change fails the
//! request and nothing of it is applied. After each request the backend
//! waits for `INSYNC`, up to a deadline. Requests go through a client-side
//! limit (Route 53 allows 5 per second per account) and the SDK's retries
//! with backoff on `Throttling` and `PriorRequestNotComplete`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_route53::Client;
use aws_sdk_route53::types::{
    Change as AwsChange, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord,
    ResourceRecordSet, RrType,
};
use gp_driver::DriverError;
use gp_driver_dns::Backend;
use gp_driver_dns::model::{Change, Rr};

use crate::{Aws, describe_error};

/// Changes per `ChangeResourceRecordSets` (Route 53's limit).
pub const MAX_CHANGES: usize = 1000;
/// Characters of record values per request (Route 53's limit).
pub const MAX_VALUE_CHARS: usize = 32_000;

/// Where the zone is and how to talk to it.
#[derive(Clone, Debug)]
pub struct Route53Settings {
    /// The hosted zone id (`Z0...` or `/hostedzone/Z0...`); `None`: found
    /// by the zone's name.
    pub hosted_zone_id: Option<String>,
    /// The zone's name (`goldenpathidp.io`).
    pub zone: String,
    /// The SDK's region (Route 53 is global; `None`: the chain's, else
    /// `us-east-1`).
    pub region: Option<String>,
    /// Requests per second, at most (default 5).
    pub requests_per_second: f64,
    /// How long to wait for a change to be `INSYNC`.
    pub sync_timeout: Duration,
}

/// A Route 53 hosted zone.
pub struct Route53 {
    aws: Arc<Aws>,
    settings: Route53Settings,
    client: std::sync::OnceLock<Client>,
    zone_id: std::sync::OnceLock<String>,
}

/// The process-wide request limiter: the earliest time the next request
/// may start.
fn limiter() -> &'static Mutex<Instant> {
    static NEXT: std::sync::OnceLock<Mutex<Instant>> = std::sync::OnceLock::new();
    NEXT.get_or_init(|| Mutex::new(Instant::now()))
}

impl Route53 {
    /// A backend for the zone in `settings`. Nothing is called yet.
    pub fn new(settings: Route53Settings) -> Result<Self, DriverError> {
        let region = settings.region.clone().or_else(|| {
            std::env::var("AWS_REGION")
                .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
                .ok()
                .filter(|r| !r.is_empty())
                .or_else(|| Some("us-east-1".into()))
        });
        Ok(Self {
            aws: Aws::shared(region.as_deref()).map_err(DriverError::configuration)?,
            settings,
            client: std::sync::OnceLock::new(),
            zone_id: std::sync::OnceLock::new(),
        })
    }

    fn client(&self) -> Result<&Client, DriverError> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let config = self
            .aws
            .config()
            .map_err(|e| DriverError::configuration(format!("Route 53: {e}")))?;
        Ok(self.client.get_or_init(|| Client::new(config)))
    }

    /// Waits for the client-side rate limit.
    fn pace(&self) {
        let gap = Duration::from_secs_f64(1.0 / self.settings.requests_per_second.max(0.1));
        let wait = {
            let mut next = limiter().lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let start = (*next).max(now);
            *next = start + gap;
            start - now
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    fn fail(&self, what: &str, why: String) -> DriverError {
        DriverError::retryable(format!(
            "Route 53 zone {}: cannot {what}: {why}",
            self.settings.zone
        ))
    }

    /// The hosted zone id, without the `/hostedzone/` prefix.
    pub fn zone_id(&self) -> Result<String, DriverError> {
        if let Some(id) = self.zone_id.get() {
            return Ok(id.clone());
        }
        let id = match &self.settings.hosted_zone_id {
            Some(id) => id.trim_start_matches("/hostedzone/").to_string(),
            None => {
                let c = self.client()?;
                self.pace();
                let out = self
                    .aws
                    .block_on(
                        c.list_hosted_zones_by_name()
                            .dns_name(&self.settings.zone)
                            .max_items(10)
                            .send(),
                    )
                    .map_err(|e| self.fail("find the hosted zone", describe_error(&e)))?;
                let want = format!("{}.", self.settings.zone.trim_end_matches('.'));
                let found: Vec<&aws_sdk_route53::types::HostedZone> = out
                    .hosted_zones()
                    .iter()
                    .filter(|z| z.name().eq_ignore_ascii_case(&want))
                    .filter(|z| !z.config().is_some_and(|c| c.private_zone()))
                    .collect();
                match found.as_slice() {
                    [one] => one.id().trim_start_matches("/hostedzone/").to_string(),
                    [] => {
                        return Err(DriverError::configuration(format!(
                            "no public Route 53 hosted zone is named {}",
                            self.settings.zone
                        ))
                        .with_hint("create it, or set hostedZoneId"));
                    }
                    _ => {
                        return Err(DriverError::configuration(format!(
                            "{} public hosted zones are named {}: set hostedZoneId",
                            found.len(),
                            self.settings.zone
                        )));
                    }
                }
            }
        };
        Ok(self.zone_id.get_or_init(|| id).clone())
    }

    fn rrset(&self, rrs: &[&Rr]) -> Result<ResourceRecordSet, DriverError> {
        let first = rrs
            .first()
            .ok_or_else(|| DriverError::permanent("an empty record set"))?;
        let records = rrs
            .iter()
            .map(|r| {
                ResourceRecord::builder()
                    .value(to_route53_value(&r.rtype, &r.value))
                    .build()
                    .map_err(|e| DriverError::permanent(format!("record {r}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        ResourceRecordSet::builder()
            .name(format!("{}.", first.name.trim_end_matches('.')))
            .r#type(RrType::from(first.rtype.as_str()))
            .ttl(i64::from(first.ttl))
            .set_resource_records(Some(records))
            .build()
            .map_err(|e| DriverError::permanent(format!("record {first}: {e}")))
    }

    fn change(&self, action: ChangeAction, rrs: &[&Rr]) -> Result<AwsChange, DriverError> {
        AwsChange::builder()
            .action(action)
            .resource_record_set(self.rrset(rrs)?)
            .build()
            .map_err(|e| DriverError::permanent(e.to_string()))
    }

    /// The Route 53 changes of one driver change, in order.
    fn changes_of(&self, c: &Change) -> Result<Vec<AwsChange>, DriverError> {
        Ok(match c {
            Change::Create {
                record,
                txt,
                legacy,
            } => {
                let mut v = vec![
                    self.change(ChangeAction::Create, &[record])?,
                    self.change(ChangeAction::Create, &[txt])?,
                ];
                if let Some(l) = legacy {
                    v.push(self.change(ChangeAction::Create, &[l])?);
                }
                v
            }
            Change::Update { old, new, txt } => {
                let old: Vec<&Rr> = old.iter().collect();
                vec![
                    self.change(ChangeAction::Delete, &old)?,
                    self.change(ChangeAction::Create, &[new])?,
                    // Our TXT must still be ours: deleting exactly it and
                    // writing it back fails the request if it changed.
                    self.change(ChangeAction::Delete, &[txt])?,
                    self.change(ChangeAction::Create, &[txt])?,
                ]
            }
            Change::Delete {
                records,
                txt,
                legacy,
            } => {
                let records: Vec<&Rr> = records.iter().collect();
                let mut v = vec![
                    self.change(ChangeAction::Delete, &records)?,
                    self.change(ChangeAction::Delete, &[txt])?,
                ];
                if let Some(l) = legacy {
                    v.push(self.change(ChangeAction::Delete, &[l])?);
                }
                v
            }
        })
    }

    fn send(&self, changes: Vec<AwsChange>) -> Result<(), DriverError> {
        let c = self.client()?;
        let zone = self.zone_id()?;
        let n = changes.len();
        let batch = ChangeBatch::builder()
            .set_changes(Some(changes))
            .comment("goldenpath")
            .build()
            .map_err(|e| DriverError::permanent(e.to_string()))?;
        self.pace();
        let out = self
            .aws
            .block_on(
                c.change_resource_record_sets()
                    .hosted_zone_id(&zone)
                    .change_batch(batch)
                    .send(),
            )
            .map_err(|e| {
                let invalid = e
                    .as_service_error()
                    .is_some_and(|s| s.is_invalid_change_batch());
                if invalid {
                    DriverError::refused(format!(
                        "concurrent change detected in {} ({}): the batch of {n} changes was not applied",
                        self.settings.zone,
                        describe_error(&e)
                    ))
                    .with_hint("run the command again: goldenpath re-reads the zone and decides anew")
                } else {
                    self.fail("change records", describe_error(&e))
                }
            })?;
        let Some(info) = out.change_info() else {
            return Ok(());
        };
        let id = info.id().to_string();
        let mut status = info.status().clone();
        let deadline = Instant::now() + self.settings.sync_timeout;
        let mut delay = Duration::from_millis(500);
        while status != ChangeStatus::Insync {
            if Instant::now() >= deadline {
                return Err(DriverError::retryable(format!(
                    "Route 53 change {id} in {} was not INSYNC after {}s",
                    self.settings.zone,
                    self.settings.sync_timeout.as_secs()
                ))
                .with_hint("the change was accepted; run again to check it"));
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_secs(5));
            self.pace();
            let got = self
                .aws
                .block_on(c.get_change().id(&id).send())
                .map_err(|e| self.fail("read the change status", describe_error(&e)))?;
            status = got
                .change_info()
                .map(|i| i.status().clone())
                .unwrap_or(ChangeStatus::Insync);
        }
        Ok(())
    }
}

impl Backend for Route53 {
    fn list(&self) -> Result<Vec<Rr>, DriverError> {
        let c = self.client()?;
        let zone = self.zone_id()?;
        let mut out = Vec::new();
        let mut next: Option<(String, RrType, Option<String>)> = None;
        loop {
            let mut req = c
                .list_resource_record_sets()
                .hosted_zone_id(&zone)
                .max_items(300);
            if let Some((name, ty, ident)) = next.take() {
                req = req
                    .start_record_name(name)
                    .start_record_type(ty)
                    .set_start_record_identifier(ident);
            }
            self.pace();
            let page = self
                .aws
                .block_on(req.send())
                .map_err(|e| self.fail("list records", describe_error(&e)))?;
            for set in page.resource_record_sets() {
                let name = from_route53_name(set.name());
                let rtype = set.r#type().as_str().to_string();
                let ttl = u32::try_from(set.ttl().unwrap_or(0)).unwrap_or(u32::MAX);
                if let Some(alias) = set.alias_target() {
                    out.push(Rr {
                        name,
                        rtype,
                        ttl,
                        value: format!("ALIAS {}", alias.dns_name().trim_end_matches('.')),
                    });
                    continue;
                }
                for r in set.resource_records() {
                    out.push(Rr {
                        name: name.clone(),
                        rtype: rtype.clone(),
                        ttl,
                        value: from_route53_value(&rtype, r.value()),
                    });
                }
            }
            if !page.is_truncated() {
                break;
            }
            match (page.next_record_name(), page.next_record_type()) {
                (Some(n), Some(t)) => {
                    next = Some((
                        n.to_string(),
                        t.clone(),
                        page.next_record_identifier().map(str::to_string),
                    ))
                }
                _ => break,
            }
        }
        Ok(out)
    }

    fn apply(&self, changes: &[Change]) -> Result<(), DriverError> {
        let mut batch: Vec<AwsChange> = Vec::new();
        let mut chars = 0usize;
        for c in changes {
            let group = self.changes_of(c)?;
            let group_chars: usize = group.iter().map(value_chars).sum();
            if !batch.is_empty()
                && (batch.len() + group.len() > MAX_CHANGES
                    || chars + group_chars > MAX_VALUE_CHARS)
            {
                self.send(std::mem::take(&mut batch))?;
                chars = 0;
            }
            chars += group_chars;
            batch.extend(group);
        }
        if !batch.is_empty() {
            self.send(batch)?;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        match &self.settings.hosted_zone_id {
            Some(id) => format!("Route 53 hosted zone {id} ({})", self.settings.zone),
            None => format!("Route 53 hosted zone {}", self.settings.zone),
        }
    }
}

fn value_chars(c: &AwsChange) -> usize {
    c.resource_record_set()
        .map(|s| s.resource_records().iter().map(|r| r.value().len()).sum())
        .unwrap_or(0)
}

/// A Route 53 name as the driver writes names: lower case, no trailing
/// dot, `\052` (and other octal escapes) decoded.
pub fn from_route53_name(name: &str) -> String {
    let name = name.trim_end_matches('.');
    let mut out = String::with_capacity(name.len());
    let b = name.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let code = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            if let Some(ch) = char::from_u32(code) {
                out.push(ch);
            }
            i += 4;
            continue;
        }
        out.push(b[i] as char);
        i += 1;
    }
    out.to_ascii_lowercase()
}

/// A Route 53 value as the driver's [`Rr`] holds it: a TXT's quoted
/// strings joined, a name without its trailing dot.
pub fn from_route53_value(rtype: &str, value: &str) -> String {
    match rtype {
        "TXT" | "SPF" => unquote_txt(value),
        "CNAME" | "NS" | "PTR" => value.trim_end_matches('.').to_ascii_lowercase(),
        _ => value.to_string(),
    }
}

/// The driver's value in Route 53's form: a TXT in quoted strings of at
/// most 255 bytes, a name with its trailing dot.
pub fn to_route53_value(rtype: &str, value: &str) -> String {
    match rtype {
        "TXT" | "SPF" => {
            let mut chunks = Vec::new();
            let mut rest = value;
            loop {
                let mut cut = rest.len().min(255);
                while !rest.is_char_boundary(cut) {
                    cut -= 1;
                }
                let (head, tail) = rest.split_at(cut);
                chunks.push(format!(
                    "\"{}\"",
                    head.replace('\\', "\\\\").replace('"', "\\\"")
                ));
                rest = tail;
                if rest.is_empty() {
                    break;
                }
            }
            chunks.join(" ")
        }
        "CNAME" | "NS" | "PTR" => format!("{}.", value.trim_end_matches('.')),
        _ => value.to_string(),
    }
}

/// The text of `"a" "b"` (Route 53's TXT form): `ab`, escapes decoded.
fn unquote_txt(value: &str) -> String {
    let mut out = String::new();
    let mut chars = value.chars().peekable();
    let mut quoted = false;
    let mut any_quote = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                any_quote = true;
            }
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            c if quoted => out.push(c),
            _ => {}
        }
    }
    if any_quote { out } else { value.to_string() }
}

/// The DNS driver's factory for this backend: reads the zone component's
/// outputs.
pub fn factory() -> gp_driver_dns::BackendFactory {
    Arc::new(|zone: &gp_driver::Outputs| {
        let s = |k: &str| {
            zone.get(k)
                .and_then(|v| v.as_str())
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let settings = Route53Settings {
            hosted_zone_id: s("hostedZoneId"),
            zone: s("zone").unwrap_or_default(),
            region: s("region"),
            requests_per_second: zone
                .get("requestsPerSecond")
                .and_then(|v| v.as_f64())
                .unwrap_or(5.0),
            sync_timeout: Duration::from_secs(
                zone.get("syncTimeout")
                    .and_then(|v| v.as_u64())
                    .unwrap_or(300),
            ),
        };
        Ok(Box::new(Route53::new(settings)?) as Box<dyn Backend>)
    })
}

/// The DNS driver's permissions for this backend: the zone found by its
/// name (an API that names no zone), its records read, and changes only
/// to the names the deployment's records take (Route 53's condition on
/// normalized record names).
pub fn permissions() -> gp_driver_dns::Route53Permissions {
    Arc::new(|scope: &gp_driver_dns::Route53Scope<'_>| {
        use crate::iam::actions;
        use gp_core::iam::Grant;
        let zone = format!(
            "arn:aws:route53:::hostedzone/{}",
            scope
                .hosted_zone_id
                .map(|z| z.trim_start_matches("/hostedzone/").to_string())
                .unwrap_or_else(|| "*".into())
        );
        let has = actions("route53.rs", scope.access, "route53");
        let mut out = Vec::new();
        if has.contains("route53:ListHostedZonesByName") {
            out.push(Grant::unscoped(
                "Route53FindZone",
                ["route53:ListHostedZonesByName"],
            ));
        }
        if has.contains("route53:ListResourceRecordSets") {
            out.push(Grant::new(
                "Route53ReadRecords",
                ["route53:ListResourceRecordSets"],
                [zone.clone()],
            ));
        }
        if has.contains("route53:ChangeResourceRecordSets") {
            // A record removed is a change like any other.
            out.push(
                Grant::new(
                    "Route53ChangeRecordsOfTheDeployment",
                    ["route53:ChangeResourceRecordSets"],
                    [zone],
                )
                .when(
                    "ForAllValues:StringLike",
                    "route53:ChangeResourceRecordSetsNormalizedRecordNames",
                    scope.names.clone(),
                ),
            );
        }
        if has.contains("route53:GetChange") {
            out.push(Grant::new(
                "Route53WaitForChanges",
                ["route53:GetChange"],
                ["arn:aws:route53:::change/*"],
            ));
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        let own = "heritage=external-dns,external-dns/owner=goldenpath-dev-b1,external-dns/resource=goldenpath/argocd";
        assert_eq!(to_route53_value("TXT", own), format!("\"{own}\""));
        assert_eq!(
            from_route53_value("TXT", &to_route53_value("TXT", own)),
            own
        );
        let long = "x".repeat(600);
        let q = to_route53_value("TXT", &long);
        assert_eq!(q.matches('"').count(), 6);
        assert_eq!(from_route53_value("TXT", &q), long);
        assert_eq!(from_route53_value("TXT", "\"a\\\"b\" \"c\""), "a\"bc");
        assert_eq!(
            to_route53_value("CNAME", "lb.example.com"),
            "lb.example.com."
        );
        assert_eq!(
            from_route53_value("CNAME", "LB.example.com."),
            "lb.example.com"
        );
        assert_eq!(
            from_route53_name("\\052.Apps.example.io."),
            "*.apps.example.io"
        );
    }
}
