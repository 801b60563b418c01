//! The zone-file backend: an RFC 1035 master file per zone in the state
//! directory, loadable by BIND, Knot or CoreDNS. Every change is a
//! read-modify-write under an exclusive lock that checks the change's
//! prerequisites, increases the SOA serial and renames a complete new file
//! into place.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use gp_driver::DriverError;

use crate::Backend;
use crate::model::{Change, Rr};

/// A zone kept in a file.
pub struct ZoneFile {
    path: PathBuf,
    zone: String,
    /// The address of the zone's nameserver (`ns1.{zone}`), for the NS glue.
    nameserver: String,
    ttl: u32,
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> DriverError {
    let context = context.into();
    move |e| DriverError::permanent(format!("{context}: {e}"))
}

impl ZoneFile {
    /// A zone file at `path` for `zone`.
    pub fn new(path: &Path, zone: &str, nameserver: &str, ttl: u32) -> Self {
        Self {
            path: path.to_path_buf(),
            zone: zone.trim_end_matches('.').to_lowercase(),
            nameserver: nameserver.into(),
            ttl,
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file exists.
    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// Writes a new zone with its SOA, NS and the nameserver's address,
    /// unless one exists.
    pub fn create(&self) -> Result<bool, DriverError> {
        let _lock = self.lock()?;
        if self.path.exists() {
            return Ok(false);
        }
        let ns = format!("ns1.{}", self.zone);
        let records = vec![
            Rr {
                name: self.zone.clone(),
                rtype: "SOA".into(),
                ttl: self.ttl,
                value: format!(
                    "{ns}. hostmaster.{}. 1 3600 600 86400 {}",
                    self.zone, self.ttl
                ),
            },
            Rr {
                name: self.zone.clone(),
                rtype: "NS".into(),
                ttl: self.ttl,
                value: ns.clone(),
            },
            Rr {
                name: ns,
                rtype: if self.nameserver.contains(':') {
                    "AAAA"
                } else {
                    "A"
                }
                .into(),
                ttl: self.ttl,
                value: self.nameserver.clone(),
            },
        ];
        self.write(&records)?;
        Ok(true)
    }

    /// Removes the file.
    pub fn remove(&self) -> Result<(), DriverError> {
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(format!("cannot remove {}", self.path.display()))(e)),
        }
    }

    fn lock(&self) -> Result<fs::File, DriverError> {
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
        }
        let lock = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(self.path.with_extension("lock"))
            .map_err(io("cannot open the zone lock"))?;
        lock.lock().map_err(io("cannot lock the zone"))?;
        Ok(lock)
    }

    fn read(&self) -> Result<Vec<Rr>, DriverError> {
        let text = fs::read_to_string(&self.path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                DriverError::not_found(format!(
                    "the zone file {} does not exist; deploy the zone first",
                    self.path.display()
                ))
            } else {
                io(format!("cannot read {}", self.path.display()))(e)
            }
        })?;
        parse(&text, &self.zone)
    }

    fn write(&self, records: &[Rr]) -> Result<(), DriverError> {
        let mut sorted: Vec<&Rr> = records.iter().collect();
        // SOA first, then NS, then by name and type: a stable, readable file.
        sorted.sort_by_key(|r| {
            (
                r.rtype != "SOA",
                r.rtype != "NS",
                r.name.clone(),
                r.rtype.clone(),
                r.value.clone(),
            )
        });
        let mut out = format!(
            "; zone {} — written by goldenpath; changes go through goldenpath or RFC 2136\n$ORIGIN {}.\n$TTL {}\n",
            self.zone, self.zone, self.ttl
        );
        for r in sorted {
            out.push_str(&format!(
                "{}. {} IN {} {}\n",
                r.name,
                r.ttl,
                r.rtype,
                render(r)
            ));
        }
        let tmp = self
            .path
            .with_extension(format!("tmp.{}", std::process::id()));
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)
            .map_err(io(format!("cannot write {}", tmp.display())))?;
        f.write_all(out.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(io(format!("cannot write {}", tmp.display())))?;
        fs::rename(&tmp, &self.path).map_err(io(format!("cannot replace {}", self.path.display())))
    }
}

fn render(r: &Rr) -> String {
    match r.rtype.as_str() {
        "TXT" => format!("\"{}\"", r.value.replace('\\', "\\\\").replace('"', "\\\"")),
        "CNAME" | "NS" => format!("{}.", r.value),
        _ => r.value.clone(),
    }
}

/// Parses the master files goldenpath writes (one record per line, full
/// names), tolerating comments and blank lines.
pub fn parse(text: &str, zone: &str) -> Result<Vec<Rr>, DriverError> {
    let mut out = Vec::new();
    let mut origin = zone.to_string();
    for (n, raw) in text.lines().enumerate() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        if let Some(o) = line.strip_prefix("$ORIGIN") {
            origin = o.trim().trim_end_matches('.').to_lowercase();
            continue;
        }
        if line.starts_with('$') {
            continue;
        }
        let bad =
            || DriverError::permanent(format!("zone file line {}: cannot read `{raw}`", n + 1));
        let mut parts = line
            .splitn(5, char::is_whitespace)
            .filter(|p| !p.is_empty());
        let name = parts.next().ok_or_else(bad)?;
        let rest: Vec<&str> = line[name.len()..].split_whitespace().collect();
        // name TTL IN TYPE data...
        let (ttl, class_at) = match rest.first().and_then(|t| t.parse::<u32>().ok()) {
            Some(t) => (t, 1),
            None => (0, 0),
        };
        if rest.get(class_at) != Some(&"IN") {
            return Err(bad());
        }
        let rtype = rest.get(class_at + 1).ok_or_else(bad)?.to_string();
        let data_start = line
            .find(&format!(" {rtype} "))
            .map(|i| i + rtype.len() + 2)
            .ok_or_else(bad)?;
        let data = line[data_start..].trim();
        let fq = |n: &str| -> String {
            if n == "@" {
                origin.clone()
            } else if let Some(abs) = n.strip_suffix('.') {
                abs.to_lowercase()
            } else {
                format!("{}.{origin}", n.to_lowercase())
            }
        };
        let value = match rtype.as_str() {
            "TXT" => unquote(data),
            "CNAME" | "NS" => fq(data),
            _ => data.to_string(),
        };
        out.push(Rr {
            name: fq(name),
            rtype,
            ttl,
            value,
        });
    }
    Ok(out)
}

fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

fn unquote(data: &str) -> String {
    // One or more quoted strings are concatenated, as DNS does.
    let mut out = String::new();
    let mut chars = data.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                out.push(n);
                            }
                        }
                        '"' => break,
                        other => out.push(other),
                    }
                }
            }
            c if c.is_whitespace() => {}
            other => out.push(other),
        }
    }
    out
}

fn check_prerequisites(zone: &[Rr], change: &Change) -> Result<(), String> {
    let rrset = |name: &str, rtype: &str| -> Vec<&Rr> {
        zone.iter()
            .filter(|r| r.name == name && r.rtype == rtype)
            .collect()
    };
    match change {
        Change::Create {
            record,
            txt,
            legacy,
        } => {
            if !rrset(&record.name, &record.rtype).is_empty() {
                return Err(format!(
                    "{} {} appeared meanwhile",
                    record.name, record.rtype
                ));
            }
            for t in std::iter::once(txt).chain(legacy) {
                if !rrset(&t.name, "TXT").is_empty() {
                    return Err(format!("{} TXT appeared meanwhile", t.name));
                }
            }
        }
        Change::Update { old, txt, new } => {
            let now: Vec<&Rr> = rrset(&new.name, &new.rtype);
            let same = now.len() == old.len()
                && old.iter().all(|o| now.iter().any(|n| n.value == o.value));
            if !same {
                return Err(format!("{} {} changed meanwhile", new.name, new.rtype));
            }
            if !rrset(&txt.name, "TXT").iter().any(|t| t.value == txt.value) {
                return Err(format!("{} is no longer owned by us", new.name));
            }
        }
        Change::Delete { txt, records, .. } => {
            if !rrset(&txt.name, "TXT").iter().any(|t| t.value == txt.value) {
                return Err(format!(
                    "{} is no longer owned by us",
                    records.first().map(|r| r.name.as_str()).unwrap_or("")
                ));
            }
        }
    }
    Ok(())
}

impl Backend for ZoneFile {
    fn list(&self) -> Result<Vec<Rr>, DriverError> {
        self.read()
    }

    fn apply(&self, changes: &[Change]) -> Result<(), DriverError> {
        if changes.is_empty() {
            return Ok(());
        }
        let _lock = self.lock()?;
        let mut zone = self.read()?;
        // All or nothing, like an RFC 2136 update message.
        for c in changes {
            check_prerequisites(&zone, c).map_err(|why| {
                DriverError::refused(format!(
                    "concurrent change detected, nothing was written: {why}"
                ))
            })?;
        }
        for c in changes {
            match c {
                Change::Create {
                    record,
                    txt,
                    legacy,
                } => {
                    zone.push(record.clone());
                    zone.push(txt.clone());
                    zone.extend(legacy.iter().cloned());
                }
                Change::Update { new, .. } => {
                    zone.retain(|r| !(r.name == new.name && r.rtype == new.rtype));
                    zone.push(new.clone());
                }
                Change::Delete {
                    records,
                    txt,
                    legacy,
                } => {
                    zone.retain(|r| {
                        !records
                            .iter()
                            .any(|d| d.name == r.name && d.rtype == r.rtype)
                    });
                    zone.retain(|r| !(r.name == txt.name && r.rtype == "TXT"));
                    if let Some(l) = legacy {
                        zone.retain(|r| r != l);
                    }
                }
            }
        }
        for r in zone.iter_mut().filter(|r| r.rtype == "SOA") {
            let mut f: Vec<String> = r.value.split_whitespace().map(str::to_string).collect();
            if let Some(serial) = f.get_mut(2) {
                let next = serial.parse::<u64>().unwrap_or(0) + 1;
                *serial = (next % (1 << 32)).to_string();
            }
            r.value = f.join(" ");
        }
        self.write(&zone)
    }

    fn describe(&self) -> String {
        format!("zone file {}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trip() {
        let text = "$ORIGIN x.io.\n$TTL 300\nx.io. 300 IN SOA ns1.x.io. hostmaster.x.io. 7 3600 600 86400 300\n@ 300 IN NS ns1\napp 300 IN A 10.0.0.1 ; app\na-app.x.io. 300 IN TXT \"heritage=external-dns,external-dns/owner=o\"\nweb 300 IN CNAME lb.example.com.\n";
        let rrs = parse(text, "x.io").unwrap();
        assert_eq!(rrs.len(), 5);
        assert_eq!(rrs[1].value, "ns1.x.io");
        assert_eq!(rrs[2].name, "app.x.io");
        assert_eq!(rrs[3].value, "heritage=external-dns,external-dns/owner=o");
        assert_eq!(rrs[4].value, "lb.example.com");
    }

    #[test]
    fn the_legacy_txt_is_written_and_removed_with_its_record() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.io.zone");
        std::fs::write(
            &file,
            "$ORIGIN x.io.\n$TTL 300\nx.io. 300 IN SOA ns1.x.io. hostmaster.x.io. 7 3600 600 86400 300\n@ 300 IN NS ns1\n",
        )
        .unwrap();
        let zf = ZoneFile::new(&file, "x.io", "ns1.x.io", 300);
        let rr = |name: &str, rtype: &str, value: &str| Rr {
            name: name.into(),
            rtype: rtype.into(),
            ttl: 300,
            value: value.into(),
        };
        let record = rr("app.x.io", "A", "10.0.0.1");
        let txt = rr(
            "p.a-app.x.io",
            "TXT",
            "heritage=external-dns,external-dns/owner=o",
        );
        let legacy = rr(
            "p.app.x.io",
            "TXT",
            "heritage=external-dns,external-dns/owner=o",
        );
        zf.apply(&[Change::Create {
            record: record.clone(),
            txt: txt.clone(),
            legacy: Some(legacy.clone()),
        }])
        .unwrap();
        let now = zf.list().unwrap();
        assert!(now.contains(&legacy) && now.contains(&txt), "{now:?}");
        // A create whose legacy name was taken meanwhile writes nothing.
        let other = rr("other.x.io", "A", "10.0.0.2");
        let clash = zf.apply(&[Change::Create {
            record: other.clone(),
            txt: rr("p.a-other.x.io", "TXT", "v"),
            legacy: Some(rr("p.app.x.io", "TXT", "v")),
        }]);
        assert!(clash.is_err());
        assert!(!zf.list().unwrap().contains(&other));
        zf.apply(&[Change::Delete {
            records: vec![record],
            txt,
            legacy: Some(legacy.clone()),
        }])
        .unwrap();
        let now = zf.list().unwrap();
        assert!(now.iter().all(|r| !r.name.contains("app")), "{now:?}");
    }
}
