//! The four Workers KV operations the worker uses, as a trait.
//!
//! The worker implements it over the KV binding (see `edge::kv`); host
//! tests implement it in memory, including a mode where listings lag behind
//! writes the way KV's do. Everything above this trait
//! is plain Rust, tested on the host.

use std::fmt;

use crate::json::Json;

/// One key from a listing, with the metadata stored beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedKey {
    /// The key's name.
    pub name: String,
    /// Its metadata, if it has any, as the JSON text KV returned.
    pub metadata: Option<Json>,
    /// When KV will drop it, in Unix seconds, if it expires. Every key this
    /// worker writes does; sliding expiration reads this to find the keys
    /// that need rewriting.
    pub expiration: Option<i64>,
}

/// One page of a prefix listing, in KV's order (UTF-8 byte order of names).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListPage {
    /// The keys on this page; may be fewer than asked for, even none, while
    /// `complete` is false.
    pub keys: Vec<ListedKey>,
    /// Where the next page starts; `None` once the listing is complete.
    pub cursor: Option<String>,
    /// True when there are no further pages.
    pub complete: bool,
}

/// A write: value, metadata and the expiration KV enforces.
#[derive(Debug, Clone, PartialEq)]
pub struct Put<'a> {
    /// The key.
    pub key: &'a str,
    /// The value, as text.
    pub value: &'a str,
    /// Metadata returned by listings, as JSON text (at most 1024 bytes).
    pub metadata: Option<&'a Json>,
    /// `expirationTtl`, in seconds; at least 60.
    pub ttl_seconds: u64,
}

/// A KV operation failed (the platform's error, not the caller's input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvError {
    /// Which operation: `get`, `put`, `list` or `delete`.
    pub op: &'static str,
    /// The platform's message. It may name a key, never a token.
    pub detail: String,
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "kv {} failed: {}", self.op, self.detail)
    }
}

impl std::error::Error for KvError {}

/// The subset of Workers KV this worker needs.
// The worker runs single-threaded, so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Kv {
    /// Reads a value as text; `None` when the key does not exist.
    async fn get(&self, key: &str) -> Result<Option<String>, KvError>;

    /// Writes a value with metadata and a TTL.
    async fn put(&self, put: Put<'_>) -> Result<(), KvError>;

    /// Lists up to `limit` keys (at most 1000) under `prefix`, from `cursor`.
    async fn list(
        &self,
        prefix: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<ListPage, KvError>;

    /// Deletes a key; deleting a key that does not exist succeeds.
    async fn delete(&self, key: &str) -> Result<(), KvError>;

    /// Writes several keys; the platform may run them concurrently. Each
    /// counts as one operation against KV's per-invocation limit.
    async fn put_all(&self, puts: &[Put<'_>]) -> Result<(), KvError> {
        for put in puts {
            self.put(put.clone()).await?;
        }
        Ok(())
    }

    /// Deletes several keys; the platform may run them concurrently.
    async fn delete_all(&self, keys: &[&str]) -> Result<(), KvError> {
        for key in keys {
            self.delete(key).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub mod memory;
