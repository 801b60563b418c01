//! What a request may claim, at the engine: never a name another request
//! holds (its database, its role, its credentials' path), in the same
//! environment; its own names are no claim; the platform's per-build names
//! are held for every build.

use gp_core::request::Request;
use gp_registry::{RequestEvent, new_id, now_us};

use crate::{HEADER, World};

const SPEC: &str = "  prod: {}
components: []
";

fn applied(w: &World, id: &str, env: &str, database: &str, role: &str) {
    w.registry
        .record_request(&RequestEvent {
            id: new_id(),
            request_id: id.into(),
            kind: "rds".into(),
            env: env.into(),
            event: "applied".into(),
            actor: "tester".into(),
            detail: Some(serde_json::json!({
                "hash": "h", "resource": database, "role": role, "instance": "db",
                "secretPath": format!("demo/{env}/{database}/postgres"),
                "owner": "t", "requester": "alice",
            })),
            at_us: now_us(),
        })
        .unwrap();
}

fn request(id: &str, env: &str, database: &str, role: &str) -> Request {
    Request::from_source(
        std::path::Path::new("requests/x.yaml"),
        &format!(
            "id: {id}\nenvironment: {env}\ndatabaseName: {database}\nusername: {role}\nowner: t\nrequester: bob\ndomain: d\n"
        ),
    )
    .unwrap()
}

#[test]
fn a_request_never_takes_another_requests_database_or_role() {
    let w = World::new(&format!("{HEADER}{SPEC}"));
    let e = w.engine();
    applied(&w, "RDS-0001", "dev", "orders", "orders_app");
    // Its database, its role: each refused, naming the holder.
    for (db, role, field) in [
        ("orders", "other_app", "database"),
        ("other", "orders_app", "role"),
    ] {
        let claims = e
            .request_claims(&request("RDS-0002", "dev", db, role))
            .unwrap();
        assert_eq!(claims.len(), 1, "{field}: {claims:?}");
        assert!(
            claims[0].message.contains("held by request RDS-0001"),
            "{claims:?}"
        );
    }
    // Its own names are no claim; another environment's instance is
    // another namespace; a name nobody holds is free.
    assert!(
        e.request_claims(&request("RDS-0001", "dev", "orders", "orders_app"))
            .unwrap()
            .is_empty()
    );
    assert!(
        e.request_claims(&request("RDS-0002", "prod", "orders", "orders_app"))
            .unwrap()
            .is_empty()
    );
    assert!(
        e.request_claims(&request("RDS-0002", "dev", "ledger", "ledger_app"))
            .unwrap()
            .is_empty()
    );
}
