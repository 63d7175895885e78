//! An in-memory [`Kv`] for host tests, with KV's ordering, paging, TTL
//! checks and expiry on a clock the test sets, a switch that makes
//! listings lag behind writes, and modes that make `list` return short or
//! empty pages before the listing is complete, as KV may.

use std::{
    cell::{Cell, RefCell},
    collections::BTreeMap,
};

use super::{Kv, KvError, ListPage, ListedKey, Put};
use crate::json::Json;

#[derive(Debug, Clone)]
struct Entry {
    value: String,
    metadata: Option<Json>,
    ttl_seconds: u64,
    /// Unix seconds from which the key is gone.
    expiration: i64,
}

/// A KV namespace in a `BTreeMap`, counting every operation.
#[derive(Debug, Default)]
pub struct MemoryKv {
    entries: RefCell<BTreeMap<String, Entry>>,
    /// Keys written but not yet visible to `list`, as on a KV replica.
    unlisted: RefCell<Vec<String>>,
    lagging: bool,
    /// The largest page `list` returns, to exercise short pages.
    page_cap: Option<usize>,
    /// When set to `n`, of every `n + 1` list calls the first `n` return no
    /// keys but a cursor (where the listing stands), and the last a real
    /// page: KV's "empty page, listing not complete".
    empty_runs: Option<usize>,
    /// List calls made so far, which picks the empty ones.
    list_calls: Cell<usize>,
    /// The namespace's clock, in Unix seconds: keys expire against it.
    now: Cell<i64>,
    /// Operations performed: (gets, puts, lists).
    pub ops: RefCell<(u32, u32, u32)>,
    /// Deletes performed.
    pub deletes: Cell<u32>,
}

impl MemoryKv {
    /// A namespace whose listings lag: keys written through it are not
    /// listed until [`MemoryKv::catch_up`].
    pub fn lagging() -> Self {
        Self { lagging: true, ..Self::default() }
    }

    /// A namespace whose listings return at most `cap` keys a page.
    pub fn with_page_cap(cap: usize) -> Self {
        Self { page_cap: Some(cap), ..Self::default() }
    }

    /// A namespace where `n` empty pages, each with a cursor and
    /// `complete: false`, come before every real page (`n` = 1: every other
    /// list call returns zero keys).
    pub fn with_empty_pages(n: usize) -> Self {
        Self { empty_runs: Some(n), ..Self::default() }
    }

    /// Makes every written key visible to listings.
    pub fn catch_up(&self) {
        self.unlisted.borrow_mut().clear();
    }

    /// Sets the clock that expirations are computed and enforced against.
    pub fn set_now(&self, unix_seconds: i64) {
        self.now.set(unix_seconds);
    }

    /// The stored value, metadata and TTL of `key`, if it has not expired.
    pub fn entry(&self, key: &str) -> Option<(String, Option<Json>, u64)> {
        self.live(key).map(|e| (e.value, e.metadata, e.ttl_seconds))
    }

    /// When `key` expires (Unix seconds), if it exists.
    pub fn expiration(&self, key: &str) -> Option<i64> {
        self.live(key).map(|e| e.expiration)
    }

    /// All live key names, in order.
    pub fn keys(&self) -> Vec<String> {
        let now = self.now.get();
        self.entries
            .borrow()
            .iter()
            .filter(|(_, e)| e.expiration > now)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Resets the operation counters.
    pub fn reset_ops(&self) {
        *self.ops.borrow_mut() = (0, 0, 0);
        self.deletes.set(0);
    }

    fn live(&self, key: &str) -> Option<Entry> {
        self.entries.borrow().get(key).filter(|e| e.expiration > self.now.get()).cloned()
    }
}

impl Kv for MemoryKv {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.ops.borrow_mut().0 += 1;
        Ok(self.live(key).map(|e| e.value))
    }

    async fn put(&self, put: Put<'_>) -> Result<(), KvError> {
        self.ops.borrow_mut().1 += 1;
        if put.ttl_seconds < 60 {
            return Err(KvError { op: "put", detail: "expiration_ttl below 60".into() });
        }
        if put.key.len() > 512 {
            return Err(KvError { op: "put", detail: "key longer than 512 bytes".into() });
        }
        if let Some(meta) = put.metadata
            && meta.get().len() > 1024
        {
            return Err(KvError { op: "put", detail: "metadata over 1024 bytes".into() });
        }
        let ttl = i64::try_from(put.ttl_seconds).unwrap_or(i64::MAX);
        let entry = Entry {
            value: put.value.to_owned(),
            metadata: put.metadata.cloned(),
            ttl_seconds: put.ttl_seconds,
            expiration: self.now.get().saturating_add(ttl),
        };
        self.entries.borrow_mut().insert(put.key.to_owned(), entry);
        if self.lagging {
            self.unlisted.borrow_mut().push(put.key.to_owned());
        }
        Ok(())
    }

    async fn list(
        &self,
        prefix: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<ListPage, KvError> {
        self.ops.borrow_mut().2 += 1;
        let call = self.list_calls.get();
        self.list_calls.set(call + 1);
        if let Some(n) = self.empty_runs
            && call % (n + 1) < n
        {
            // Nothing returned, so the listing stands where it was: at the
            // caller's cursor, or before the first key under the prefix
            // (every such key sorts after the prefix itself).
            let cursor = cursor.unwrap_or(prefix).to_owned();
            return Ok(ListPage { keys: Vec::new(), cursor: Some(cursor), complete: false });
        }
        let limit = (limit.min(1000) as usize).min(self.page_cap.unwrap_or(usize::MAX));
        let unlisted = self.unlisted.borrow();
        let entries = self.entries.borrow();
        let now = self.now.get();

        // The cursor is simply the last name returned.
        let visible = entries
            .range(prefix.to_owned()..)
            .take_while(|(name, _)| name.starts_with(prefix))
            .filter(|(name, _)| cursor.is_none_or(|c| name.as_str() > c))
            .filter(|(name, e)| e.expiration > now && !unlisted.contains(name));
        let mut keys: Vec<ListedKey> = visible
            .take(limit + 1)
            .map(|(name, e)| ListedKey {
                name: name.clone(),
                metadata: e.metadata.clone(),
                expiration: Some(e.expiration),
            })
            .collect();

        let complete = keys.len() <= limit;
        keys.truncate(limit);
        let cursor = if complete { None } else { keys.last().map(|k| k.name.clone()) };
        Ok(ListPage { keys, cursor, complete })
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.deletes.set(self.deletes.get() + 1);
        self.entries.borrow_mut().remove(key);
        Ok(())
    }
}
