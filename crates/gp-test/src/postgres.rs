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
