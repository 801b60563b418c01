//! A throwaway PostgreSQL server for tests: `initdb` into a temporary
//! directory with SCRAM-SHA-256 auth and a superuser password, started on a
//! free loopback port, stopped and removed when dropped.

use std::os::unix::fs::PermissionsExt;

use gp_core::Secret;
use gp_driver_postgres::server::{self, LocalServer};

/// A running test server.
pub struct TestPostgres {
    pub server: LocalServer,
    pub port: u16,
    pub superuser: String,
    pub password: Secret,
    _dir: tempfile::TempDir,
}

impl TestPostgres {
    /// Starts a fresh server. Panics with the install command when the
    /// PostgreSQL binaries are missing: such a test fails, it never skips.
    pub fn start() -> TestPostgres {
        let dir = crate::tempdir();
        // The server may run as another OS user (when tests run as root);
        // let it traverse the temporary directory.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let server = match LocalServer::new(&dir.path().join("data")) {
            Ok(s) => s,
            Err(e) => panic!("{e}\nhint: {}", e.hint().unwrap_or_default()),
        };
        let password = Secret::new(crate::random_token(32));
        server
            .init("gp_admin", &password)
            .unwrap_or_else(|e| panic!("initdb failed: {e}"));
        // A port can be taken between choosing and binding; try a few.
        let mut last = None;
        for _ in 0..5 {
            let port = server::free_port().unwrap();
            match server.start(port) {
                Ok(()) => {
                    return TestPostgres {
                        server,
                        port,
                        superuser: "gp_admin".into(),
                        password,
                        _dir: dir,
                    };
                }
                Err(e) => last = Some(e),
            }
        }
        panic!("cannot start PostgreSQL: {last:?}");
    }

    /// Starts a server that accepts only TLS connections (`ssl = on`,
    /// `hostssl` lines only in `pg_hba.conf`), with a CA and a server
    /// certificate made here with `openssl`; the certificate names
    /// `localhost` only. Returns the server and the CA's PEM file.
    pub fn start_tls() -> (TestPostgres, std::path::PathBuf) {
        let pg = TestPostgres::start();
        let data = pg.server.data_dir.clone();
        let certs = data.parent().unwrap().join("certs");
        std::fs::create_dir_all(&certs).unwrap();
        let openssl = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .current_dir(&certs)
                .args(args)
                .output()
                .unwrap_or_else(|e| panic!("cannot run openssl (apt-get install openssl): {e}"));
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=goldenpath test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        std::fs::write(
            certs.join("ext.cnf"),
            "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ]);
        pg.server.stop().unwrap();
        for f in ["server.crt", "server.key"] {
            std::fs::copy(certs.join(f), data.join(f)).unwrap();
            std::fs::set_permissions(data.join(f), std::fs::Permissions::from_mode(0o600)).unwrap();
            if let Some(u) = server::server_os_user() {
                std::os::unix::fs::chown(data.join(f), Some(u.uid), Some(u.gid)).unwrap();
            }
        }
        let conf = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).unwrap();
        text.push_str("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        std::fs::write(&conf, text).unwrap();
        std::fs::write(
            data.join("pg_hba.conf"),
            "hostssl all all 127.0.0.1/32 scram-sha-256\nhostssl all all ::1/128 scram-sha-256\n",
        )
        .unwrap();
        pg.server.start(pg.port).unwrap();
        (pg, certs.join("ca.crt"))
    }

    /// `postgres://user:password@127.0.0.1:port/postgres`.
    pub fn url(&self) -> String {
        self.url_for("postgres")
    }

    /// The URL of another database on this server.
    pub fn url_for(&self, database: &str) -> String {
        format!(
            "postgres://{}:{}@127.0.0.1:{}/{database}",
            self.superuser,
            self.password.expose(),
            self.port
        )
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let _ = self.server.stop();
    }
}
