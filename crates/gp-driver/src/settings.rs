//! Reading a component's settings, and finding programs.

use super::*;

/// Reads a driver's typed settings, turning errors into diagnostics at the
/// offending node.
pub fn typed_settings<T: for<'de> Deserialize<'de>>(
    platform: &Platform,
    settings: &Node,
    placeholders: bool,
) -> Result<T, Vec<Diagnostic>> {
    let r = if placeholders {
        gp_core::yaml::from_node_with_placeholders(settings)
    } else {
        gp_core::yaml::from_node(settings)
    };
    r.map_err(|e| {
        let pos = e.pos.unwrap_or(settings.start);
        vec![
            platform
                .diagnostic(pos, format!("invalid settings: {}", e.message))
                .with_hint_opt(e.hint),
        ]
    })
}

/// As [`typed_settings`] at apply time, as a configuration error.
pub fn settings_at_apply<T: for<'de> Deserialize<'de>>(
    ctx: &ComponentCtx<'_>,
) -> Result<T, DriverError> {
    typed_settings(ctx.platform, ctx.settings, false).map_err(|d| {
        DriverError::configuration(format!("invalid settings for `{}`", ctx.name()))
            .with_diagnostics(d)
    })
}

/// A program on `PATH` (or `name` itself when it holds a `/`), when it is
/// an executable file.
pub fn find_program(name: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if name.contains('/') {
        let p = std::path::PathBuf::from(name);
        return executable(&p).then_some(p);
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.join(name))
        .find(|p| executable(p))
}
