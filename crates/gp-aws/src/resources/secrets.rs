//! Secrets Manager secrets: tags and a resource policy, never a value.

use std::collections::BTreeMap;

use gp_core::request::DesiredSecret;
use gp_driver::DriverError;
use gp_driver::cloud::CloudPlan;

use super::{AwsResources, Change, REQUEST_TAG};

impl AwsResources {
    fn secret_policy(s: &DesiredSecret) -> Option<serde_json::Value> {
        let statement = |sid: &str, who: &[String], actions: &[&str]| {
            (!who.is_empty()).then(|| {
                serde_json::json!({
                    "Sid": sid,
                    "Effect": "Allow",
                    "Principal": {"AWS": who},
                    "Action": actions,
                    "Resource": "*",
                })
            })
        };
        let statements: Vec<serde_json::Value> = [
            statement(
                "GoldenpathRead",
                &s.read,
                &[
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:DescribeSecret",
                ],
            ),
            statement(
                "GoldenpathWrite",
                &s.write,
                &[
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:UpdateSecret",
                    "secretsmanager:DescribeSecret",
                ],
            ),
            statement(
                "GoldenpathBreakGlass",
                &s.break_glass,
                &[
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:DescribeSecret",
                    "secretsmanager:RestoreSecret",
                ],
            ),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!statements.is_empty())
            .then(|| serde_json::json!({"Version": "2012-10-17", "Statement": statements}))
    }

    pub(super) fn secret_changes<'a>(
        &'a self,
        s: &'a DesiredSecret,
    ) -> Result<(CloudPlan, Vec<Change<'a>>), DriverError> {
        let c = self.sm()?;
        let name = s.name.as_str();
        let mut tags = s.tags.clone();
        tags.insert(
            "recoveryWindowInDays".into(),
            s.recovery_window_days.to_string(),
        );
        let described = match self
            .aws
            .block_on(c.describe_secret().secret_id(name).send())
        {
            Ok(d) => Some(d),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|x| x.is_resource_not_found_exception()) =>
            {
                None
            }
            Err(e) => return Err(self.fail(&format!("read secret {name}"), &e)),
        };
        let current_tags: BTreeMap<String, String> = described
            .as_ref()
            .map(|d| {
                d.tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let mut plan = CloudPlan {
            exists: described.is_some(),
            tagged_request: current_tags.get(REQUEST_TAG).cloned(),
            goldenpath_tags: gp_driver::cloud::goldenpath_tags(&current_tags),
            ..CloudPlan::default()
        };
        let mut changes: Vec<Change<'a>> = Vec::new();
        let tag_list = |t: &BTreeMap<String, String>| -> Vec<aws_sdk_secretsmanager::types::Tag> {
            t.iter()
                .map(|(k, v)| {
                    aws_sdk_secretsmanager::types::Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                })
                .collect()
        };
        match &described {
            None => {
                let t = tag_list(&tags);
                changes.push(Change {
                    words: format!("create secret {name} (no value: its owners write it)"),
                    make: Box::new(move || {
                        self.aws
                            .block_on(
                                c.create_secret()
                                    .name(name)
                                    .description("made by goldenpath for a secret request; its value is written by its owners")
                                    .set_tags(Some(t))
                                    .send(),
                            )
                            .map(|_| ())
                            .map_err(|e| self.fail(&format!("create secret {name}"), &e))
                    }),
                });
            }
            Some(d) => {
                if d.deleted_date().is_some() {
                    changes.push(Change {
                        words: format!("restore secret {name} (scheduled for deletion)"),
                        make: Box::new(move || {
                            self.aws
                                .block_on(c.restore_secret().secret_id(name).send())
                                .map(|_| ())
                                .map_err(|e| self.fail(&format!("restore {name}"), &e))
                        }),
                    });
                }
                let missing: BTreeMap<String, String> = tags
                    .iter()
                    .filter(|(k, v)| current_tags.get(*k) != Some(v))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if !missing.is_empty() {
                    let words = format!(
                        "tags {}",
                        missing
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    let t = tag_list(&missing);
                    changes.push(Change {
                        words,
                        make: Box::new(move || {
                            self.aws
                                .block_on(c.tag_resource().secret_id(name).set_tags(Some(t)).send())
                                .map(|_| ())
                                .map_err(|e| self.fail(&format!("tag {name}"), &e))
                        }),
                    });
                }
            }
        }
        let want = Self::secret_policy(s);
        let have = if described.is_some() {
            self.read_or_absent(
                &format!("read the resource policy of {name}"),
                self.aws
                    .block_on(c.get_resource_policy().secret_id(name).send()),
                &[],
            )?
            .and_then(|p| p.resource_policy().map(str::to_string))
            .and_then(|p| serde_json::from_str::<serde_json::Value>(&p).ok())
        } else {
            None
        };
        if let Some(w) = want
            && have.as_ref() != Some(&w)
        {
            let principals = s.read.len() + s.write.len() + s.break_glass.len();
            if described.is_some() {
                let granted =
                    |p: Option<&serde_json::Value>| -> std::collections::BTreeSet<String> {
                        let mut out = std::collections::BTreeSet::new();
                        for st in p
                            .and_then(|p| p["Statement"].as_array())
                            .into_iter()
                            .flatten()
                        {
                            let who = &st["Principal"]["AWS"];
                            let who: Vec<String> = match who {
                                serde_json::Value::String(x) => vec![x.clone()],
                                serde_json::Value::Array(a) => a
                                    .iter()
                                    .filter_map(|x| x.as_str().map(str::to_string))
                                    .collect(),
                                _ => Vec::new(),
                            };
                            let actions = st["Action"].to_string();
                            for x in who {
                                out.insert(format!("{x} {actions}"));
                            }
                        }
                        out
                    };
                let (before, after) = (granted(have.as_ref()), granted(Some(&w)));
                let added: Vec<&String> = after.difference(&before).collect();
                if !added.is_empty() {
                    plan.weakens.push((
                        "resourcePolicy".into(),
                        format!("the resource policy grants {} more", added.len()),
                    ));
                }
            }
            changes.push(Change {
                words: format!("resource policy for {principals} principals (read {}, write {}, break-glass {})", s.read.len(), s.write.len(), s.break_glass.len()),
                make: Box::new(move || {
                    self.aws
                        .block_on(
                            c.put_resource_policy()
                                .secret_id(name)
                                .resource_policy(w.to_string())
                                .block_public_policy(true)
                                .send(),
                        )
                        .map(|_| ())
                        .map_err(|e| self.fail(&format!("set the resource policy of {name}"), &e))
                }),
            });
        }
        plan.changes = changes.iter().map(|c| c.words.clone()).collect();
        Ok((plan, changes))
    }
}
