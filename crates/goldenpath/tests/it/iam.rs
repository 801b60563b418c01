//! The CI roles' IAM, proven on a local AWS endpoint that enforces it:
//! moto's server with IAM checks turned on (`/moto-api/reset-auth`, the
//! endpoint of `INITIAL_NO_AUTH_ACTION_COUNT`), an IAM user per role
//! holding only what `goldenpath iam policy` derives, running that role's
//! real commands.
//!
//! What moto cannot check is said here and in README: it evaluates a
//! scoped statement against `*` for most services (so the runs hold the
//! derived actions with their resources widened, and the scoping is
//! proven apart: every ARN the runs made, listed with boto3, matched
//! against the derived patterns with IAM's wildcard rules); it cannot
//! verify Route 53's signatures (Route 53 is a second moto server that
//! does not enforce); it names the tagging API `tagging:` and a bucket's
//! `HEAD` `s3:HeadBucket` (granted beside IAM's name, removed with it);
//! it checks a bucket's encryption and public access block as
//! `s3:ListBucket`/`s3:CreateBucket`, and KMS not at all.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use gp_test::moto::Moto;
use serde_json::{Value, json};

/// Names moto checks an IAM action under, beside IAM's own.
const MOTO_NAMES: &[(&str, &str)] = &[
    ("tag:GetResources", "tagging:GetResources"),
    ("s3:ListBucket", "s3:HeadBucket"),
];

/// Actions moto checks under another action's name (or not at all): a
/// run without them still passes on moto.
const MOTO_CANNOT_CHECK: &[&str] = &[
    "s3:GetEncryptionConfiguration",
    "s3:PutEncryptionConfiguration",
    "s3:GetBucketPublicAccessBlock",
    "s3:PutBucketPublicAccessBlock",
];

struct World {
    moto: Moto,
    route53: Moto,
    _dir: tempfile::TempDir,
    work: PathBuf,
    users: BTreeMap<String, (String, String)>,
}

impl World {
    /// golden-v1 as the local-aws example prepares it (the state bucket
    /// and lock table in the enforcing endpoint, the zone in Route 53's),
    /// with `requests` and one request file of each kind.
    fn golden_v1() -> World {
        let moto = Moto::start();
        let route53 = Moto::start();
        let dir = gp_test::tempdir();
        let work = dir.path().join("work");
        let mut prepare = std::process::Command::new(moto.python());
        prepare
            .arg(gp_test::example("golden-v1/local-aws/local_aws.py"))
            .arg("prepare")
            .arg(&work);
        moto.apply(&mut prepare);
        let out = gp_test::run(&mut prepare);
        assert_eq!(out.code, 0, "{}", out.transcript());
        route53.py("boto3.client('route53', endpoint_url=e).create_hosted_zone(Name='goldenpathidp.io', CallerReference='iam')");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o755)).unwrap();
        let spec = work.join("goldenpath.yaml");
        let mut text = std::fs::read_to_string(&spec).unwrap();
        text.push_str("\nrequests:\n  approvers: { platform: [bob], security: [sam] }\n");
        std::fs::write(&spec, text).unwrap();
        let requests = work.join("requests/dev");
        std::fs::create_dir_all(&requests).unwrap();
        for (name, text) in REQUESTS {
            std::fs::write(requests.join(name), text).unwrap();
        }
        World {
            moto,
            route53,
            _dir: dir,
            work,
            users: BTreeMap::new(),
        }
    }

    /// Turns moto's IAM checks on or off (off: the test's own boto3 reads
    /// and IAM changes).
    fn enforce(&self, on: bool) {
        self.moto.py(&format!(
            "import urllib.request\nurllib.request.urlopen(urllib.request.Request(e + '/moto-api/reset-auth', data=b'{}', method='POST', headers={{'Content-Type': 'application/octet-stream'}})).read()",
            if on { "0" } else { "inf" }
        ));
    }

    /// An IAM user holding exactly `policy` (its inline policy replaced).
    fn user(&mut self, name: &str, policy: &Value) {
        let doc = serde_json::to_string(policy).unwrap();
        let script = format!(
            "iam = boto3.client('iam', endpoint_url=e)
name = {name:?}
try:
    iam.create_user(UserName=name)
    k = iam.create_access_key(UserName=name)['AccessKey']
    print(json.dumps([k['AccessKeyId'], k['SecretAccessKey']]))
except iam.exceptions.EntityAlreadyExistsException:
    print('null')
iam.put_user_policy(UserName=name, PolicyName='goldenpath', PolicyDocument={doc:?})"
        );
        let out = self.moto.py(&script);
        if let Ok(Value::Array(k)) = serde_json::from_str::<Value>(out.trim()) {
            self.users.insert(
                name.to_string(),
                (
                    k[0].as_str().unwrap().to_string(),
                    k[1].as_str().unwrap().to_string(),
                ),
            );
        }
    }

    /// goldenpath as `user` (`None`: the test's own credentials).
    fn gp(&self, user: Option<&str>, actor: &str, args: &[&str]) -> gp_test::Output {
        let mut c = crate::gp();
        c.current_dir(&self.work)
            .env("GOLDENPATH_ACTOR", actor)
            .args(args);
        self.moto.apply(&mut c);
        c.env("AWS_ENDPOINT_URL_ROUTE_53", self.route53.url());
        if let Some(u) = user {
            let (k, s) = &self.users[u];
            c.env("AWS_ACCESS_KEY_ID", k)
                .env("AWS_SECRET_ACCESS_KEY", s);
        }
        gp_test::run(&mut c)
    }

    /// Polls the registry (with a deadline) until `build`'s expiry has
    /// passed, so the reaper takes it.
    fn wait_expired(&self, build: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let out = self.gp(
                None,
                "tester",
                &["builds", "list", "--env", "dev", "--output", "json"],
            );
            let v: Value = serde_json::from_str(&out.stdout).unwrap_or_default();
            let now_us = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_micros() as i64;
            let expired = v["builds"].as_array().into_iter().flatten().any(|b| {
                b["buildId"] == build && b["expiresUs"].as_i64().is_some_and(|e| e < now_us)
            });
            if expired {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{build} never expired: {}",
                out.transcript()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// The derived policy of a role (no AWS call is made to derive it).
    fn policy(&self, role: &str) -> Value {
        let out = self.gp(
            None,
            "tester",
            &[
                "iam", "policy", "--env", "dev", "--role", role, "--output", "json",
            ],
        );
        assert_eq!(out.code, 0, "{}", out.transcript());
        serde_json::from_str::<Value>(&out.stdout).unwrap()["policy"].clone()
    }
}

/// Every action of a policy.
fn actions(policy: &Value) -> BTreeSet<String> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// The policy as moto can run it: its actions (and moto's names for
/// them) on `*`, without `except`.
fn widened(policy: &Value, except: Option<&str>) -> Value {
    let mut all: BTreeSet<String> = BTreeSet::new();
    for a in actions(policy) {
        if Some(a.as_str()) == except {
            continue;
        }
        for (iam, moto) in MOTO_NAMES {
            if *iam == a {
                all.insert(moto.to_string());
            }
        }
        all.insert(a);
    }
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": all, "Resource": "*"}]})
}

/// A run that must pass with the role's policy: exit 0, no denial.
fn passes(out: &gp_test::Output, what: &str) {
    assert_eq!(out.code, 0, "{what}\n{}", out.transcript());
    assert!(
        !out.stderr.contains("AccessDenied") && !out.stdout.contains("AccessDenied"),
        "{what}\n{}",
        out.transcript()
    );
}

const REQUESTS: &[(&str, &str)] = &[
    (
        "S3-0001.yaml",
        "---\n# logs of the orders API\napiVersion: goldenpath.io/v1\nkind: S3BucketRequest\nmetadata:\n  id: S3-0001\n  owner: team-orders\n  requester: alice\nspec:\n  environment: dev\n  application: orders\n  bucketName: goldenpath-dev-orders-logs\n  purpose:\n    type: logs\n    description: access logs of the orders API\n  tags:\n    costCenter: cc-042\n",
    ),
    (
        "SEC-0001.yaml",
        "apiVersion: goldenpath.io/v1\nkind: SecretRequest\nmetadata:\n  id: SEC-0001\n  name: stripe-key\n  service: payments\n  environment: dev\n  domain: commerce\nspec:\n  provider: aws-secrets-manager\n  secretType: api-key\n  risk: { tier: medium }\n  rotation: { rotationClass: standard }\n  lifecycle: { status: active, recoveryWindowInDays: 7 }\n  access:\n    namespace: payments\n    k8sSecretName: stripe\n    readPrincipals: [arn:aws:iam::123456789012:role/payments-api]\n  ttlDays: 90\n",
    ),
    (
        "ECR-0001.yaml",
        "kind: EcrRepositoryRequest\nmetadata: { id: ECR-0001, owner: team-payments, requester: alice }\nspec: { repositoryName: payments/api }\n",
    ),
    (
        "RDS-0001.yaml",
        "# an app team's request\n---\nid: RDS-0001\nenvironment: dev\ndatabaseName: orders\nusername: orders_app\nsize: small\nstorageGb: 20\nmaxStorageGb: 100\nbackupRetentionDays: 14\nowner: team-orders\nrequester: alice\ndomain: commerce\nrisk: low\n",
    ),
];

/// Applies a request as the requests role, approved first by whoever
/// its route may need (approvals are the registry's: no AWS call; one its
/// route does not need is refused, and changes nothing).
fn apply_request(w: &World, id: &str) -> gp_test::Output {
    for approver in ["bob", "sam"] {
        w.gp(Some("requests"), approver, &["request", "approve", id]);
    }
    w.gp(Some("requests"), "alice", &["request", "apply", id])
}

/// Whether `pattern` (IAM's wildcards) matches `arn`.
fn covered(policy: &Value, action: &str, arn: &str) -> bool {
    policy["Statement"].as_array().unwrap().iter().any(|s| {
        s["Action"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a.as_str() == Some(action))
            && s["Resource"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| gp_core::iam::matches(r.as_str().unwrap(), arn, false))
    })
}

#[test]
fn each_role_runs_its_real_commands_with_only_its_derived_policy_and_its_names() {
    let mut w = World::golden_v1();
    let roles = ["plan", "apply", "teardown", "reap", "requests"];
    let policies: BTreeMap<&str, Value> = roles.iter().map(|r| (*r, w.policy(r))).collect();
    for r in roles {
        w.user(r, &widened(&policies[r], None));
    }
    w.enforce(true);

    // apply: the foundational plane with the secrets store and S3 state,
    // then a build.
    passes(
        &w.gp(
            Some("apply"),
            "tester",
            &["deploy", "--env", "dev", "--foundational"],
        ),
        "foundational deploy",
    );
    let out = w.gp(
        Some("apply"),
        "tester",
        &["deploy", "--env", "dev", "--build-id", "23-01-26-01"],
    );
    passes(&out, "build deploy");

    // What the runs made, read with the test's own credentials.
    w.enforce(false);
    let made = w.moto.py(
        "sm = boto3.client('secretsmanager', endpoint_url=e)
s3 = boto3.client('s3', endpoint_url=e, config=__import__('botocore.config').config.Config(s3={'addressing_style': 'path'}))
arns = [x['ARN'] for p in sm.get_paginator('list_secrets').paginate() for x in p['SecretList']]
objs = ['arn:aws:s3:::goldenpath-idp-dev-tfstate/' + o['Key'] for o in s3.list_objects_v2(Bucket='goldenpath-idp-dev-tfstate').get('Contents', [])]
print(json.dumps({'secrets': arns, 'objects': objs}))",
    );
    let made: Value = serde_json::from_str(made.trim()).unwrap();
    let secrets: Vec<&str> = made["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(secrets.len() >= 3, "{made}");
    for arn in &secrets {
        assert!(
            covered(&policies["apply"], "secretsmanager:CreateSecret", arn),
            "{arn} is not among the apply role's names"
        );
        assert!(
            covered(&policies["plan"], "secretsmanager:GetSecretValue", arn),
            "{arn} is not among the plan role's reads"
        );
    }
    let objects: Vec<&str> = made["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(objects.iter().any(|o| o.contains("23-01-26-01")), "{made}");
    for arn in &objects {
        assert!(
            covered(&policies["apply"], "s3:PutObject", arn),
            "{arn}: not the apply role's state"
        );
        assert!(
            covered(&policies["plan"], "s3:GetObject", arn),
            "{arn}: not the plan role's state"
        );
        if arn.contains("/builds/23-01-26-01/") {
            assert!(
                covered(&policies["teardown"], "s3:PutObject", arn),
                "{arn}: a teardown writes the emptied state"
            );
        } else {
            assert!(
                !covered(&policies["teardown"], "s3:PutObject", arn),
                "{arn}: a teardown never writes the foundational or persistent state"
            );
        }
    }
    // The lock table and the state bucket, by name.
    assert!(covered(
        &policies["plan"],
        "dynamodb:PutItem",
        "arn:aws:dynamodb:eu-west-2:123456789012:table/goldenpath-idp-dev-tflock"
    ));
    assert!(covered(
        &policies["plan"],
        "s3:ListBucket",
        "arn:aws:s3:::goldenpath-idp-dev-tfstate"
    ));
    // A role never reaches another environment's names.
    assert!(!covered(
        &policies["apply"],
        "secretsmanager:CreateSecret",
        "arn:aws:secretsmanager:eu-west-2:123456789012:secret:goldenpath/prod/rds/admin-AbCdEf"
    ));
    assert!(!covered(
        &policies["apply"],
        "s3:PutObject",
        "arn:aws:s3:::goldenpath-idp-prod-tfstate/envs/prod/terraform.tfstate"
    ));
    w.enforce(true);

    // plan: the pull request's plan and the schedule's drift.
    passes(
        &w.gp(
            Some("plan"),
            "tester",
            &["plan", "--env", "dev", "--build-id", "auto"],
        ),
        "plan",
    );
    passes(
        &w.gp(
            Some("plan"),
            "tester",
            &["drift", "--env", "dev", "--foundational"],
        ),
        "drift",
    );

    // requests: one of each kind.
    for id in ["S3-0001", "SEC-0001", "ECR-0001", "RDS-0001"] {
        passes(&apply_request(&w, id), id);
    }
    w.enforce(false);
    let made = w.moto.py(
        "s3 = boto3.client('s3', endpoint_url=e)
sm = boto3.client('secretsmanager', endpoint_url=e)
ecr = boto3.client('ecr', endpoint_url=e)
print(json.dumps({'bucket': 'arn:aws:s3:::goldenpath-dev-orders-logs' if any(b['Name'] == 'goldenpath-dev-orders-logs' for b in s3.list_buckets()['Buckets']) else None,
  'secret': sm.describe_secret(SecretId='goldenpath/dev/payments/stripe-key')['ARN'],
  'repository': ecr.describe_repositories(repositoryNames=['payments/api'])['repositories'][0]['repositoryArn']}))",
    );
    let made: Value = serde_json::from_str(made.trim()).unwrap();
    assert!(
        covered(
            &policies["requests"],
            "s3:CreateBucket",
            made["bucket"].as_str().unwrap()
        ),
        "{made}"
    );
    assert!(
        covered(
            &policies["requests"],
            "secretsmanager:CreateSecret",
            made["secret"].as_str().unwrap()
        ),
        "{made}"
    );
    assert!(
        covered(
            &policies["requests"],
            "ecr:CreateRepository",
            made["repository"].as_str().unwrap()
        ),
        "{made}"
    );
    // The requests role cannot write the platform's own secrets.
    assert!(!covered(
        &policies["requests"],
        "secretsmanager:PutSecretValue",
        "arn:aws:secretsmanager:eu-west-2:123456789012:secret:goldenpath/dev/rds/admin-AbCdEf"
    ));
    w.enforce(true);

    // teardown: the build, its state, its secrets; the tag sweep.
    passes(
        &w.gp(
            Some("teardown"),
            "tester",
            &["teardown", "--env", "dev", "--build-id", "23-01-26-01"],
        ),
        "teardown",
    );

    // reap: a build past its TTL.
    passes(
        &w.gp(
            Some("apply"),
            "tester",
            &[
                "deploy",
                "--env",
                "dev",
                "--build-id",
                "23-01-26-02",
                "--ttl",
                "1s",
            ],
        ),
        "short build",
    );
    w.wait_expired("23-01-26-02");
    let out = w.gp(Some("reap"), "tester", &["reap", "--env", "dev"]);
    passes(&out, "reap");
    assert!(
        out.stdout.contains("23-01-26-02") || out.stderr.contains("23-01-26-02"),
        "{}",
        out.transcript()
    );

    // Without the policy nothing runs: the denial names the action.
    w.enforce(false);
    w.user("plan", &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}));
    w.enforce(true);
    let out = w.gp(
        Some("plan"),
        "tester",
        &["drift", "--env", "dev", "--foundational"],
    );
    assert_ne!(out.code, 0, "{}", out.transcript());
}

/// The platform `necessity` runs: the secrets store, S3 state with a
/// DynamoDB lock, a build's secret; requests of the three cloud kinds.
const LIGHT: &str = "apiVersion: goldenpath.dev/v1alpha1
kind: Platform
project: goldenpath-idp
prefix: goldenpath
domain: goldenpathidp.io
owner: platform-team
secrets: { backend: aws, region: eu-west-2 }
environments:
  dev:
    ephemeral: { maxTier: 2, ttl: 24h }
requests:
  approvers: { platform: [bob], security: [sam] }
# No cluster here to deliver to: what a delivery renders is not checked.
policy: { enabled: false }
components:
  - name: vpc
    plane: foundational
    tier: 0
    driver: terraform
    settings:
      root: stand-ins/vpc
      backend:
        s3: { bucket: \"goldenpath-idp-{env}-tfstate\", region: eu-west-2, usePathStyle: true, dynamodbTable: \"goldenpath-idp-{env}-tflock\" }
  - name: cluster
    plane: disposable
    tier: 0
    driver: terraform
    needs: [vpc]
    settings:
      root: stand-ins/cluster
      backend:
        s3: { bucket: \"goldenpath-idp-{env}-tfstate\", region: eu-west-2, usePathStyle: true, dynamodbTable: \"goldenpath-idp-{env}-tflock\" }
      variables:
        vpc_id: ${vpc.vpc_id}
        private_subnet_ids: ${vpc.private_subnet_ids}
  - name: tokens
    plane: disposable
    tier: 1
    driver: secrets
    settings:
      secrets:
        - name: app-token
          generate: [token]
        - name: api-key
          generate: [key]
        - name: signing-key
          generate: [key]
";

/// One role's run from a fresh world.
struct Case {
    role: &'static str,
    /// What runs first, with every role's full policy.
    before: fn(&World),
    /// The role's run.
    run: fn(&World) -> Vec<gp_test::Output>,
}

fn light() -> World {
    let moto = Moto::start();
    let route53 = Moto::start();
    let dir = gp_test::tempdir();
    let work = dir.path().join("work");
    std::fs::create_dir_all(work.join("requests/dev")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o755)).unwrap();
    for root in ["vpc", "cluster"] {
        copy_dir(
            &gp_test::example(&format!("golden-v1/local-aws/stand-ins/{root}")),
            &work.join("stand-ins").join(root),
        );
    }
    std::fs::write(work.join("goldenpath.yaml"), LIGHT).unwrap();
    for (name, text) in &REQUESTS[..3] {
        std::fs::write(work.join("requests/dev").join(name), text).unwrap();
    }
    World {
        moto,
        route53,
        _dir: dir,
        work,
        users: BTreeMap::new(),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        if e.path().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// moto's state and goldenpath's, back to nothing.
fn reset(w: &World) {
    w.enforce(false);
    w.moto.py(
        "import urllib.request
urllib.request.urlopen(urllib.request.Request(e + '/moto-api/reset', data=b'', method='POST', headers={'Content-Type': 'application/octet-stream'})).read()
s3 = boto3.client('s3', endpoint_url=e)
s3.create_bucket(Bucket='goldenpath-idp-dev-tfstate', CreateBucketConfiguration={'LocationConstraint': 'eu-west-2'})
boto3.client('dynamodb', endpoint_url=e).create_table(TableName='goldenpath-idp-dev-tflock', KeySchema=[{'AttributeName': 'LockID', 'KeyType': 'HASH'}], AttributeDefinitions=[{'AttributeName': 'LockID', 'AttributeType': 'S'}], BillingMode='PAY_PER_REQUEST')",
    );
    for d in [".goldenpath", "gitops"] {
        let _ = std::fs::remove_dir_all(w.work.join(d));
    }
}

#[test]
fn with_any_one_action_removed_a_roles_run_fails_naming_it() {
    let mut w = light();
    let roles = ["plan", "apply", "teardown", "reap", "requests"];
    let policies: BTreeMap<&str, Value> = roles.iter().map(|r| (*r, w.policy(r))).collect();
    /// The foundational plane and a build that expires in a second.
    fn deploy(w: &World) {
        passes(
            &w.gp(
                Some("apply"),
                "tester",
                &["deploy", "--env", "dev", "--foundational"],
            ),
            "foundational",
        );
        passes(
            &w.gp(
                Some("apply"),
                "tester",
                &[
                    "deploy",
                    "--env",
                    "dev",
                    "--build-id",
                    "23-01-26-01",
                    "--ttl",
                    "1s",
                ],
            ),
            "build",
        );
    }
    let cases = [
        Case {
            role: "apply",
            before: |_| {},
            run: |w| {
                let mut outs = Vec::new();
                for args in [
                    &["deploy", "--env", "dev", "--foundational"][..],
                    &["deploy", "--env", "dev", "--build-id", "23-01-26-01"],
                    // Again: what is there is read.
                    &["deploy", "--env", "dev", "--build-id", "23-01-26-01"],
                ] {
                    let out = w.gp(Some("apply"), "tester", args);
                    let failed = out.code != 0;
                    outs.push(out);
                    if failed {
                        break;
                    }
                }
                outs
            },
        },
        Case {
            role: "plan",
            before: deploy,
            run: |w| {
                vec![
                    w.gp(
                        Some("plan"),
                        "tester",
                        &["plan", "--env", "dev", "--build-id", "23-01-26-01"],
                    ),
                    w.gp(
                        Some("plan"),
                        "tester",
                        &["drift", "--env", "dev", "--foundational"],
                    ),
                    w.gp(
                        Some("plan"),
                        "tester",
                        &["drift", "--env", "dev", "--build-id", "23-01-26-01"],
                    ),
                ]
            },
        },
        Case {
            role: "teardown",
            before: deploy,
            run: |w| {
                vec![w.gp(
                    Some("teardown"),
                    "tester",
                    &["teardown", "--env", "dev", "--build-id", "23-01-26-01"],
                )]
            },
        },
        Case {
            role: "reap",
            before: |w| {
                deploy(w);
                w.wait_expired("23-01-26-01");
            },
            run: |w| vec![w.gp(Some("reap"), "tester", &["reap", "--env", "dev"])],
        },
        Case {
            role: "requests",
            before: |_| {},
            run: |w| {
                // Each applied, then again: what is there is read first.
                let mut outs = Vec::new();
                for id in ["S3-0001", "SEC-0001", "ECR-0001"] {
                    for _ in 0..2 {
                        let out = apply_request(w, id);
                        let failed = out.code != 0;
                        outs.push(out);
                        if failed {
                            return outs;
                        }
                    }
                }
                outs
            },
        },
    ];
    let mut report = Vec::new();
    let mut unexercised: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for case in &cases {
        // The role's whole policy: the run passes.
        let full = &policies[case.role];
        let setup = |w: &mut World, role_policy: &Value| {
            reset(w);
            w.users.clear();
            for r in roles {
                w.user(r, &widened(&policies[r], None));
            }
            w.user(case.role, role_policy);
            w.enforce(true);
        };
        for action in std::iter::once(None).chain(actions(full).iter().map(|a| Some(a.clone()))) {
            let mut p = widened(full, action.as_deref());
            if action.is_none() {
                p = widened(full, None);
            }
            // The world before the role's run, with every role's full policy.
            setup(&mut w, &widened(full, None));
            (case.before)(&w);
            w.enforce(false);
            w.user(case.role, &p);
            w.enforce(true);
            let outs = (case.run)(&w);
            match &action {
                None => {
                    for o in &outs {
                        passes(o, case.role);
                    }
                }
                Some(a) => {
                    let failed = outs.iter().find(|o| o.code != 0);
                    let name = a.split_once(':').unwrap().1;
                    match failed {
                        Some(o) => {
                            let text = format!("{}{}", o.stdout, o.stderr);
                            let named = text.contains(a.as_str())
                                || text.contains(&format!(": {name}"))
                                || text.contains(&format!("S3: {name}"))
                                || (name == "ListBucket" && text.contains("ListObjects"));
                            if !named {
                                report.push(format!(
                                    "{}: without {a} the run failed without naming it:\n{}",
                                    case.role,
                                    o.transcript()
                                ));
                            }
                        }
                        None => {
                            unexercised.entry(case.role).or_default().insert(a.clone());
                        }
                    }
                }
            }
        }
    }
    assert!(report.is_empty(), "{}", report.join("\n\n"));
    // What a role's run did not need here is a path this run does not
    // take (named with why), or what moto checks under another name.
    let why: BTreeMap<(&str, &str), &str> = [
        (("apply", "secretsmanager:RestoreSecret"), "a secret scheduled for deletion is restored"),
        (("apply", "secretsmanager:PutSecretValue"), "a value changed or a key added is written"),
        (
            ("apply", "secretsmanager:TagResource"),
            "AWS needs it for CreateSecret with tags (moto does not check it there) and to retag",
        ),
        (("requests", "secretsmanager:RestoreSecret"), "a request's secret scheduled for deletion is restored"),
        (
            ("requests", "secretsmanager:TagResource"),
            "AWS needs it for CreateSecret with tags (moto does not check it there) and to retag",
        ),
        (
            ("requests", "ecr:TagResource"),
            "AWS needs it for CreateRepository with tags (moto does not check it there) and to retag",
        ),
        (("requests", "ecr:PutImageScanningConfiguration"), "an adopted repository's scan on push is set"),
        (("requests", "ecr:PutImageTagMutability"), "an adopted repository's tag mutability is set"),
        (("requests", "s3:PutBucketVersioning"), "a bucket whose request asks for versioning"),
        (("requests", "s3:PutBucketLogging"), "a bucket whose request asks for access logs"),
        // The requests role's store permissions serve database requests,
        // which this platform (no PostgreSQL) has none of; golden-v1's
        // run above applies one.
        (("requests", "secretsmanager:GetSecretValue"), "a database request's credentials"),
        (("requests", "secretsmanager:ListSecrets"), "a database request's credentials"),
        (("requests", "secretsmanager:PutSecretValue"), "a database request's credentials"),
    ]
    .into_iter()
    .collect();
    let mut unexplained = Vec::new();
    for (role, set) in &unexercised {
        for a in set {
            if !why.contains_key(&(*role, a.as_str())) && !MOTO_CANNOT_CHECK.contains(&a.as_str()) {
                unexplained.push(format!("{role}: {a}"));
            }
        }
    }
    assert!(
        unexplained.is_empty(),
        "declared, but a run without them passed: {unexplained:#?}"
    );
}

#[test]
fn the_vendored_handler_permissions_are_cfn_lints() {
    // The table goldenpath ships is what AWS's resource schemas say, as
    // the cfn-lint of the test environment carries them.
    let out = gp_test::run(
        std::process::Command::new(gp_test::moto::venv().join("bin/python"))
            .arg(gp_test::repo_root().join("scripts/iam-handlers.py"))
            .arg("--check"),
    );
    assert_eq!(out.code, 0, "{}", out.transcript());
}

/// golden-v1's spec and roots in a directory of its own.
fn golden_copy() -> tempfile::TempDir {
    let dir = gp_test::tempdir();
    std::fs::copy(
        gp_test::example("golden-v1/goldenpath.yaml"),
        dir.path().join("goldenpath.yaml"),
    )
    .unwrap();
    for root in ["vpc", "cluster", "irsa"] {
        copy_dir(
            &gp_test::example(&format!("golden-v1/infra/{root}")),
            &dir.path().join("infra").join(root),
        );
    }
    dir
}

fn gp_in(dir: &Path, args: &[&str]) -> gp_test::Output {
    gp_test::run(crate::gp().current_dir(dir).args(args))
}

#[test]
fn bad_input_is_named_at_its_file_line_and_column_and_nothing_is_written() {
    let dir = golden_copy();
    let d = dir.path();
    // golden-v1's roots: every type is in the table.
    let out = gp_in(d, &["iam", "policy", "--env", "dev", "--role", "apply"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let policy: Value = serde_json::from_str(&out.stdout).unwrap();
    let all = actions(&policy);
    for a in [
        "ec2:CreateVpc",
        "iam:CreateRole",
        "eks:CreateCluster",
        "secretsmanager:CreateSecret",
        "route53:ChangeResourceRecordSets",
        "dynamodb:PutItem",
    ] {
        assert!(all.contains(a), "{a} missing from {all:?}");
    }
    // A type the table does not hold, at its line and column.
    let main = d.join("infra/vpc/main.tf");
    let mut text = std::fs::read_to_string(&main).unwrap();
    let line = text.lines().count() + 2;
    text.push_str("\n  resource \"aws_made_up_thing\" \"x\" {}\n");
    std::fs::write(&main, &text).unwrap();
    let out = gp_in(d, &["iam", "policy", "--env", "dev", "--role", "plan"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr.contains(&format!("infra/vpc/main.tf:{line}:13")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("terraformTypes"), "{}", out.stderr);
    // Named in the spec, it is granted.
    let spec = d.join("goldenpath.yaml");
    let mut s = std::fs::read_to_string(&spec).unwrap();
    s.push_str(
        "\niam:\n  terraformTypes:\n    aws_made_up_thing: { actions: [\"madeup:Describe*\"] }\n",
    );
    std::fs::write(&spec, s).unwrap();
    let out = gp_in(d, &["iam", "policy", "--env", "dev", "--role", "plan"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(out.stdout.contains("madeup:Describe*"));
    // A policy in use that is not JSON, or not a policy: at its position.
    std::fs::write(
        d.join("bad.json"),
        "{\n  \"Statement\": [\n    {\"Effect\": \"Allow\",, }\n  ]\n}\n",
    )
    .unwrap();
    let out = gp_in(
        d,
        &[
            "iam", "check", "--policy", "bad.json", "--env", "dev", "--role", "plan",
        ],
    );
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(out.stderr.contains("bad.json:3:"), "{}", out.stderr);
    std::fs::write(
        d.join("bad.json"),
        "{\"Statement\": [{\"Effect\": \"Perhaps\", \"Action\": \"s3:*\", \"Resource\": \"*\"}]}",
    )
    .unwrap();
    let out = gp_in(
        d,
        &[
            "iam", "check", "--policy", "bad.json", "--env", "dev", "--role", "plan",
        ],
    );
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(out.stderr.contains("bad.json:1:27"), "{}", out.stderr);
    // A saved plan that is not JSON.
    std::fs::write(d.join("plan.json"), "{\"resource_changes\": [\n  nope\n]}").unwrap();
    let out = gp_in(
        d,
        &[
            "iam",
            "policy",
            "--env",
            "dev",
            "--role",
            "apply",
            "--plan",
            "cluster=plan.json",
        ],
    );
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(out.stderr.contains("plan.json:2:"), "{}", out.stderr);
    let out = gp_in(
        d,
        &[
            "iam",
            "policy",
            "--env",
            "dev",
            "--role",
            "apply",
            "--plan",
            "argocd=plan.json",
        ],
    );
    assert_eq!(out.code, 2, "{}", out.transcript());
    // Other hostile arguments.
    for args in [
        &[
            "iam",
            "trust",
            "--repo",
            "acme/*",
            "--env",
            "dev",
            "--account-id",
            "123456789012",
        ][..],
        &[
            "iam",
            "trust",
            "--repo",
            "acme/platform",
            "--env",
            "dev",
            "--account-id",
            "12",
        ],
        &["iam", "policy", "--env", "dev", "--role", "admin"],
        &["iam", "policy", "--env", "nowhere", "--role", "plan"],
        &[
            "iam",
            "policy",
            "--env",
            "dev",
            "--role",
            "plan",
            "--account-id",
            "1234567890123",
        ],
    ] {
        let out = gp_in(d, args);
        assert_eq!(out.code, 2, "{args:?}\n{}", out.transcript());
    }
    // Nothing was written: no state, no registry.
    assert!(!d.join(".goldenpath").exists());
}

#[test]
fn a_saved_plan_scopes_what_it_names_and_the_trust_takes_only_the_jobs_subjects() {
    let dir = golden_copy();
    let d = dir.path();
    std::fs::write(
        d.join("irsa-plan.json"),
        serde_json::to_string(&json!({
            "format_version": "1.2",
            "resource_changes": [
                {"address": "aws_iam_role.this[\"external-dns\"]", "mode": "managed", "type": "aws_iam_role",
                 "change": {"actions": ["create"], "before": null, "after": {"name": "goldenpath-dev-external-dns"}}},
                {"address": "aws_iam_role_policy.external_dns", "mode": "managed", "type": "aws_iam_role_policy",
                 "change": {"actions": ["no-op"], "before": {"role": "goldenpath-dev-external-dns"}, "after": {"role": "goldenpath-dev-external-dns"}}}
            ]
        }))
        .unwrap(),
    )
    .unwrap();
    let out = gp_in(
        d,
        &[
            "iam",
            "policy",
            "--env",
            "dev",
            "--role",
            "apply",
            "--account-id",
            "123456789012",
            "--plan",
            "irsa=irsa-plan.json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.transcript());
    let policy: Value = serde_json::from_str(&out.stdout).unwrap();
    let role = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "TerraformAWSIAMRoleByPlannedName")
        .unwrap_or_else(|| panic!("{policy}"));
    assert_eq!(
        role["Resource"],
        json!(["arn:aws:iam::123456789012:role/goldenpath-dev-external-dns"])
    );
    // The account is pinned everywhere an ARN names one.
    let text = out.stdout.clone();
    assert!(!text.contains(":*:secret:"), "{text}");
    // The trust: exactly the subjects of the jobs that take each role.
    let out = gp_in(
        d,
        &[
            "iam",
            "trust",
            "--repo",
            "acme/platform",
            "--env",
            "dev",
            "--account-id",
            "123456789012",
            "--output",
            "json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.transcript());
    let t: Value = serde_json::from_str(&out.stdout).unwrap();
    let subjects = |role: &str| -> Vec<String> {
        t["roles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["role"] == role)
            .unwrap()["subjects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        subjects("requests"),
        ["repo:acme/platform:ref:refs/heads/main"]
    );
    assert_eq!(
        subjects("apply"),
        [
            "repo:acme/platform:pull_request",
            "repo:acme/platform:environment:goldenpath-dev",
            "repo:acme/platform:environment:goldenpath-foundational-dev"
        ]
    );
    for r in t["roles"].as_array().unwrap() {
        assert!(
            r["name"]
                .as_str()
                .unwrap()
                .starts_with("goldenpath-dev-ci-")
        );
        for s in r["subjects"].as_array().unwrap() {
            assert!(!s.as_str().unwrap().contains('*'));
        }
    }
    // The generated workflows assume exactly these role names.
    let out = gp_in(d, &["ci", "github", "--out", "wf"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let mut workflows = String::new();
    for e in std::fs::read_dir(d.join("wf")).unwrap().flatten() {
        workflows.push_str(&std::fs::read_to_string(e.path()).unwrap());
    }
    for r in t["roles"].as_array().unwrap() {
        assert!(
            workflows.contains(&format!("role/{}", r["name"].as_str().unwrap())),
            "{}",
            r["name"]
        );
    }
}
