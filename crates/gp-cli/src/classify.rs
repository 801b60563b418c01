//! Exit codes and hints for library errors, so that commands can use `?`.

use crate::exit::Code;

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
            Some("build ids look like 23-01-26-01 (DD-MM-YY-NN), or use `auto`".into()),
        ));
    }
    None
}
