//! RFC 2136 dynamic update with TSIG (HMAC-SHA256), over TCP, with
//! hickory-proto for the messages. Records are listed by AXFR signed with
//! the same key; updates go in batches whose prerequisites make a
//! concurrent change fail the batch instead of being overwritten.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::ops::Range;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gp_core::Secret;
use gp_driver::DriverError;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode, UpdateMessage};
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_proto::rr::rdata::{A, AAAA, CNAME, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType, TSigVerifier, TSigner};

use crate::Backend;
use crate::model::{Change, Rr, UnreadDelete};

/// Changes per UPDATE message (each a record and its TXT).
const BATCH: usize = 200;

/// A zone on a server that takes dynamic updates.
pub struct Rfc2136 {
    server: SocketAddr,
    zone: String,
    key_name: String,
    key: Secret,
    timeout: Duration,
}

impl Rfc2136 {
    /// A backend for `zone` on `server` (`host:port`), signing with the
    /// HMAC-SHA256 key `key_name` whose secret is `key_b64` (base64).
    pub fn new(
        server: &str,
        zone: &str,
        key_name: &str,
        key_b64: &Secret,
    ) -> Result<Self, DriverError> {
        let server = server
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| {
                DriverError::configuration(format!("cannot resolve the DNS server `{server}`"))
            })?;
        Ok(Self {
            server,
            zone: zone.trim_end_matches('.').to_lowercase(),
            key_name: key_name.into(),
            key: key_b64.clone(),
            timeout: Duration::from_secs(15),
        })
    }

    fn signer(&self) -> Result<TSigner, DriverError> {
        use base64::Engine as _;
        let key = base64::engine::general_purpose::STANDARD
            .decode(self.key.expose().trim())
            .ok()
            .ok_or_else(|| {
                DriverError::configuration(format!(
                    "the TSIG secret for key {} is not valid base64",
                    self.key_name
                ))
            })?;
        let name = Name::from_str(&self.key_name).map_err(|e| {
            DriverError::configuration(format!("invalid TSIG key name `{}`: {e}", self.key_name))
        })?;
        TSigner::new(key, TsigAlgorithm::HmacSha256, name, 300).map_err(|e| {
            DriverError::configuration(format!("cannot use TSIG key {}: {e}", self.key_name))
        })
    }

    fn zone_name(&self) -> Result<Name, DriverError> {
        fqdn(&self.zone)
    }

    fn connect(&self) -> Result<TcpStream, DriverError> {
        let stream = TcpStream::connect_timeout(&self.server, self.timeout).map_err(|e| {
            DriverError::retryable(format!("cannot reach the DNS server {}: {e}", self.server))
                .with_hint("check that the server runs and listens on that address (TCP)")
        })?;
        stream.set_read_timeout(Some(self.timeout)).ok();
        stream.set_write_timeout(Some(self.timeout)).ok();
        stream.set_nodelay(true).ok();
        Ok(stream)
    }

    fn io_err(&self, e: std::io::Error) -> DriverError {
        DriverError::retryable(format!("DNS server {}: {e}", self.server))
    }

    fn send(&self, stream: &mut TcpStream, bytes: &[u8]) -> Result<(), DriverError> {
        let len = u16::try_from(bytes.len())
            .map_err(|_| DriverError::permanent("DNS message too large"))?;
        let mut buf = Vec::with_capacity(bytes.len() + 2);
        buf.extend_from_slice(&len.to_be_bytes());
        buf.extend_from_slice(bytes);
        stream.write_all(&buf).map_err(|e| self.io_err(e))
    }

    fn receive(&self, stream: &mut TcpStream) -> Result<Vec<u8>, DriverError> {
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).map_err(|e| self.io_err(e))?;
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut buf).map_err(|e| self.io_err(e))?;
        Ok(buf)
    }

    /// Checks a raw response's code before its signature: a server that
    /// refuses the key answers unsigned.
    fn check_rcode(&self, bytes: &[u8], what: &str) -> Result<Message, DriverError> {
        let m = Message::from_vec(bytes)
            .map_err(|e| DriverError::permanent(format!("unreadable DNS response: {e}")))?;
        let rc = m.metadata.response_code;
        match rc {
            ResponseCode::NoError => Ok(m),
            ResponseCode::NotAuth
            | ResponseCode::BADKEY
            | ResponseCode::BADSIG
            | ResponseCode::BADTIME => {
                let tsig_error = m
                    .signature()
                    .and_then(|s| s.data.error.as_ref().map(|e| format!(" ({e:?})")))
                    .unwrap_or_default();
                Err(DriverError::configuration(format!(
                    "the DNS server {} refused {what}: {rc}{tsig_error}; the TSIG key {} is wrong or not allowed for {}",
                    self.server, self.key_name, self.zone
                ))
                .with_hint("check the key name and secret against the server's configuration (nothing was changed)"))
            }
            ResponseCode::Refused => Err(DriverError::configuration(format!(
                "the DNS server {} refused {what} for {}",
                self.server, self.zone
            ))),
            ResponseCode::YXRRSet
            | ResponseCode::NXRRSet
            | ResponseCode::YXDomain
            | ResponseCode::NXDomain => Err(DriverError::refused(format!(
                "concurrent change detected in {} ({rc}): the batch was not applied",
                self.zone
            ))
            .with_hint("run the command again: goldenpath re-reads the zone and decides anew")),
            ResponseCode::ServFail => Err(DriverError::retryable(format!(
                "the DNS server {} failed {what} (SERVFAIL)",
                self.server
            ))),
            other => Err(DriverError::permanent(format!(
                "the DNS server {} answered {what} with {other}",
                self.server
            ))),
        }
    }

    /// An empty UPDATE message for the zone.
    fn update_message(&self) -> Result<Message, DriverError> {
        let mut m = Message::new(random_id(), MessageType::Query, OpCode::Update);
        let mut zone = Query::new();
        zone.set_name(self.zone_name()?)
            .set_query_class(DNSClass::IN)
            .set_query_type(RecordType::SOA);
        m.add_zone(zone);
        Ok(m)
    }

    /// `message` signed and encoded, with what verifies its answer; `None`
    /// when it is more than the 65,535 bytes one DNS message carries.
    /// hickory drops the records that do not fit (and sets the header's
    /// truncation bit) rather than failing, so a message it encoded
    /// truncated — its signature included — is one that did not fit: never
    /// sent, or the server would apply only part of it.
    fn signed(&self, mut message: Message) -> Result<Option<(Vec<u8>, TSigVerifier)>, DriverError> {
        let signer = self.signer()?;
        message.metadata.id = random_id();
        let verifier = match message.finalize(&signer, now()) {
            Ok(v) => v.ok_or_else(|| DriverError::permanent("no TSIG verifier"))?,
            Err(hickory_proto::ProtoError::MaxBufferSizeExceeded(_)) => return Ok(None),
            Err(e) => {
                return Err(DriverError::permanent(format!(
                    "cannot sign the DNS message: {e}"
                )));
            }
        };
        let bytes = message
            .to_vec()
            .map_err(|e| DriverError::permanent(format!("cannot encode: {e}")))?;
        if truncated(&bytes) {
            return Ok(None);
        }
        Ok(Some((bytes, verifier)))
    }

    fn exchange_signed(
        &self,
        bytes: &[u8],
        mut verifier: TSigVerifier,
        what: &str,
    ) -> Result<Message, DriverError> {
        let mut stream = self.connect()?;
        self.send(&mut stream, bytes)?;
        let resp = self.receive(&mut stream)?;
        self.check_rcode(&resp, what)?;
        verifier.verify(&resp).map_err(|e| {
            DriverError::configuration(format!(
                "the DNS server's answer failed TSIG verification: {e}"
            ))
        })?;
        Message::from_vec(&resp)
            .map_err(|e| DriverError::permanent(format!("unreadable DNS response: {e}")))
    }

    /// `count` changes as UPDATE messages of at most [`BATCH`] each,
    /// `build` making a message of a range of them, every message built
    /// and signed before any is sent; the [`crate::Ready`] exchanges them
    /// in order. A message over the 65,535 bytes DNS carries goes as two of
    /// half as many instead (long enough names and values make 200 changes
    /// too many for one); one change too large for any message is an error
    /// here, with nothing sent. A message is signed at most one exchange
    /// before it goes, well inside TSIG's fudge of 300 seconds.
    fn prepared<'a>(
        &'a self,
        count: usize,
        build: &dyn Fn(Range<usize>) -> Result<Message, DriverError>,
    ) -> Result<crate::Ready<'a>, DriverError> {
        let mut messages = Vec::new();
        let mut start = 0;
        while start < count {
            let end = (start + BATCH).min(count);
            self.signed_range(start..end, build, &mut messages)?;
            start = end;
        }
        Ok(Box::new(move || {
            for (bytes, verifier) in messages {
                self.exchange_signed(&bytes, verifier, "the update")?;
            }
            Ok(())
        }))
    }

    fn too_large() -> DriverError {
        DriverError::permanent("one change is more than the 65,535 bytes a DNS message carries")
    }

    /// The messages of a range of changes, each signed, in the order they
    /// go: a range too large for one message is two of half as many.
    fn signed_range(
        &self,
        range: Range<usize>,
        build: &dyn Fn(Range<usize>) -> Result<Message, DriverError>,
        out: &mut Vec<(Vec<u8>, TSigVerifier)>,
    ) -> Result<(), DriverError> {
        match self.signed(build(range.clone())?)? {
            Some(signed) => out.push(signed),
            None if range.len() > 1 => {
                let middle = range.start + range.len() / 2;
                self.signed_range(range.start..middle, build, out)?;
                self.signed_range(middle..range.end, build, out)?;
            }
            None => return Err(Self::too_large()),
        }
        Ok(())
    }
}

impl Backend for Rfc2136 {
    fn list(&self) -> Result<Vec<Rr>, DriverError> {
        let signer = self.signer()?;
        let mut query = Message::new(random_id(), MessageType::Query, OpCode::Query);
        query.metadata.recursion_desired = false;
        query.add_query(Query::query(self.zone_name()?, RecordType::AXFR));
        let mut verifier = query
            .finalize(&signer, now())
            .map_err(|e| DriverError::permanent(format!("cannot sign the transfer request: {e}")))?
            .ok_or_else(|| DriverError::permanent("no TSIG verifier"))?;
        let bytes = query
            .to_vec()
            .map_err(|e| DriverError::permanent(format!("cannot encode: {e}")))?;
        let mut stream = self.connect()?;
        self.send(&mut stream, &bytes)?;
        let mut out = Vec::new();
        let mut soas = 0;
        while soas < 2 {
            let resp = self.receive(&mut stream)?;
            let m = self.check_rcode(&resp, "the zone transfer")?;
            // Messages after the first may be unsigned (RFC 8945 allows up to
            // 99 between signed ones); verify those that carry a signature.
            if m.signature().is_some() {
                verifier.verify(&resp).map_err(|e| {
                    DriverError::configuration(format!(
                        "the zone transfer failed TSIG verification: {e}"
                    ))
                })?;
            } else if out.is_empty() {
                return Err(DriverError::configuration(
                    "the zone transfer's first message is not signed",
                ));
            }
            if m.answers.is_empty() {
                return Err(DriverError::permanent("the zone transfer ended early"));
            }
            for r in &m.answers {
                if r.record_type() == RecordType::SOA {
                    soas += 1;
                    if soas == 2 {
                        break;
                    }
                }
                out.push(to_rr(r));
            }
        }
        Ok(out)
    }

    fn apply(&self, changes: &[Change]) -> Result<(), DriverError> {
        self.prepare(changes)?()
    }

    /// Every message of the batch built and signed here (200 changes with
    /// their prerequisites are a millisecond or two of CPU), while the
    /// batch before is at the server.
    fn prepare<'a>(&'a self, changes: &'a [Change]) -> Result<crate::Ready<'a>, DriverError> {
        self.prepared(changes.len(), &|range| {
            let mut m = self.update_message()?;
            for c in &changes[range] {
                add_change(&mut m, c)?;
            }
            Ok(m)
        })
    }

    fn batch(&self) -> Option<usize> {
        Some(BATCH)
    }

    fn deletes_unread(&self) -> bool {
        true
    }

    /// Each delete's prerequisites: the record's RRset exists, our TXT is
    /// exactly its RRset, the legacy name holds no TXT; then both RRsets
    /// are deleted. The server applies the message whole or refuses it.
    fn apply_unread(&self, deletes: &[UnreadDelete]) -> Result<(), DriverError> {
        self.prepare_unread(deletes)?()
    }

    fn prepare_unread<'a>(
        &'a self,
        deletes: &'a [UnreadDelete],
    ) -> Result<crate::Ready<'a>, DriverError> {
        self.prepared(deletes.len(), &|range| {
            let mut m = self.update_message()?;
            for d in &deletes[range] {
                add_unread_delete(&mut m, d)?;
            }
            Ok(m)
        })
    }

    fn describe(&self) -> String {
        format!(
            "RFC 2136 updates to {} for {} (TSIG key {})",
            self.server, self.zone, self.key_name
        )
    }
}

/// A change's prerequisites and updates, added to an UPDATE message.
fn add_change(m: &mut Message, c: &Change) -> Result<(), DriverError> {
    match c {
        Change::Create {
            record,
            txt,
            legacy,
        } => {
            m.add_pre_requisite(absent(record)?);
            m.add_pre_requisite(absent(txt)?);
            if let Some(l) = legacy {
                m.add_pre_requisite(absent(l)?);
            }
            m.add_update(to_record(record)?);
            m.add_update(to_record(txt)?);
            if let Some(l) = legacy {
                m.add_update(to_record(l)?);
            }
        }
        Change::Update { old, new, txt } => {
            m.add_pre_requisite(exact(txt)?);
            for o in old {
                m.add_pre_requisite(exact(o)?);
            }
            m.add_update(delete_rrset(new)?);
            m.add_update(to_record(new)?);
        }
        Change::Delete {
            records,
            txt,
            legacy,
        } => {
            m.add_pre_requisite(exact(txt)?);
            if let Some(l) = legacy {
                m.add_pre_requisite(exact(l)?);
            }
            for r in records {
                m.add_update(delete_rrset(r)?);
            }
            m.add_update(delete_rrset(txt)?);
            if let Some(l) = legacy {
                m.add_update(delete_rrset(l)?);
            }
        }
    }
    Ok(())
}

/// A delete sent without a zone read ([`UnreadDelete`]): the record's
/// RRset exists, our TXT is exactly its RRset, the legacy name holds no
/// TXT; then both RRsets are deleted.
fn add_unread_delete(m: &mut Message, d: &UnreadDelete) -> Result<(), DriverError> {
    let record = Rr {
        name: d.fqdn.clone(),
        rtype: d.rtype.clone(),
        ttl: 0,
        value: String::new(),
    };
    m.add_pre_requisite(present(&record)?);
    m.add_pre_requisite(exact(&d.txt)?);
    if let Some(l) = &d.legacy {
        m.add_pre_requisite(absent(&Rr {
            name: l.clone(),
            rtype: "TXT".into(),
            ttl: 0,
            value: String::new(),
        })?);
    }
    m.add_update(delete_rrset(&record)?);
    m.add_update(delete_rrset(&d.txt)?);
    Ok(())
}

/// Whether an encoded message's header says records were left out (TC).
fn truncated(bytes: &[u8]) -> bool {
    bytes.get(2).is_none_or(|flags| flags & 0x02 != 0)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn random_id() -> u16 {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    u16::from_be_bytes(b)
}

fn fqdn(name: &str) -> Result<Name, DriverError> {
    Name::from_str(&format!("{}.", name.trim_end_matches('.')))
        .map_err(|e| DriverError::configuration(format!("invalid DNS name `{name}`: {e}")))
}

fn rtype(s: &str) -> Result<RecordType, DriverError> {
    RecordType::from_str(s)
        .map_err(|_| DriverError::configuration(format!("unsupported record type {s}")))
}

fn to_record(r: &Rr) -> Result<Record, DriverError> {
    let data = match r.rtype.as_str() {
        "A" => RData::A(A(r.value.parse().map_err(|_| {
            DriverError::configuration(format!("`{}` is not an IPv4 address", r.value))
        })?)),
        "AAAA" => RData::AAAA(AAAA(r.value.parse().map_err(|_| {
            DriverError::configuration(format!("`{}` is not an IPv6 address", r.value))
        })?)),
        "CNAME" => RData::CNAME(CNAME(fqdn(&r.value)?)),
        "TXT" => RData::TXT(TXT::new(
            // DNS strings are at most 255 bytes: split longer text.
            r.value
                .as_bytes()
                .chunks(255)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect(),
        )),
        other => {
            return Err(DriverError::configuration(format!(
                "goldenpath does not write {other} records"
            )));
        }
    };
    Ok(Record::from_rdata(fqdn(&r.name)?, r.ttl, data))
}

/// Prerequisite "RRset does not exist" (class NONE, type, no data).
fn absent(r: &Rr) -> Result<Record, DriverError> {
    let mut p = Record::update0(fqdn(&r.name)?, 0, rtype(&r.rtype)?);
    p.dns_class = DNSClass::NONE;
    Ok(p.into_record_of_rdata())
}

/// Prerequisite "RRset exists (value independent)" (class ANY, type, no
/// data).
fn present(r: &Rr) -> Result<Record, DriverError> {
    let mut p = Record::update0(fqdn(&r.name)?, 0, rtype(&r.rtype)?);
    p.dns_class = DNSClass::ANY;
    Ok(p.into_record_of_rdata())
}

/// Prerequisite "RRset exists (value dependent)": the record as is, TTL 0.
fn exact(r: &Rr) -> Result<Record, DriverError> {
    let mut p = to_record(r)?;
    p.ttl = 0;
    Ok(p)
}

/// Update "delete an RRset" (class ANY, type, no data).
fn delete_rrset(r: &Rr) -> Result<Record, DriverError> {
    let mut d = Record::update0(fqdn(&r.name)?, 0, rtype(&r.rtype)?);
    d.dns_class = DNSClass::ANY;
    Ok(d.into_record_of_rdata())
}

fn to_rr(r: &Record) -> Rr {
    let name = r.name.to_ascii().trim_end_matches('.').to_lowercase();
    let value = match &r.data {
        RData::A(a) => a.0.to_string(),
        RData::AAAA(a) => a.0.to_string(),
        RData::CNAME(c) => c.0.to_ascii().trim_end_matches('.').to_lowercase(),
        RData::NS(n) => n.0.to_ascii().trim_end_matches('.').to_lowercase(),
        RData::TXT(t) => t
            .txt_data
            .iter()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect(),
        other => other.to_string(),
    };
    Rr {
        name,
        rtype: r.record_type().to_string(),
        ttl: r.ttl,
        value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backend for `server` with a test key; nothing is sent to build or
    /// sign a message.
    fn backend(server: &str) -> Rfc2136 {
        Rfc2136::new(
            server,
            "example.test",
            "gp-key",
            &Secret::new("c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"),
        )
        .unwrap()
    }

    /// An UPDATE of one TXT record holding `n` bytes of text.
    fn message_of(backend: &Rfc2136, n: usize) -> Message {
        let mut m = backend.update_message().unwrap();
        m.add_update(
            to_record(&Rr {
                name: "t.example.test".into(),
                rtype: "TXT".into(),
                ttl: 300,
                value: "x".repeat(n),
            })
            .unwrap(),
        );
        m
    }

    /// Across the limit, in steps smaller than the signature adds: a
    /// message is signed whole, its one update and its signature in it,
    /// or not at all — hickory would leave out what does not fit.
    #[test]
    fn a_message_is_signed_whole_or_not_at_all() {
        let backend = backend("127.0.0.1:53");
        let (mut signed, mut refused) = (Vec::new(), Vec::new());
        for n in (64_700..65_600).step_by(5) {
            match backend.signed(message_of(&backend, n)).unwrap() {
                Some((bytes, _)) => {
                    let m = Message::from_vec(&bytes).unwrap();
                    assert!(!m.metadata.truncation, "{n}");
                    assert_eq!(m.updates().len(), 1, "{n}");
                    assert!(m.signature().is_some(), "{n}");
                    signed.push(n);
                }
                None => refused.push(n),
            }
        }
        // Every size up to some point signed, every size after refused.
        let last = *signed.last().unwrap();
        assert!(refused.iter().all(|&n| n > last), "{signed:?} {refused:?}");
        assert!(!refused.is_empty());
    }

    /// One change more than any message carries is refused before anything
    /// is sent (nothing listens at the server's address here).
    #[test]
    fn a_change_too_large_for_any_message_is_refused_before_anything_is_sent() {
        let backend = backend("127.0.0.1:9");
        let txt = |name: &str, n: usize| Rr {
            name: name.into(),
            rtype: "TXT".into(),
            ttl: 300,
            value: "x".repeat(n),
        };
        let record = Rr {
            name: "h.example.test".into(),
            rtype: "A".into(),
            ttl: 300,
            value: "10.0.0.1".into(),
        };
        let huge = Change::Create {
            record,
            txt: txt("a-h.example.test", 66_000),
            legacy: None,
        };
        let err = backend.apply(std::slice::from_ref(&huge)).unwrap_err();
        assert!(err.message.contains("more than the 65,535 bytes"), "{err}");
        // Behind a change that fits, in one batch: the batch is refused
        // whole before anything goes. Had the first half been sent, the
        // error would be the connection's (nothing listens on port 9).
        let small = Change::Create {
            record: Rr {
                name: "g.example.test".into(),
                rtype: "A".into(),
                ttl: 300,
                value: "10.0.0.2".into(),
            },
            txt: txt("a-g.example.test", 10),
            legacy: None,
        };
        let batch = [small, huge];
        for err in [
            backend.apply(&batch).unwrap_err(),
            backend.prepare(&batch).err().unwrap(),
        ] {
            assert!(err.message.contains("more than the 65,535 bytes"), "{err}");
        }
    }

    #[test]
    fn the_truncation_bit_is_read_from_the_header() {
        assert!(!truncated(&[0, 1, 0x28, 0]));
        assert!(truncated(&[0, 1, 0x2a, 0]));
        assert!(truncated(&[0, 1]));
    }
}
