//! [`Kv`] over the Workers KV binding, through the `worker` crate.

use worker::kv::KvStore;

use crate::kv::{Kv, KvError, ListPage, ListedKey, Put};

/// The `ANON_KV` namespace.
pub struct WorkerKv(pub KvStore);

fn error(op: &'static str, e: &impl std::fmt::Display) -> KvError {
    KvError { op, detail: e.to_string() }
}

impl Kv for WorkerKv {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.0.get(key).text().await.map_err(|e| error("get", &e))
    }

    async fn put(&self, put: Put<'_>) -> Result<(), KvError> {
        let mut builder = self
            .0
            .put(put.key, put.value)
            .map_err(|e| error("put", &e))?
            .expiration_ttl(put.ttl_seconds);
        if let Some(metadata) = put.metadata {
            builder = builder.metadata(metadata).map_err(|e| error("put", &e))?;
        }
        builder.execute().await.map_err(|e| error("put", &e))
    }

    async fn list(
        &self,
        prefix: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<ListPage, KvError> {
        let mut builder = self.0.list().prefix(prefix.to_owned()).limit(u64::from(limit));
        if let Some(cursor) = cursor {
            builder = builder.cursor(cursor.to_owned());
        }
        let page = builder.execute().await.map_err(|e| error("list", &e))?;
        Ok(ListPage {
            keys: page
                .keys
                .into_iter()
                .map(|k| ListedKey { name: k.name, metadata: k.metadata })
                .collect(),
            cursor: page.cursor.filter(|c| !c.is_empty()),
            complete: page.list_complete,
        })
    }
}
