//! `request new KIND`: a new request file in the platform's layout, with
//! the next free id of its kind (past every id in a file or the registry),
//! in the folder of `requests.paths` that is the kind's (a glob naming the
//! kind, else the first), under the environment — written only when it
//! reads back as a valid request the spec's globs find.

use std::path::PathBuf;

use gp_core::request::template::{self, Ask, Common};
use gp_core::request::{Request, RequestId};

use super::discover::{is_request_path, literal_prefix};
use crate::{Engine, EngineError};

/// A new request, written.
#[derive(Clone, Debug)]
pub struct NewRequest {
    /// Its id.
    pub id: String,
    /// Its file, relative to the spec.
    pub file: PathBuf,
    /// The request as it reads back.
    pub request: Request,
}

impl Engine<'_> {
    /// Writes a new request file (see the module).
    pub fn request_new(
        &self,
        env: Option<&str>,
        owner: &str,
        requester: &str,
        title: Option<&str>,
        ask: &Ask,
    ) -> Result<NewRequest, EngineError> {
        let kind = ask.kind();
        if let Some(e) = env
            && self.platform.environment(e).is_none()
        {
            return Err(EngineError::usage(
                format!("environment `{}` is not declared", e.escape_debug()),
                None,
            ));
        }
        // Past every id in a file or in the registry.
        let mut used: Vec<String> = self
            .request_files()?
            .iter()
            .filter_map(|f| {
                let text = std::fs::read_to_string(f).ok()?;
                let node = gp_core::yaml::parse(&text).ok().flatten()?;
                gp_core::request::read::file_id(&node).map(str::to_string)
            })
            .collect();
        used.extend(self.request_history(None)?.into_iter().map(|e| e.request));
        let id = RequestId::next_free(kind, used.iter().map(String::as_str))
            .ok_or_else(|| {
                EngineError::usage(format!("every {}NNNN id is taken", kind.id_prefix()), None)
            })?
            .to_string();
        let globs: Vec<String> = self
            .platform
            .spec
            .requests
            .as_ref()
            .map(|q| q.paths.iter().map(|g| g.value.clone()).collect())
            .unwrap_or_default();
        let hints = [kind.as_str(), kind.noun()];
        let folder = globs
            .iter()
            .find(|g| {
                let lower = g.to_ascii_lowercase();
                hints.iter().any(|h| lower.contains(h))
            })
            .or(globs.first())
            .map_or_else(|| "requests".to_string(), |g| literal_prefix(g));
        let relative = PathBuf::from(folder)
            .join(env.unwrap_or(gp_core::request::GLOBAL))
            .join(format!("{id}.yaml"));
        let common = Common {
            id: id.clone(),
            env: env.map(str::to_string),
            owner: owner.to_string(),
            requester: requester.to_string(),
            title: title.map_or_else(|| format!("{} {}", kind.noun(), id), str::to_string),
            created: gp_registry::format_utc(gp_registry::now_us())
                .chars()
                .take(10)
                .collect(),
        };
        let text = template::render(&common, ask);
        // What is written must read back as a valid request that claims
        // nothing someone else owns, where the spec's globs find it.
        let request = Request::from_source(&relative, &text)?;
        self.check_enums(&request)?;
        if let Some(c) = self.request_claims(&request)?.into_iter().next() {
            return Err(EngineError::refused(c.to_string(), c.hint.clone()));
        }
        if !is_request_path(self.platform, &relative.to_string_lossy()) {
            return Err(EngineError::usage(
                format!(
                    "{} would not be found by requests.paths",
                    relative.display()
                ),
                Some("add a glob for it to requests.paths".into()),
            ));
        }
        let path = self.platform.base_dir().join(&relative);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                EngineError::usage(format!("cannot create {}: {e}", dir.display()), None)
            })?;
        }
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
            .map_err(|e| {
                EngineError::usage(format!("cannot write {}: {e}", relative.display()), None)
            })?;
        Ok(NewRequest {
            id,
            file: relative,
            request,
        })
    }
}
