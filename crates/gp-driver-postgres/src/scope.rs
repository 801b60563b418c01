//! What a journalled resource may be: checked against this component and
//! deployment before teardown or the orphan check touches it.

use super::*;

/// What a journalled resource is, once checked to be this deployment's.
pub(crate) enum Owned {
    Secret,
    Server(PathBuf),
    Role,
    Database,
}

impl PostgresDriver {
    /// Checks that a journalled resource is one this component in this
    /// deployment may own, before anything touches it: a secret under the
    /// deployment's own paths, the component's own managed data directory,
    /// a role or database that is neither the admin, nor reserved, nor
    /// (in a build) outside the build's own names.
    pub(crate) fn owned(
        &self,
        ctx: &ComponentCtx<'_>,
        r: &ResourceRef,
    ) -> Result<Owned, DriverError> {
        let refuse = |why: String| {
            DriverError::refused(format!(
                "the journal names {r} under `{}`, which {why}; nothing was touched",
                ctx.name()
            ))
        };
        if ctx.platform.component(ctx.name()).is_none() {
            return Err(DriverError::permanent(format!(
                "`{}` is no longer in the spec, so the instance holding {r} is unknown",
                ctx.name()
            ))
            .with_hint("put the component back into the spec to tear it down, then remove it"));
        }
        match r.kind.as_str() {
            "secret" => {
                if ctx.contract.owns_secret_path(&r.id) {
                    Ok(Owned::Secret)
                } else {
                    Err(refuse(format!(
                        "lies outside this deployment's secrets ({}...)",
                        ctx.contract.secret_scope()
                    )))
                }
            }
            "server" => {
                let data_dir = managed_dir(ctx, ctx.name()).join("data");
                if r.id == data_dir.display().to_string() {
                    Ok(Owned::Server(data_dir))
                } else {
                    Err(refuse(format!(
                        "is not its managed data directory {}",
                        data_dir.display()
                    )))
                }
            }
            "role" | "database" => {
                let name = r.id.as_str();
                let valid = if r.kind == "role" {
                    sql::check_role(name).is_ok()
                } else {
                    sql::check_database(name).is_ok()
                };
                if !valid || name == MANAGED_ADMIN {
                    return Err(refuse(
                        "is reserved or not a name goldenpath creates".into(),
                    ));
                }
                if let Some(b) = ctx.contract.build_id() {
                    let suffix = format!("_b{}", b.to_string().replace('-', ""));
                    if !name.ends_with(&suffix) {
                        return Err(refuse(format!(
                            "is not a per-build name of build {b} (`..{suffix}`)"
                        )));
                    }
                }
                Ok(if r.kind == "role" {
                    Owned::Role
                } else {
                    Owned::Database
                })
            }
            other => Err(refuse(format!(
                "is a `{other}`, a kind the postgres driver never creates"
            ))),
        }
    }

    /// An admin connection to the component's instance, from the spec;
    /// `None` when a managed instance no longer exists (its databases went
    /// with it).
    pub(crate) fn admin_for_teardown(
        &self,
        ctx: &ComponentCtx<'_>,
    ) -> Result<Option<postgres::Client>, DriverError> {
        let s: PostgresSettings = settings_at_apply(ctx)?;
        let Some(inst) = self.instance(ctx, &s, true)? else {
            return Ok(None);
        };
        if let Some(admin_env) = &inst.admin_env
            && admin_env.starts_with(gp_core::child_env::PRIVATE_PREFIX)
        {
            return Err(DriverError::configuration(format!(
                "the admin password may not come from {admin_env}, one of goldenpath's own variables"
            )));
        }
        sql::connect(&inst.admin, "postgres").map(Some)
    }
}
