//! The KV layout: where a visitor's record and actions live, and the rules
//! for writing them. `docs/kv-schema.md` documents every key.
//!
//! KV has no compare-and-set, the last write to a key wins, and a key takes
//! about one write per second. So nothing here ever rewrites a shared list:
//! - each action is its own key, `a:<anon_id>:<ms>-<nonce>`, written once,
//!   so concurrent requests can never overwrite each other's actions;
//! - the action itself rides in the key's metadata, so one `list` call reads
//!   up to 1000 actions without a `get` per action;
//! - the visitor's record, `u:<anon_id>`, is rewritten at most once per
//!   [`RECORD_REFRESH_SECONDS`], and that write is best effort: if KV refuses
//!   it (for instance because concurrent requests all refreshed it at once),
//!   the action has still been stored and the request still succeeds.
//!
//! Every key is written with `expirationTtl` = `DATA_TTL_SECONDS`, so data
//! disappears by itself. Known trade-off: KV cannot extend a key's TTL
//! without rewriting it, so each action expires `DATA_TTL_SECONDS` after it
//! was recorded, not after the visitor's last activity. The record expires
//! `DATA_TTL_SECONDS` after the last activity. A visitor inactive for that
//! long has lost everything; an active one keeps a rolling window.
//!
//! Ordering: keys list in UTF-8 byte order, and the zero-padded millisecond
//! timestamp makes that chronological. [`action_time`] makes timestamps
//! strictly increasing within one isolate, so a client's sequential requests
//! (which reach the same isolate while it lives) keep their order even
//! within one millisecond. Across isolates, actions in the same millisecond
//! are ordered by their random nonce, and actions recorded at two locations
//! within clock skew of each other may list out of order.

use std::sync::atomic::{AtomicI64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    action::Action,
    anon_id::AnonId,
    kv::{Kv, KvError, ListedKey, Put},
};

/// How many actions the seed's endpoints return: the visitor's oldest 1000,
/// which is one KV list page.
pub const FIRST_PAGE_LIMIT: usize = 1000;

/// KV returns at most 1000 keys per list call.
const KV_LIST_MAX: u32 = 1000;

/// A list call may return a short page before the listing is complete; we
/// follow the cursor at most this many times to fill the first page, which
/// keeps every request far below KV's 1000 operations per invocation.
pub const MAX_LIST_CALLS: usize = 4;

/// Most actions one visitor may hold. Counting them costs one extra `list`
/// per 1000 actions beyond the first page, so only heavy visitors pay for
/// the check, and a visitor at the cap costs at most about a dozen lists per
/// new action.
pub const MAX_ACTIONS_PER_VISITOR: usize = 10_000;

/// Budget of `list` calls for counting toward the cap. If KV's pages come
/// back so short that the count cannot finish within it, the action is
/// allowed: the cap bounds storage, and a short page is KV's doing, not the
/// visitor's.
const MAX_COUNT_CALLS: usize = 2 * MAX_ACTIONS_PER_VISITOR / KV_LIST_MAX as usize;

/// The record's `last_activity_at` is refreshed at most this often, which
/// keeps the record key well under KV's one write per second per key.
pub const RECORD_REFRESH_SECONDS: i64 = 60;

/// The last action timestamp this isolate handed out.
static LAST_ACTION_MS: AtomicI64 = AtomicI64::new(i64::MIN);

/// The timestamp for an action recorded at `now_ms`: `now_ms`, or one past
/// the previous action's timestamp in this isolate if that is later. It runs
/// ahead of the clock only while one isolate records more than one action
/// per millisecond, and catches up as soon as the rate drops.
pub fn action_time(now_ms: i64) -> i64 {
    let mut last = LAST_ACTION_MS.load(Ordering::Relaxed);
    loop {
        let next = now_ms.max(last.saturating_add(1));
        match LAST_ACTION_MS.compare_exchange(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(actual) => last = actual,
        }
    }
}

/// The key of a visitor's record.
#[must_use]
pub fn record_key(id: AnonId) -> String {
    format!("u:{id}")
}

/// The prefix under which a visitor's actions are listed.
#[must_use]
pub fn actions_prefix(id: AnonId) -> String {
    format!("a:{id}:")
}

/// The key of one action: prefix, 13-digit milliseconds, random nonce.
#[must_use]
pub fn action_key(id: AnonId, at_ms: i64, nonce: u32) -> String {
    format!("a:{id}:{at_ms:013}-{nonce:08x}")
}

/// The visitor's record, stored as JSON at [`record_key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// When the visitor first recorded an action (Unix seconds).
    pub created_at: i64,
    /// When the visitor last recorded an action, to within
    /// [`RECORD_REFRESH_SECONDS`] (Unix seconds).
    pub last_activity_at: i64,
}

impl UserRecord {
    /// The record to write after activity at `now`, or `None` when the
    /// stored one is fresh enough to leave alone.
    #[must_use]
    pub fn after_activity(existing: Option<Self>, now: i64) -> Option<Self> {
        match existing {
            None => Some(Self { created_at: now, last_activity_at: now }),
            Some(r) if now.saturating_sub(r.last_activity_at) >= RECORD_REFRESH_SECONDS => {
                Some(Self { created_at: r.created_at, last_activity_at: now })
            }
            Some(_) => None,
        }
    }
}

/// One action as stored: the value and the metadata of its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAction {
    /// The action text.
    #[serde(rename = "a")]
    pub action: String,
    /// When it was recorded (Unix milliseconds).
    #[serde(rename = "t")]
    pub at_ms: i64,
}

/// A visitor's actions in order, as far as one request read them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Actions {
    /// `(key, action)` pairs, oldest first.
    pub items: Vec<(String, StoredAction)>,
    /// False when the visitor may have more actions than `items` holds.
    pub complete: bool,
    /// Where the listing stopped, when it is not complete.
    pub cursor: Option<String>,
}

impl Actions {
    /// The action texts, oldest first.
    #[must_use]
    pub fn texts(&self) -> Vec<String> {
        self.items.iter().map(|(_, a)| a.action.clone()).collect()
    }

    /// Adds an action this request has just written, if the listing (which
    /// KV may serve from a replica that has not seen the write yet) lacks it
    /// and it belongs on the page.
    pub fn include(&mut self, key: String, action: StoredAction) {
        let Err(at) = self.items.binary_search_by(|(k, _)| k.as_str().cmp(&key)) else {
            return;
        };
        // A truncated page ends before the newest actions; the new one is
        // the newest, so it belongs on the page only when the page is whole.
        if self.complete || at < self.items.len() {
            self.items.insert(at, (key, action));
            if self.items.len() > FIRST_PAGE_LIMIT {
                self.items.truncate(FIRST_PAGE_LIMIT);
                self.complete = false;
            }
        }
    }
}

/// The visitor's data in one KV namespace.
pub struct Store<'a, K> {
    kv: &'a K,
    ttl_seconds: u64,
}

impl<'a, K: Kv> Store<'a, K> {
    /// A store writing every key with `ttl_seconds` of expiration.
    pub fn new(kv: &'a K, ttl_seconds: u64) -> Self {
        Self { kv, ttl_seconds }
    }

    /// Writes one new action key. One KV write.
    ///
    /// # Errors
    ///
    /// The platform's [`KvError`]; the action was not stored.
    pub async fn add_action(
        &self,
        id: AnonId,
        action: &Action,
        at_ms: i64,
        nonce: u32,
    ) -> Result<(String, StoredAction), KvError> {
        let key = action_key(id, at_ms, nonce);
        let stored = StoredAction { action: action.as_str().to_owned(), at_ms };
        let meta = serde_json::to_value(&stored).map_err(|e| encode_error("put", &e))?;
        let value = meta.to_string();
        let put =
            Put { key: &key, value: &value, metadata: Some(&meta), ttl_seconds: self.ttl_seconds };
        self.kv.put(put).await?;
        Ok((key, stored))
    }

    /// Reads the visitor's oldest actions, up to [`FIRST_PAGE_LIMIT`]. One
    /// KV list, or up to [`MAX_LIST_CALLS`] while KV returns short pages.
    ///
    /// # Errors
    ///
    /// The platform's [`KvError`].
    pub async fn first_actions(&self, id: AnonId) -> Result<Actions, KvError> {
        let prefix = actions_prefix(id);
        let mut actions = Actions::default();
        let mut cursor: Option<String> = None;

        for _ in 0..MAX_LIST_CALLS {
            let wanted = FIRST_PAGE_LIMIT - actions.items.len();
            let limit = u32::try_from(wanted).unwrap_or(KV_LIST_MAX).min(KV_LIST_MAX);
            let page = self.kv.list(&prefix, limit, cursor.as_deref()).await?;
            actions.items.extend(page.keys.into_iter().filter_map(parse_listed));
            actions.complete = page.complete || page.cursor.is_none();
            cursor = page.cursor;
            if actions.complete || actions.items.len() >= FIRST_PAGE_LIMIT {
                break;
            }
        }
        actions.cursor = if actions.complete { None } else { cursor };
        Ok(actions)
    }

    /// Whether the visitor already holds [`MAX_ACTIONS_PER_VISITOR`]
    /// actions, continuing the count from `first`, the page already read.
    /// No KV operation when `first` is complete.
    ///
    /// # Errors
    ///
    /// The platform's [`KvError`].
    pub async fn at_capacity(&self, id: AnonId, first: &Actions) -> Result<bool, KvError> {
        let mut count = first.items.len();
        let mut cursor = first.cursor.clone();
        if first.complete || count >= MAX_ACTIONS_PER_VISITOR {
            return Ok(count >= MAX_ACTIONS_PER_VISITOR);
        }

        let prefix = actions_prefix(id);
        for _ in 0..MAX_COUNT_CALLS {
            let Some(from) = cursor.take() else { break };
            let page = self.kv.list(&prefix, KV_LIST_MAX, Some(&from)).await?;
            count += page.keys.len();
            if count >= MAX_ACTIONS_PER_VISITOR {
                return Ok(true);
            }
            if page.complete {
                break;
            }
            cursor = page.cursor;
        }
        Ok(false)
    }

    /// The visitor's record, if they have recorded an action. One KV read.
    ///
    /// # Errors
    ///
    /// The platform's [`KvError`].
    pub async fn record(&self, id: AnonId) -> Result<Option<UserRecord>, KvError> {
        let text = self.kv.get(&record_key(id)).await?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// How many actions the visitor holds, as far as KV's listing shows:
    /// one `list` per 1000 actions, within the counting budget that
    /// [`Store::at_capacity`] also uses.
    ///
    /// # Errors
    ///
    /// The platform's [`KvError`].
    pub async fn count_actions(&self, id: AnonId) -> Result<usize, KvError> {
        let prefix = actions_prefix(id);
        let mut count = 0;
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_COUNT_CALLS {
            let page = self.kv.list(&prefix, KV_LIST_MAX, cursor.as_deref()).await?;
            count += page.keys.len();
            cursor = page.cursor;
            if page.complete || cursor.is_none() {
                break;
            }
        }
        Ok(count)
    }

    /// Creates or refreshes the visitor's record after activity at `now`
    /// (Unix seconds): one KV read, plus one write when the record is new or
    /// older than [`RECORD_REFRESH_SECONDS`].
    ///
    /// # Errors
    ///
    /// The platform's [`KvError`]. Callers treat it as a warning: the
    /// record is bookkeeping, the actions are the data.
    pub async fn touch_record(&self, id: AnonId, now: i64) -> Result<(), KvError> {
        let key = record_key(id);
        let existing = self.kv.get(&key).await?;
        // A record we cannot parse is replaced; it holds nothing but times.
        let existing = existing.and_then(|text| serde_json::from_str::<UserRecord>(&text).ok());
        let Some(record) = UserRecord::after_activity(existing, now) else {
            return Ok(());
        };
        let value = serde_json::to_string(&record).map_err(|e| encode_error("put", &e))?;
        self.kv
            .put(Put { key: &key, value: &value, metadata: None, ttl_seconds: self.ttl_seconds })
            .await
    }
}

/// An action key whose metadata is not ours is skipped rather than failing
/// the whole listing; only this worker writes under the prefix.
fn parse_listed(key: ListedKey) -> Option<(String, StoredAction)> {
    let meta: Value = key.metadata?;
    let action = serde_json::from_value(meta).ok()?;
    Some((key.name, action))
}

fn encode_error(op: &'static str, e: &serde_json::Error) -> KvError {
    KvError { op, detail: format!("encoding failed: {e}") }
}

#[cfg(test)]
mod tests;
