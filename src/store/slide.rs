//! Sliding a visitor's expiration forward: rewriting their stale keys, by
//! the rules of [`crate::retention`].

use super::{KV_LIST_MAX, Store, UserRecord, actions_prefix, tombstone_key};
use crate::{
    anon_id::AnonId,
    kv::{Kv, KvError, Put},
};

/// Most keys one scan rewrites. With the lists and the record write it stays
/// well inside KV's 1000 operations per invocation, beside the request's own.
pub const SLIDE_BUDGET: usize = 500;

/// Lists one scan may make: enough for a visitor at the action cap.
const MAX_SLIDE_LISTS: usize = 12;

/// Rewrites run this many at a time.
const CONCURRENCY: usize = 25;

/// What a scan did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slid {
    /// Keys rewritten with a fresh expiration.
    pub rewritten: usize,
    /// No stale key is left, and the record says so.
    pub complete: bool,
}

impl<K: Kv> Store<'_, K> {
    /// Scans the visitor's keys at `now` and rewrites the stale ones, at
    /// most [`SLIDE_BUDGET`], each with its own value and metadata and a
    /// fresh expiration. Then writes the visitor's `record` (as
    /// [`Store::touch_record`] answered it): with `slid_at` = `now` when the
    /// scan finished, so the next scan waits a margin; otherwise as activity
    /// alone would, so the next activity resumes the scan.
    ///
    /// An erased visitor is left alone. A scan that races an erase can
    /// rewrite a key the erase just deleted; the tombstone hides it, and
    /// it expires on its own.
    ///
    /// # Errors
    ///
    /// The platform's [`KvError`]. Keys rewritten before it stay rewritten.
    pub async fn slide(&self, id: AnonId, record: UserRecord, now: i64) -> Result<Slid, KvError> {
        let prefix = actions_prefix(id);
        let tombstone = tombstone_key(id);
        let mut cursor: Option<String> = None;
        let mut rewritten = 0;
        let mut complete = false;

        for _ in 0..MAX_SLIDE_LISTS {
            let page = self.kv.list(&prefix, KV_LIST_MAX, cursor.as_deref()).await?;
            if page.keys.iter().any(|k| k.name == tombstone) {
                return Ok(Slid { rewritten, complete: true });
            }
            let stale: Vec<_> = page
                .keys
                .iter()
                .filter(|k| k.metadata.is_some() && self.retention.is_stale(k.expiration, now))
                .take(SLIDE_BUDGET - rewritten)
                .collect();
            let ttl_seconds = self.retention.write_ttl();
            for batch in stale.chunks(CONCURRENCY) {
                // A rewrite keeps the value and metadata: the value is the
                // metadata's JSON (see `Store::put_action`).
                let puts: Vec<Put<'_>> = batch
                    .iter()
                    .filter_map(|k| {
                        let meta = k.metadata.as_ref()?;
                        Some(Put {
                            key: &k.name,
                            value: meta.get(),
                            metadata: Some(meta),
                            ttl_seconds,
                        })
                    })
                    .collect();
                self.kv.put_all(&puts).await?;
                rewritten += batch.len();
            }
            if rewritten >= SLIDE_BUDGET {
                break;
            }
            if page.complete || page.cursor.is_none() {
                complete = true;
                break;
            }
            cursor = page.cursor;
        }

        let next = if complete {
            Some(UserRecord { last_activity_at: now, slid_at: now, ..record })
        } else {
            UserRecord::after_activity(Some(record), now)
        };
        if let Some(next) = next {
            self.put_record(id, &next).await?;
        }
        Ok(Slid { rewritten, complete })
    }
}
