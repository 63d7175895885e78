//! Erasing a visitor: "delete my data" that also revokes their tokens.
//!
//! The tombstone is written before anything is deleted, so from the first
//! call on the visitor's tokens stop working (see `docs/kv-schema.md` for
//! how far that reaches, and how fast at other locations). Then the record
//! and the action keys are deleted, as many as one invocation's budget of
//! KV operations allows; a visitor with more keys than that is erased over
//! several calls, and until then the tombstone hides what is left, which
//! also expires on its own.
//!
//! Known shortcoming: KV has no compare-and-set, so a request that checked
//! for the tombstone just before it was written can still write an action
//! after the erase's last listing. The erase lists once more after writing
//! the tombstone, which narrows that window to a write in flight at that
//! moment; such a key is hidden by the tombstone from every read and
//! expires with its TTL, and a later `DELETE /anon/me` removes it.

use super::{KV_LIST_MAX, Store, actions_prefix, record_key, tombstone_key};
use crate::{
    anon_id::AnonId,
    kv::{Kv, KvError, Put},
};

/// KV operations one erase may spend, of the 1000 an invocation allows.
pub const ERASE_BUDGET: usize = 900;

/// Deletes run this many at a time.
const CONCURRENCY: usize = 25;

/// What an erase did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Erased {
    /// Action keys deleted by this call (the record is deleted too).
    pub deleted: usize,
    /// Nothing of the visitor is left but the tombstone.
    pub complete: bool,
}

impl<K: Kv> Store<'_, K> {
    /// Writes the visitor's tombstone (unless the listing shows it already),
    /// to live `tombstone_ttl_seconds`, then deletes their record and action
    /// keys within [`ERASE_BUDGET`] operations.
    ///
    /// # Errors
    ///
    /// The platform's [`KvError`]. What was deleted before it stays deleted,
    /// and a repeated call carries on.
    pub async fn erase(
        &self,
        id: AnonId,
        now: i64,
        tombstone_ttl_seconds: u64,
    ) -> Result<Erased, KvError> {
        let prefix = actions_prefix(id);
        let tombstone = tombstone_key(id);
        let mut cursor: Option<String> = None;
        let mut spent = 0;
        let mut deleted = 0;
        let mut wrote_tombstone = false;
        let mut verifying = false;

        loop {
            let page = self.kv.list(&prefix, KV_LIST_MAX, cursor.as_deref()).await?;
            spent += 1;
            if cursor.is_none() {
                if !verifying && page.keys.first().is_none_or(|k| k.name != tombstone) {
                    let value = format!(r#"{{"erased_at":{now}}}"#);
                    let ttl_seconds = tombstone_ttl_seconds.max(crate::config::KV_MIN_TTL_SECONDS);
                    let put = Put { key: &tombstone, value: &value, metadata: None, ttl_seconds };
                    self.kv.put(put).await?;
                    wrote_tombstone = true;
                }
                self.kv.delete(&record_key(id)).await?;
                spent += 2;
            }

            let doomed: Vec<&str> = page
                .keys
                .iter()
                .map(|k| k.name.as_str())
                .filter(|name| *name != tombstone)
                .take(ERASE_BUDGET.saturating_sub(spent))
                .collect();
            for batch in doomed.chunks(CONCURRENCY) {
                self.kv.delete_all(batch).await?;
                deleted += batch.len();
                spent += batch.len();
            }

            let page_done =
                doomed.len() == page.keys.iter().filter(|k| k.name != tombstone).count();
            if page_done && (page.complete || page.cursor.is_none()) {
                // A request that looked for the tombstone before this call
                // wrote it may have written an action (or the record) since
                // the first listing. One more pass, listed after the
                // tombstone, finds what such a request left. A write still
                // in flight after that pass is possible (KV has no
                // compare-and-set); the tombstone hides it and it expires.
                if wrote_tombstone && !verifying && spent + 2 < ERASE_BUDGET {
                    verifying = true;
                    cursor = None;
                    continue;
                }
                return Ok(Erased { deleted, complete: !wrote_tombstone || verifying });
            }
            if !page_done || spent >= ERASE_BUDGET {
                return Ok(Erased { deleted, complete: false });
            }
            cursor = page.cursor;
        }
    }
}
