//! The head file judged against its anchor in the registry.

use std::collections::BTreeMap;

use crate::RegistryError;
use crate::chain::{self, ChainKey, Head};
use crate::db::{Db, DbExt};

/// Judges the head file against its anchors in the registry: the file a
/// registry holding chained rows must have, of the generation the registry
/// last anchored (or the one after it, written by a process that stopped
/// before anchoring it). Returns the heads to check reads against, and why
/// the file cannot be trusted, if it cannot.
pub(crate) fn judge_heads(
    db: &mut dyn Db,
    key: &ChainKey,
    file: &chain::HeadFile,
) -> Result<(BTreeMap<String, Head>, Option<String>), RegistryError> {
    let path = file.path().display().to_string();
    file.locked(|| {
        let read = file.read_full(key);
        let anchor = db
            .rows(
                "SELECT generation, mac FROM head_anchors ORDER BY generation DESC LIMIT 1",
                &[],
                |r| (r.int(0).unwrap_or(0), r.string(1)),
            )?
            .into_iter()
            .next();
        let read = match read {
            Ok(r) => r,
            Err(e) => return Ok((BTreeMap::new(), Some(e))),
        };
        let Some(read) = read else {
            if let Some((g, _)) = anchor {
                return Ok((
                    BTreeMap::new(),
                    Some(format!(
                        "{path} is missing, but the registry anchored generation {g} of it: it was deleted, and rows deleted from a stream's end would go unseen"
                    )),
                ));
            }
            for t in chain::TABLES {
                if t.name == chain::PHASE_EVENTS.name {
                    continue;
                }
                let chained = db.scalar(
                    &format!(
                        "SELECT 1 FROM {} WHERE chain_mac IS NOT NULL LIMIT 1",
                        t.name
                    ),
                    &[],
                )?;
                if chained.is_some() {
                    return Ok((
                        BTreeMap::new(),
                        Some(format!(
                            "{path} is missing, but the registry holds chained {} rows: it was deleted, and rows deleted from a stream's end would go unseen",
                            t.name
                        )),
                    ));
                }
            }
            return Ok((BTreeMap::new(), None));
        };
        let (anchored, anchor_mac) = anchor.unwrap_or((0, String::new()));
        let problem = if read.generation < anchored {
            Some(format!(
                "{path} is generation {}, but the registry anchored generation {anchored}: an older copy replaced it",
                read.generation
            ))
        } else if read.generation > anchored + 1 {
            Some(format!(
                "{path} is generation {}, but the registry anchored only generation {anchored}: anchors were deleted",
                read.generation
            ))
        } else if read.generation == anchored
            && anchored > 0
            && anchor_mac != chain::anchor_mac(key, anchored, &read.mac)
        {
            Some(format!(
                "{path} is not the generation {anchored} the registry anchored (replaced, or its anchor forged)"
            ))
        } else {
            None
        };
        Ok((if problem.is_none() { read.heads } else { BTreeMap::new() }, problem))
    })
    .map_err(RegistryError::Invalid)?
}
