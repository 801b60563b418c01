//! What the registry records, as one stream in the order it was recorded:
//! deployment events and phase starts and ends, after a cursor. For a live
//! view (`goldenpath serve`'s event stream): a run in another process, or
//! on another runner against a shared PostgreSQL registry, shows up as it
//! writes.

use serde::Serialize;

use crate::chain::{DEPLOYMENT_EVENTS, PHASE_EVENTS};
use crate::db::{Named, Row};
use crate::{Registry, RegistryError};

/// One recorded thing.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StreamItem {
    /// Where it is in the stream: `{atUs}.{id}`; the next read starts after
    /// it.
    pub cursor: String,
    /// `deployment` (a lifecycle or side event), `phase` (a timed step
    /// starting or ending), or `tampered`: a row that does not check out
    /// against its chain (`data` says which and why).
    pub kind: String,
    /// Environment.
    pub env: String,
    /// Deployment key.
    pub deployment: String,
    /// When it was recorded.
    pub at_us: i64,
    /// The record, as the CLI's JSON shows it.
    pub data: serde_json::Value,
}

/// A cursor as [`StreamItem::cursor`] writes it.
pub fn parse_cursor(s: &str) -> Option<(i64, String)> {
    let (at, id) = s.split_once('.')?;
    let at: i64 = at.parse().ok()?;
    (!id.is_empty()
        && id.len() <= 96
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':')))
    .then(|| (at, id.to_string()))
}

impl Registry {
    /// What was recorded after `after` and no later than `until_us`, oldest
    /// first, at most `limit` items. Reading up to a moment slightly in the
    /// past (`until_us`) lets a writer whose clock read came just before
    /// another's still land in order.
    pub fn stream_after(
        &self,
        after: Option<&(i64, String)>,
        until_us: i64,
        limit: usize,
    ) -> Result<Vec<StreamItem>, RegistryError> {
        let (at, id) = after.cloned().unwrap_or((i64::MIN, String::new()));
        let limit = limit.clamp(1, 1000) as i64;
        // Every row checked against its chain; one that does not check
        // out is shown as what it is, never as an event.
        let mut items = Vec::new();
        let tampered = self.rows_checked(
            &DEPLOYMENT_EVENTS,
            "(t.at_us > ? OR (t.at_us = ? AND t.id > ?)) AND t.at_us <= ?",
            "ORDER BY t.at_us, t.id LIMIT ?",
            &[
                at.into(),
                at.into(),
                id.as_str().into(),
                until_us.into(),
                limit.into(),
            ],
            &mut |r, ok| {
                let ev = crate::deployments::event_row(r);
                items.push(StreamItem {
                    cursor: format!("{}.{}", ev.at_us, ev.id),
                    kind: if ok { "deployment" } else { "tampered" }.into(),
                    env: ev.env.clone(),
                    deployment: ev.deployment.clone(),
                    at_us: ev.at_us,
                    data: if ok {
                        serde_json::to_value(&ev).unwrap_or_default()
                    } else {
                        serde_json::Value::Null
                    },
                });
                Ok(())
            },
        )?;
        let mut phase_tampered = self.rows_checked(
            &PHASE_EVENTS,
            "(t.at_us > ? OR (t.at_us = ? AND t.id > ?)) AND t.at_us <= ?",
            "ORDER BY t.at_us, t.id LIMIT ?",
            &[
                at.into(),
                at.into(),
                id.as_str().into(),
                until_us.into(),
                limit.into(),
            ],
            &mut |r: &dyn Row, ok| {
                let r = Named(r);
                let at_us = r.int("at_us").unwrap_or_default();
                let id = r.string("id");
                items.push(StreamItem {
                    cursor: format!("{at_us}.{id}"),
                    kind: if ok { "phase" } else { "tampered" }.into(),
                    env: r.string("env"),
                    deployment: r.string("deployment"),
                    at_us,
                    data: if !ok {
                        serde_json::Value::Null
                    } else {
                        serde_json::json!({
                            "id": id,
                            "stage": r.string("kind"),
                            "phase": r.string("phase"),
                            "component": r.text("component"),
                            "startedUs": r.int("started_us"),
                            "endedUs": r.int("ended_us"),
                            "durationMs": r.int("duration_ms"),
                            "exitCode": r.int("exit_code"),
                            "added": r.int("added"),
                            "changed": r.int("changed"),
                            "destroyed": r.int("destroyed"),
                            "actor": r.text("actor"),
                        })
                    },
                });
                Ok(())
            },
        )?;
        // A tampered item carries what is wrong with it.
        let mut why: std::collections::HashMap<String, crate::Tampered> = tampered
            .into_iter()
            .chain(phase_tampered.drain(..))
            .map(|t| (t.id.clone(), t))
            .collect();
        for item in items.iter_mut().filter(|i| i.kind == "tampered") {
            let id = item
                .cursor
                .split_once('.')
                .map(|(_, id)| id)
                .unwrap_or_default();
            if let Some(t) = why.remove(id) {
                item.data = serde_json::to_value(&t).unwrap_or_default();
            }
        }
        items.sort_by(|a, b| (a.at_us, a.cursor.as_str()).cmp(&(b.at_us, b.cursor.as_str())));
        items.truncate(limit as usize);
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_cursor;

    #[test]
    fn cursors_of_both_kinds_read_back() {
        assert_eq!(
            parse_cursor("1796137093974934.b529b6d454c0ab16:end"),
            Some((1796137093974934, "b529b6d454c0ab16:end".into()))
        );
        assert_eq!(parse_cursor("12.abc"), Some((12, "abc".into())));
        for bad in ["", "12", "x.abc", "12.", "12.a b", "12.a'b"] {
            assert_eq!(parse_cursor(bad), None, "{bad}");
        }
    }
}
