//! An in-memory [`Kv`] for host tests, with KV's ordering, paging and TTL
//! checks, and a switch that makes listings lag behind writes.

use std::{cell::RefCell, collections::BTreeMap};

use serde_json::Value;

use super::{Kv, KvError, ListPage, ListedKey, Put};

#[derive(Debug, Clone)]
struct Entry {
    value: String,
    metadata: Option<Value>,
    ttl_seconds: u64,
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
    /// Operations performed: (gets, puts, lists).
    pub ops: RefCell<(u32, u32, u32)>,
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

    /// Makes every written key visible to listings.
    pub fn catch_up(&self) {
        self.unlisted.borrow_mut().clear();
    }

    /// The stored value and TTL of `key`.
    pub fn entry(&self, key: &str) -> Option<(String, Option<Value>, u64)> {
        self.entries.borrow().get(key).map(|e| (e.value.clone(), e.metadata.clone(), e.ttl_seconds))
    }

    /// All key names, in order.
    pub fn keys(&self) -> Vec<String> {
        self.entries.borrow().keys().cloned().collect()
    }

    /// Resets the operation counters.
    pub fn reset_ops(&self) {
        *self.ops.borrow_mut() = (0, 0, 0);
    }
}

impl Kv for MemoryKv {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.ops.borrow_mut().0 += 1;
        Ok(self.entries.borrow().get(key).map(|e| e.value.clone()))
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
            && serde_json::to_string(meta).map_or(0, |s| s.len()) > 1024
        {
            return Err(KvError { op: "put", detail: "metadata over 1024 bytes".into() });
        }
        let entry = Entry {
            value: put.value.to_owned(),
            metadata: put.metadata.cloned(),
            ttl_seconds: put.ttl_seconds,
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
        let limit = (limit.min(1000) as usize).min(self.page_cap.unwrap_or(usize::MAX));
        let unlisted = self.unlisted.borrow();
        let entries = self.entries.borrow();

        // The cursor is simply the last name returned.
        let visible = entries
            .range(prefix.to_owned()..)
            .take_while(|(name, _)| name.starts_with(prefix))
            .filter(|(name, _)| cursor.is_none_or(|c| name.as_str() > c))
            .filter(|(name, _)| !unlisted.contains(name));
        let mut keys: Vec<ListedKey> = visible
            .take(limit + 1)
            .map(|(name, e)| ListedKey { name: name.clone(), metadata: e.metadata.clone() })
            .collect();

        let complete = keys.len() <= limit;
        keys.truncate(limit);
        let cursor = if complete { None } else { keys.last().map(|k| k.name.clone()) };
        Ok(ListPage { keys, cursor, complete })
    }
}
