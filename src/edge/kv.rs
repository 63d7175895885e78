//! [`Kv`] over the Workers KV binding, through the `worker` crate.

use std::cell::OnceCell;

use wasm_bindgen::JsValue;
use worker::kv::KvStore;

use crate::{
    config::KV_BINDING,
    kv::{Kv, KvError, ListPage, ListedKey, Put},
};

/// The `ANON_KV` namespace, bound on first use: building a `KvStore` looks
/// up several methods on the binding, and most requests (minting, `whoami`)
/// never touch KV.
pub struct WorkerKv<'a> {
    env: &'a worker::Env,
    store: OnceCell<Option<KvStore>>,
}

impl<'a> WorkerKv<'a> {
    /// `None` when the namespace is not bound (one property lookup).
    pub fn new(env: &'a worker::Env) -> Option<Self> {
        let bound = js_sys::Reflect::has(env, &JsValue::from_str(KV_BINDING)).unwrap_or(false);
        bound.then(|| Self { env, store: OnceCell::new() })
    }

    fn store(&self, op: &'static str) -> Result<&KvStore, KvError> {
        self.store
            .get_or_init(|| self.env.kv(KV_BINDING).ok())
            .as_ref()
            .ok_or_else(|| KvError { op, detail: format!("{KV_BINDING} is not a KV namespace") })
    }
}

fn error(op: &'static str, e: &impl std::fmt::Display) -> KvError {
    KvError { op, detail: e.to_string() }
}

impl Kv for WorkerKv<'_> {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.store("get")?.get(key).text().await.map_err(|e| error("get", &e))
    }

    async fn put(&self, put: Put<'_>) -> Result<(), KvError> {
        let mut builder = self
            .store("put")?
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
        let mut builder =
            self.store("list")?.list().prefix(prefix.to_owned()).limit(u64::from(limit));
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
