//! Exit codes and hints for library errors, so that commands can use `?`.

/// goldenpath's exit statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// The operation failed.
    Failed = 1,
    /// Invalid input or usage.
    Invalid = 2,
    /// Refused by a guard.
    Refused = 3,
    /// `drift` found something changed outside goldenpath.
    Drifted = 4,
}

/// The exit code and hint a library error implies, if it is one we know.
pub fn classify(err: &(dyn std::error::Error + 'static)) -> Option<(Code, Option<String>)> {
    if let Some(e) = err.downcast_ref::<gp_core::ContractError>() {
        let hint = match e {
            gp_core::ContractError::UnknownEnvironment { .. } => {
                Some("pass one of the declared environments with --env".to_string())
            }
            gp_core::ContractError::TxtOverflow { .. } => Some(
                "shorten the host name or the spec's dns.txtPrefix so the ownership record fits"
                    .to_string(),
            ),
            _ => None,
        };
        return Some((Code::Invalid, hint));
    }
    if err.downcast_ref::<gp_core::BuildIdError>().is_some() {
        return Some((
            Code::Invalid,
            Some("build ids look like 23-01-26-01 (DD-MM-YY-NN); `auto` (the next free id) is for deploy and plan only".into()),
        ));
    }
    if let Some(e) = err.downcast_ref::<gp_engine::EngineError>() {
        use gp_engine::EngineError as E;
        return match e {
            E::Usage { hint, .. } => Some((Code::Invalid, hint.clone())),
            E::Refused { hint, .. } => Some((Code::Refused, hint.clone())),
            E::Failed { hint, .. } => Some((Code::Failed, hint.clone())),
            E::Graph(gp_engine::graph::GraphError::BadTarget { hint, .. }) => {
                Some((Code::Invalid, hint.clone()))
            }
            E::Graph(_) => Some((Code::Invalid, None)),
            E::Registry(r) => classify(r),
            E::Contract(c) => classify(c),
            _ => None,
        };
    }
    if let Some(e) = err.downcast_ref::<gp_driver_secrets::SecretsError>() {
        use gp_driver_secrets::SecretsError as S;
        return Some(match e {
            S::Path(_) | S::Unavailable(_) => (Code::Invalid, None),
            S::Key(_) => (
                Code::Invalid,
                Some(format!(
                    "set {} to the store's key (32 bytes, base64), or restore the key file",
                    gp_driver_secrets::store::KEY_ENV
                )),
            ),
            _ => (Code::Failed, None),
        });
    }
    if let Some(e) = err.downcast_ref::<gp_registry::RegistryError>() {
        use gp_registry::RegistryError as R;
        return Some(match e {
            R::BuildIdRetired { .. } => (
                Code::Refused,
                Some("use a new build id (--build-id auto), or re-use this one with --reuse-retired \"REASON\" (recorded with your name)".into()),
            ),
            R::LeaseHeld { env, deployment, .. } => (
                Code::Refused,
                Some(format!(
                    "wait for it to finish, or if that process is gone: goldenpath lease unlock --env {env} {} --force --reason \"...\"",
                    deployment_flag(deployment)
                )),
            ),
            R::Location(_) | R::Invalid(_) => (Code::Invalid, None),
            R::Tampered { .. } => (
                Code::Refused,
                Some("nothing was run; find every changed row with: goldenpath registry verify".into()),
            ),
            R::Key(_) => (
                Code::Invalid,
                Some(format!(
                    "set {} (the same on every runner), or restore registry.key beside registry.db",
                    crate::env::REGISTRY_KEY
                )),
            ),
            R::Missing(_) => (Code::Failed, None),
            _ => (Code::Failed, None),
        });
    }
    None
}

/// The command-line flag selecting a deployment key.
pub fn deployment_flag(key: &str) -> String {
    gp_core::Deployment::flags_of_key(key)
        .trim_start()
        .to_string()
}
