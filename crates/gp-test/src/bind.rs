//! A throwaway BIND (`named`) for tests: a generated config, zone and
//! HMAC-SHA256 TSIG key in a temporary directory, listening on a free
//! loopback port; stopped when dropped. The fixture installs nothing:
//! `scripts/test.sh` makes sure `bind9` and `bind9-dnsutils` are there.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running `named`.
pub struct TestBind {
    pub port: u16,
    pub zone: String,
    pub key_name: String,
    pub key_b64: String,
    pub dir: tempfile::TempDir,
    child: Child,
}

fn find(binary: &str) -> PathBuf {
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")]);
    for dir in candidates {
        let p = dir.join(binary);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "`{binary}` is not installed; install it with: apt-get install -y bind9 bind9-dnsutils bind9-utils"
    );
}

/// `nsupdate`, `dig`, `named-checkzone`...
pub fn tool(name: &str) -> PathBuf {
    find(name)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl TestBind {
    /// Starts `named` serving `zone` (with only SOA, NS and the NS glue).
    pub fn start(zone: &str) -> TestBind {
        Self::start_with(
            zone,
            format!(
                "$ORIGIN {zone}.\n$TTL 300\n@ IN SOA ns1.{zone}. hostmaster.{zone}. 1 3600 600 86400 300\n@ IN NS ns1.{zone}.\nns1 IN A 127.0.0.1\n"
            ),
        )
    }

    /// Starts `named` serving a copy of a zone file (e.g. the one the
    /// zone-file backend writes), to resolve its names with `dig`.
    pub fn serve_zone_file(zone: &str, file: &std::path::Path) -> TestBind {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        Self::start_with(zone, text)
    }

    fn start_with(zone: &str, zone_text: String) -> TestBind {
        let named = find("named");
        let dir = crate::tempdir();
        let key_name = "goldenpath-test-key".to_string();
        let key_b64 = {
            use std::collections::hash_map::RandomState;
            use std::hash::{BuildHasher, Hasher};
            let mut bytes = Vec::new();
            for i in 0..4u64 {
                let mut h = RandomState::new().build_hasher();
                h.write_u64(i);
                bytes.extend_from_slice(&h.finish().to_le_bytes());
            }
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(&bytes)
        };
        let zone_file = dir.path().join(format!("{zone}.zone"));
        std::fs::write(&zone_file, zone_text).unwrap();
        let mut last_err = String::new();
        for _ in 0..5 {
            let port = free_port();
            let conf = dir.path().join("named.conf");
            std::fs::write(
                &conf,
                format!(
                    r#"key "{key_name}" {{ algorithm hmac-sha256; secret "{key_b64}"; }};
options {{
    directory "{dir}";
    pid-file "{dir}/named.pid";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    allow-transfer {{ key "{key_name}"; }};
    notify no;
}};
controls {{ }};
zone "{zone}" {{
    type primary;
    file "{zone_file}";
    update-policy {{ grant "{key_name}" zonesub ANY; }};
    allow-transfer {{ key "{key_name}"; }};
}};
"#,
                    dir = dir.path().display(),
                    zone_file = zone_file.display()
                ),
            )
            .unwrap();
            let mut child = Command::new(&named)
                .arg("-g")
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start named: {e}"));
            // named says "running" when it serves; wait for that line.
            let stderr = child.stderr.take().unwrap();
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut log = String::new();
            while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                log.push_str(&line);
                log.push('\n');
                if line.trim_end().ends_with(" running") {
                    return TestBind {
                        port,
                        zone: zone.into(),
                        key_name,
                        key_b64,
                        dir,
                        child,
                    };
                }
            }
            let _ = child.kill();
            let _ = child.wait();
            last_err = log;
        }
        panic!("named did not start:\n{last_err}");
    }

    /// `127.0.0.1:PORT`.
    pub fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Runs an nsupdate script (without the `server` line), signed with
    /// `key` (name, base64) or the server's own key.
    pub fn nsupdate(&self, script: &str, key: Option<(&str, &str)>) -> crate::Output {
        let (name, secret) = key.unwrap_or((&self.key_name, &self.key_b64));
        let file = self
            .dir
            .path()
            .join(format!("nsupdate-{}.txt", crate::random_token(8)));
        std::fs::write(
            &file,
            format!(
                "server 127.0.0.1 {}\nzone {}\n{script}\nsend\n",
                self.port, self.zone
            ),
        )
        .unwrap();
        crate::run(
            Command::new(tool("nsupdate"))
                .arg("-v")
                .arg("-y")
                .arg(format!("hmac-sha256:{name}:{secret}"))
                .arg(&file),
        )
    }

    /// The zone by AXFR (`dig`), one record per line, sorted, without the
    /// SOA lines (whose serial changes).
    pub fn axfr(&self) -> String {
        let out = crate::run(
            Command::new(tool("dig"))
                .arg("@127.0.0.1")
                .arg("-p")
                .arg(self.port.to_string())
                .arg("-y")
                .arg(format!("hmac-sha256:{}:{}", self.key_name, self.key_b64))
                .arg(&self.zone)
                .arg("AXFR")
                .args(["+noall", "+answer"]),
        );
        assert_eq!(out.code, 0, "dig failed: {}", out.transcript());
        let mut lines: Vec<String> = out
            .stdout
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.contains("\tSOA\t") && !l.starts_with(';'))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        lines.sort();
        lines.dedup();
        lines.join("\n")
    }

    /// Resolves `name` of `rtype` against the server (`dig +short`).
    pub fn dig(&self, name: &str, rtype: &str) -> String {
        let out = crate::run(
            Command::new(tool("dig"))
                .arg("@127.0.0.1")
                .arg("-p")
                .arg(self.port.to_string())
                .arg(name)
                .arg(rtype)
                .arg("+short"),
        );
        assert_eq!(
            out.code,
            0,
            "dig {name} {rtype} failed: {}",
            out.transcript()
        );
        out.stdout.trim().to_string()
    }
}

impl Drop for TestBind {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Checks a zone file with `named-checkzone`.
pub fn checkzone(zone: &str, file: &Path) -> crate::Output {
    crate::run(Command::new(tool("named-checkzone")).arg(zone).arg(file))
}
