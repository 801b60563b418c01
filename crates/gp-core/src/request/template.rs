//! New request files in the platform's layout: a database request flat
//! with its `spec` (as the platform's `rds-requests` are), the other kinds
//! as `apiVersion`/`kind`/`metadata`/`spec` documents. Every value is
//! written quoted, so nothing a user types is read as YAML syntax.

use super::kind::RequestKind;

/// What every new request names.
#[derive(Clone, Debug)]
pub struct Common {
    /// Its id.
    pub id: String,
    /// Its environment (`None`: a repository for every environment).
    pub env: Option<String>,
    /// The owning team.
    pub owner: String,
    /// Who asks.
    pub requester: String,
    /// A title.
    pub title: String,
    /// Today, `YYYY-MM-DD`.
    pub created: String,
}

/// What each kind asks for.
#[derive(Clone, Debug)]
pub enum Ask {
    /// A database.
    Database {
        /// The database.
        database: String,
        /// Its login role.
        username: String,
        /// The business domain.
        domain: String,
        /// small, medium, large, xlarge.
        size: String,
        /// Storage, GB.
        storage_gb: u32,
        /// Storage autoscaling limit, GB.
        max_storage_gb: u32,
        /// Days of backups.
        backup_retention_days: u32,
        /// Several availability zones.
        multi_az: bool,
        /// none, low, medium, high, access.
        risk: String,
    },
    /// A bucket.
    Bucket {
        /// The bucket.
        bucket_name: String,
        /// The application.
        application: String,
        /// logs, uploads, backups, data-lake, static-assets.
        purpose: String,
        /// What it holds.
        description: String,
        /// The cost center tag.
        cost_center: String,
    },
    /// A secret.
    Secret {
        /// Its name.
        name: String,
        /// The service it belongs to.
        service: String,
        /// low, medium, high.
        risk: String,
        /// The rotation class (`none`).
        rotation_class: String,
        /// The app's namespace and Kubernetes Secret, when the app takes it
        /// into the cluster.
        delivery: Option<(String, String)>,
    },
    /// A repository.
    Repository {
        /// The repository.
        repository: String,
        /// low, medium, high.
        risk: String,
    },
}

impl Ask {
    /// Its kind.
    pub fn kind(&self) -> RequestKind {
        match self {
            Ask::Database { .. } => RequestKind::Database,
            Ask::Bucket { .. } => RequestKind::Bucket,
            Ask::Secret { .. } => RequestKind::Secret,
            Ask::Repository { .. } => RequestKind::Repository,
        }
    }
}

fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// The text of a new request file.
pub fn render(c: &Common, ask: &Ask) -> String {
    let kind = ask.kind();
    let mut out = format!(
        "# A {} request, written by `goldenpath request new {}`.\n",
        kind.noun(),
        kind.as_str()
    );
    if let Ask::Database {
        database,
        username,
        domain,
        size,
        storage_gb,
        max_storage_gb,
        backup_retention_days,
        multi_az,
        risk,
    } = ask
    {
        out.push_str(&format!(
            "id: {}\nservice: postgres\nenvironment: {}\nowner: {}\nrequester: {}\nmetadata:\n  title: {}\n  created: {}\nspec:\n  databaseName: {}\n  username: {}\n  size: {}\n  domain: {}\n  storageGb: {storage_gb}\n  maxStorageGb: {max_storage_gb}\n  backupRetentionDays: {backup_retention_days}\n  multiAz: {multi_az}\n  performanceInsights: false\n  risk: {}\n",
            q(&c.id),
            q(c.env.as_deref().unwrap_or_default()),
            q(&c.owner),
            q(&c.requester),
            q(&c.title),
            q(&c.created),
            q(database),
            q(username),
            q(size),
            q(domain),
            q(risk),
        ));
        return out;
    }
    out.push_str(&format!(
        "apiVersion: goldenpath.io/v1\nkind: {}\nmetadata:\n  id: {}\n  owner: {}\n  requester: {}\n  title: {}\n  created: {}\nspec:\n",
        kind.kind_name(),
        q(&c.id),
        q(&c.owner),
        q(&c.requester),
        q(&c.title),
        q(&c.created),
    ));
    if let Some(env) = &c.env {
        out.push_str(&format!("  environment: {}\n", q(env)));
    }
    match ask {
        Ask::Bucket {
            bucket_name,
            application,
            purpose,
            description,
            cost_center,
        } => out.push_str(&format!(
            "  application: {}\n  bucketName: {}\n  purpose:\n    type: {}\n    description: {}\n  tags:\n    costCenter: {}\n",
            q(application),
            q(bucket_name),
            q(purpose),
            q(description),
            q(cost_center)
        )),
        Ask::Secret {
            name,
            service,
            risk,
            rotation_class,
            delivery,
        } => {
            out.push_str(&format!(
                "  name: {}\n  service: {}\n  provider: aws-secrets-manager\n  risk:\n    tier: {}\n  rotation:\n    rotationClass: {}\n",
                q(name),
                q(service),
                q(risk),
                q(rotation_class)
            ));
            if let Some((ns, secret)) = delivery {
                out.push_str(&format!(
                    "  access:\n    namespace: {}\n    k8sSecretName: {}\n",
                    q(ns),
                    q(secret)
                ));
            }
        }
        Ask::Repository { repository, risk } => out.push_str(&format!(
            "  repositoryName: {}\n  scanOnPush: true\n  tagImmutability: true\n  risk:\n    tier: {}\n",
            q(repository),
            q(risk)
        )),
        Ask::Database { .. } => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Request;

    fn common(id: &str, env: Option<&str>) -> Common {
        Common {
            id: id.into(),
            env: env.map(String::from),
            owner: "team-orders".into(),
            requester: "alice".into(),
            title: "a title: with a colon # and a hash".into(),
            created: "2026-12-06".into(),
        }
    }

    #[test]
    fn every_kind_renders_a_file_that_reads_back() {
        let asks = [
            (
                "RDS-0003",
                Ask::Database {
                    database: "orders".into(),
                    username: "orders_app".into(),
                    domain: "commerce".into(),
                    size: "small".into(),
                    storage_gb: 20,
                    max_storage_gb: 100,
                    backup_retention_days: 7,
                    multi_az: false,
                    risk: "low".into(),
                },
            ),
            (
                "S3-0004",
                Ask::Bucket {
                    bucket_name: "goldenpath-dev-orders-logs".into(),
                    application: "orders".into(),
                    purpose: "logs".into(),
                    description: "the API's access logs".into(),
                    cost_center: "cc-042".into(),
                },
            ),
            (
                "SEC-0005",
                Ask::Secret {
                    name: "stripe-key".into(),
                    service: "payments".into(),
                    risk: "low".into(),
                    rotation_class: "none".into(),
                    delivery: Some(("payments".into(), "stripe".into())),
                },
            ),
            (
                "ECR-0006",
                Ask::Repository {
                    repository: "payments/api".into(),
                    risk: "low".into(),
                },
            ),
        ];
        for (id, ask) in asks {
            let text = render(&common(id, Some("dev")), &ask);
            let r = Request::from_source("x.yaml".as_ref(), &text)
                .unwrap_or_else(|e| panic!("{id}: {e}\n{text}"));
            assert_eq!(r.id().value, id);
            assert_eq!(r.kind(), ask.kind());
            assert!(r.warnings.is_empty(), "{id}: {:?}", r.warnings);
        }
        let global = render(
            &common("ECR-0007", None),
            &Ask::Repository {
                repository: "xy".into(),
                risk: "low".into(),
            },
        );
        assert_eq!(
            Request::from_source("x.yaml".as_ref(), &global)
                .unwrap()
                .env(),
            crate::request::GLOBAL
        );
    }
}
