//! The KV layout: where a visitor's record and actions live, and the rules
//! for writing them. `docs/kv-schema.md` documents every key.
//!
//! KV has no compare-and-set, the last write to a key wins, and a key takes
//! about one write per second. So nothing here ever rewrites a shared list:
//! - each action is its own key, `a:<anon_id>:<ms>-<nonce>`, written once
//!   (and rewritten unchanged only to slide its expiration, see
//!   [`crate::retention`]), so concurrent requests can never overwrite each
//!   other's actions;
//! - the action itself rides in the key's metadata, so one `list` call reads
//!   up to 1000 actions without a `get` per action;
//! - the visitor's record, `u:<anon_id>`, is rewritten at most once per
//!   [`RECORD_REFRESH_SECONDS`], and that write is best effort: if KV refuses
//!   it (for instance because concurrent requests all refreshed it at once),
//!   the action has still been stored and the request still succeeds;
//! - erasing a visitor first writes a tombstone, `a:<anon_id>:!`, which sorts
//!   before every action key: the `list` that reads a visitor's first page
//!   sees it at no extra cost, so an erased visitor's token stops working on
//!   every route that lists (see [`Store::erase`]).
//!
//! Ordering: keys list in UTF-8 byte order, and the zero-padded millisecond
//! timestamp makes that chronological. [`action_time`] makes timestamps
//! strictly increasing within one isolate, so a client's sequential requests
//! (which reach the same isolate while it lives) keep their order even
//! within one millisecond. Across isolates, actions in the same millisecond
//! are ordered by their random nonce, and actions recorded at two locations
//! within clock skew of each other may list out of order.

mod erase;
mod slide;

use std::sync::atomic::{AtomicI64, Ordering};

use serde::{Deserialize, Serialize};

use crate::{
    action::Action,
    anon_id::AnonId,
    json::Json,
    kv::{Kv, KvError, ListedKey, Put},
    retention::Retention,
};

pub use erase::{ERASE_BUDGET, Erased};
pub use slide::{SLIDE_BUDGET, Slid};

/// How many actions the seed's endpoints return: the visitor's oldest 1000,
/// which is one KV list page.
pub const FIRST_PAGE_LIMIT: usize = 1000;

/// KV returns at most 1000 keys per list call.
const KV_LIST_MAX: u32 = 1000;

/// A list call may return a short page before the listing is complete; we
/// follow the cursor at most this many times to fill a page, which keeps
/// every request far below KV's 1000 operations per invocation.
pub const MAX_LIST_CALLS: usize = 4;

/// Most actions one visitor may hold. Counting them costs one extra `list`
/// per 1000 actions beyond the first page, so only heavy visitors pay for
/// the check, and a visitor at the cap costs at most about a dozen lists per
/// new action.
pub const MAX_ACTIONS_PER_VISITOR: usize = 10_000;

/// Budget of `list` calls for counting a visitor's actions. If KV's pages
/// come back so short that the count cannot finish within it, the count
/// stops there: for the cap, the action is then allowed (the cap bounds
/// storage, and a short page is KV's doing, not the visitor's).
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

/// The prefix under which a visitor's actions (and tombstone) are listed.
#[must_use]
pub fn actions_prefix(id: AnonId) -> String {
    format!("a:{id}:")
}

/// The key of one action: prefix, 13-digit milliseconds, random nonce.
#[must_use]
pub fn action_key(id: AnonId, at_ms: i64, nonce: u32) -> String {
    format!("a:{id}:{at_ms:013}-{nonce:08x}")
}

/// The key of an erased visitor's tombstone. `!` sorts before the digits
/// every action key continues with, so a listing returns it first.
#[must_use]
pub fn tombstone_key(id: AnonId) -> String {
    format!("a:{id}:!")
}

/// The visitor's record, stored as JSON at [`record_key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// When the visitor first recorded an action (Unix seconds).
    pub created_at: i64,
    /// When the visitor was last active, to within
    /// [`RECORD_REFRESH_SECONDS`] (Unix seconds).
    pub last_activity_at: i64,
    /// When a scan last left none of the visitor's keys stale (Unix
    /// seconds); see [`crate::retention`]. Missing in records written
    /// before sliding expiration, which are then scanned at once.
    #[serde(default)]
    pub slid_at: i64,
}

impl UserRecord {
    /// The record to write after activity at `now`, or `None` when the
    /// stored one is fresh enough to leave alone. A new visitor's keys are
    /// all new, so their record starts out as just scanned.
    #[must_use]
    pub fn after_activity(existing: Option<Self>, now: i64) -> Option<Self> {
        match existing {
            None => Some(Self { created_at: now, last_activity_at: now, slid_at: now }),
            Some(r) if now.saturating_sub(r.last_activity_at) >= RECORD_REFRESH_SECONDS => {
                Some(Self { last_activity_at: now, ..r })
            }
            Some(_) => None,
        }
    }
}

/// One action as stored: the value and the metadata of its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAction {
    /// The action text, or a structured action's type.
    #[serde(rename = "a")]
    pub action: String,
    /// When it was recorded (Unix milliseconds).
    #[serde(rename = "t")]
    pub at_ms: i64,
    /// A structured action's data; never `null`. Stored as a string holding
    /// its JSON text, so that it comes back exactly (see
    /// [`crate::json::as_string`]).
    #[serde(rename = "d", with = "crate::json::as_string", default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Json>,
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
    /// The visitor was erased: the listing began with their tombstone.
    /// Only a listing from the start of the prefix can tell.
    pub erased: bool,
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

/// How many actions a visitor holds, as far as KV's listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// The actions counted.
    pub actions: usize,
    /// The visitor was erased.
    pub erased: bool,
}

/// The visitor's data in one KV namespace.
pub struct Store<'a, K> {
    kv: &'a K,
    retention: Retention,
}

impl<'a, K: Kv> Store<'a, K> {
    /// A store writing and sliding every key by `retention`'s rules.
    pub fn new(kv: &'a K, retention: Retention) -> Self {
        Self { kv, retention }
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
        data: Option<&Json>,
        at_ms: i64,
        nonce: u32,
    ) -> Result<(String, StoredAction), KvError> {
        let key = action_key(id, at_ms, nonce);
        let stored =
            StoredAction { action: action.as_str().to_owned(), at_ms, data: data.cloned() };
        let meta = Json::of(&stored).map_err(|e| encode_error("put", &e))?;
        self.put_action(&key, &meta).await?;
        Ok((key, stored))
    }

    /// Writes an action key: the metadata is what listings read, and the
    /// value is the same JSON, for a `get` or a dashboard.
    async fn put_action(&self, key: &str, meta: &Json) -> Result<(), KvError> {
        let ttl_seconds = self.retention.write_ttl();
        self.kv.put(Put { key, value: meta.get(), metadata: Some(meta), ttl_seconds }).await
    }

    /// Reads the visitor's oldest actions, up to [`FIRST_PAGE_LIMIT`]. One
    /// KV list, or up to [`MAX_LIST_CALLS`] while KV returns short pages.
    ///
    /// # Errors
    ///
    /// The platform's [`KvError`].
    pub async fn first_actions(&self, id: AnonId) -> Result<Actions, KvError> {
        self.page(id, FIRST_PAGE_LIMIT, None).await
    }

    /// Reads up to `limit` (at most 1000) actions from KV's `cursor`, or from
    /// the oldest when there is none: one KV list, or up to
    /// [`MAX_LIST_CALLS`] while KV returns short pages. A page can come back
    /// short, even empty, with a cursor: the listing is then not complete.
    ///
    /// # Errors
    ///
    /// The platform's [`KvError`].
    pub async fn page(
        &self,
        id: AnonId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Actions, KvError> {
        let prefix = actions_prefix(id);
        let tombstone = tombstone_key(id);
        let mut actions = Actions::default();
        let mut cursor = cursor.map(str::to_owned);
        let from_start = cursor.is_none();

        for _ in 0..MAX_LIST_CALLS {
            let wanted = limit.saturating_sub(actions.items.len()).max(1);
            let wanted = u32::try_from(wanted).unwrap_or(KV_LIST_MAX).min(KV_LIST_MAX);
            let page = self.kv.list(&prefix, wanted, cursor.as_deref()).await?;
            if from_start && page.keys.first().is_some_and(|k| k.name == tombstone) {
                actions.erased = true;
                return Ok(actions);
            }
            actions.items.extend(page.keys.into_iter().filter_map(parse_listed));
            actions.complete = page.complete || page.cursor.is_none();
            cursor = page.cursor;
            if actions.complete || actions.items.len() >= limit {
                break;
            }
        }
        actions.cursor = if actions.complete { None } else { cursor };
        Ok(actions)
    }

    /// Whether the visitor was erased, by reading their tombstone: one KV
    /// read. Routes that list from the start learn it from the listing.
    ///
    /// # Errors
    ///
    /// The platform's [`KvError`].
    pub async fn is_erased(&self, id: AnonId) -> Result<bool, KvError> {
        Ok(self.kv.get(&tombstone_key(id)).await?.is_some())
    }

    /// Whether the visitor already holds [`MAX_ACTIONS_PER_VISITOR`]
    /// actions, continuing the count from `first`, the page already read.
    /// No KV operation when `first` is complete.
    ///
    /// # Errors
    ///
    /// The platform's [`KvError`].
    pub async fn at_capacity(&self, id: AnonId, first: &Actions) -> Result<bool, KvError> {
        let count = first.items.len();
        if first.complete || count >= MAX_ACTIONS_PER_VISITOR {
            return Ok(count >= MAX_ACTIONS_PER_VISITOR);
        }
        let more = self.count_from(id, first.cursor.clone(), MAX_ACTIONS_PER_VISITOR - count);
        Ok(count + more.await? >= MAX_ACTIONS_PER_VISITOR)
    }

    /// How many actions the visitor holds, and whether they were erased:
    /// one `list` per 1000 keys, within [`MAX_COUNT_CALLS`].
    ///
    /// # Errors
    ///
    /// The platform's [`KvError`].
    pub async fn tally(&self, id: AnonId) -> Result<Tally, KvError> {
        let first = self.page(id, FIRST_PAGE_LIMIT, None).await?;
        if first.erased || first.complete {
            return Ok(Tally { actions: first.items.len(), erased: first.erased });
        }
        let more = self.count_from(id, first.cursor, usize::MAX).await?;
        Ok(Tally { actions: first.items.len() + more, erased: false })
    }

    /// Counts action keys from KV's `cursor` on, stopping once `enough`
    /// are counted or the list budget is spent.
    async fn count_from(
        &self,
        id: AnonId,
        mut cursor: Option<String>,
        enough: usize,
    ) -> Result<usize, KvError> {
        let prefix = actions_prefix(id);
        let mut count = 0;
        for _ in 0..MAX_COUNT_CALLS {
            let Some(from) = cursor.take() else { break };
            let page = self.kv.list(&prefix, KV_LIST_MAX, Some(&from)).await?;
            count += page.keys.len();
            if count >= enough || page.complete {
                break;
            }
            cursor = page.cursor;
        }
        Ok(count)
    }

    /// The visitor's record, if they have been active. One KV read. A
    /// record we cannot parse counts as none: it holds nothing but times.
    ///
    /// # Errors
    ///
    /// The platform's [`KvError`].
    pub async fn record(&self, id: AnonId) -> Result<Option<UserRecord>, KvError> {
        let text = self.kv.get(&record_key(id)).await?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Creates or refreshes the visitor's record after activity at `now`
    /// (Unix seconds): one KV read, plus one write when the record is new or
    /// older than [`RECORD_REFRESH_SECONDS`]. Rewriting the record also
    /// slides its own expiration. When the visitor's keys are due a scan for
    /// stale expirations, it writes nothing and answers the record, which
    /// [`Store::slide`] then takes.
    ///
    /// # Errors
    ///
    /// The platform's [`KvError`]. Callers treat it as a warning: the
    /// record is bookkeeping, the actions are the data.
    pub async fn touch_record(&self, id: AnonId, now: i64) -> Result<Option<UserRecord>, KvError> {
        let existing = self.record(id).await?;
        if let Some(record) = existing.filter(|r| self.retention.scan_due(r.slid_at, now)) {
            // The scan writes the record when it ends: one write, not two
            // to the same key within a second.
            return Ok(Some(record));
        }
        if let Some(record) = UserRecord::after_activity(existing, now) {
            self.put_record(id, &record).await?;
        }
        Ok(None)
    }

    async fn put_record(&self, id: AnonId, record: &UserRecord) -> Result<(), KvError> {
        let value = serde_json::to_string(record).map_err(|e| encode_error("put", &e))?;
        let key = record_key(id);
        let ttl_seconds = self.retention.write_ttl();
        self.kv.put(Put { key: &key, value: &value, metadata: None, ttl_seconds }).await
    }
}

/// An action key whose metadata is not ours is skipped rather than failing
/// the whole listing; only this worker writes under the prefix. The
/// tombstone, which has no metadata, is skipped too.
fn parse_listed(key: ListedKey) -> Option<(String, StoredAction)> {
    let action = serde_json::from_str(key.metadata?.get()).ok()?;
    Some((key.name, action))
}

fn encode_error(op: &'static str, e: &serde_json::Error) -> KvError {
    KvError { op, detail: format!("encoding failed: {e}") }
}

#[cfg(test)]
mod tests;
