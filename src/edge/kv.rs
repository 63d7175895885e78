//! [`Kv`] over the Workers KV binding, called directly.
//!
//! The `worker` crate's `KvStore` converts a listing into Rust field by
//! field through `serde_wasm_bindgen`, which profiling put at about 4 ms of
//! a 1,000-key page (bench/profile.mjs, BENCHMARKS.md). Here the binding's
//! own methods are called, and a listing crosses into Rust as one JSON
//! string that `serde_json` parses: one conversion instead of thousands.
//! Only four methods are used, so this stays a few lines of glue.

use js_sys::{Function, JSON, Object, Promise, Reflect};
use serde::Deserialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::{
    config::KV_BINDING,
    json::Json,
    kv::{Kv, KvError, ListPage, ListedKey, Put},
};

/// The `ANON_KV` namespace.
pub struct WorkerKv {
    namespace: Object,
}

impl WorkerKv {
    /// `None` when the namespace is not bound.
    pub fn new(env: &worker::Env) -> Option<Self> {
        let namespace = Reflect::get(env, &JsValue::from_str(KV_BINDING)).ok()?;
        namespace.dyn_into::<Object>().ok().map(|namespace| Self { namespace })
    }

    /// Calls `method` on the namespace and awaits the promise it returns.
    async fn call(&self, op: &'static str, args: &[&JsValue]) -> Result<JsValue, KvError> {
        let promise = self.start(op, args)?;
        JsFuture::from(promise).await.map_err(|e| error(op, &e))
    }

    /// Calls `method` on the namespace and returns its promise unawaited.
    fn start(&self, op: &'static str, args: &[&JsValue]) -> Result<Promise, KvError> {
        let method = Reflect::get(&self.namespace, &JsValue::from_str(op))
            .ok()
            .and_then(|m| m.dyn_into::<Function>().ok())
            .ok_or_else(|| KvError { op, detail: format!("{KV_BINDING} has no {op} method") })?;
        let array: js_sys::Array = args.iter().copied().collect();
        let promise = method.apply(&self.namespace, &array).map_err(|e| error(op, &e))?;
        Ok(Promise::from(promise))
    }

    /// Starts every call and awaits them together: KV serves them
    /// concurrently, one round trip instead of one each.
    async fn all(&self, op: &'static str, promises: js_sys::Array) -> Result<(), KvError> {
        JsFuture::from(Promise::all(&promises)).await.map_err(|e| error(op, &e))?;
        Ok(())
    }

    fn put_args(put: &Put<'_>) -> Result<[JsValue; 3], KvError> {
        #[allow(clippy::cast_precision_loss)] // TTLs are far below 2^53
        let ttl = JsValue::from_f64(put.ttl_seconds as f64);
        let metadata = match put.metadata {
            Some(meta) => JSON::parse(meta.get()).map_err(|e| error("put", &e))?,
            None => JsValue::UNDEFINED,
        };
        let opts = options(&[("expirationTtl", &ttl), ("metadata", &metadata)])
            .map_err(|e| error("put", &e))?;
        Ok([JsValue::from_str(put.key), JsValue::from_str(put.value), opts.into()])
    }
}

fn error(op: &'static str, e: &JsValue) -> KvError {
    KvError { op, detail: super::describe(e) }
}

fn options(pairs: &[(&str, &JsValue)]) -> Result<Object, JsValue> {
    let object = Object::new();
    for (name, value) in pairs {
        Reflect::set(&object, &JsValue::from_str(name), value)?;
    }
    Ok(object)
}

/// A listing as KV returns it.
#[derive(Deserialize)]
struct Listing {
    keys: Vec<ListingKey>,
    list_complete: bool,
    #[serde(default)]
    cursor: Option<String>,
}

#[derive(Deserialize)]
struct ListingKey {
    name: String,
    /// Kept as text: parsed only when it is read as an action.
    #[serde(default)]
    metadata: Option<Json>,
    /// Unix seconds; KV may report it as a float.
    #[serde(default)]
    expiration: Option<f64>,
}

impl Kv for WorkerKv {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        let value =
            self.call("get", &[&JsValue::from_str(key), &JsValue::from_str("text")]).await?;
        Ok(value.as_string())
    }

    async fn put(&self, put: Put<'_>) -> Result<(), KvError> {
        let [key, value, opts] = Self::put_args(&put)?;
        self.call("put", &[&key, &value, &opts]).await?;
        Ok(())
    }

    async fn put_all(&self, puts: &[Put<'_>]) -> Result<(), KvError> {
        let promises = js_sys::Array::new();
        for put in puts {
            let [key, value, opts] = Self::put_args(put)?;
            promises.push(self.start("put", &[&key, &value, &opts])?.as_ref());
        }
        self.all("put", promises).await
    }

    async fn delete_all(&self, keys: &[&str]) -> Result<(), KvError> {
        let promises = js_sys::Array::new();
        for key in keys {
            promises.push(self.start("delete", &[&JsValue::from_str(key)])?.as_ref());
        }
        self.all("delete", promises).await
    }

    async fn list(
        &self,
        prefix: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<ListPage, KvError> {
        let cursor = cursor.map_or(JsValue::UNDEFINED, JsValue::from_str);
        let opts = options(&[
            ("prefix", &JsValue::from_str(prefix)),
            ("limit", &JsValue::from(limit)),
            ("cursor", &cursor),
        ])
        .map_err(|e| error("list", &e))?;
        let result = self.call("list", &[&opts]).await?;
        let json: String = JSON::stringify(&result).map_err(|e| error("list", &e))?.into();
        let listing: Listing = serde_json::from_str(&json)
            .map_err(|e| KvError { op: "list", detail: format!("unreadable listing: {e}") })?;
        Ok(ListPage {
            keys: listing
                .keys
                .into_iter()
                .map(|k| ListedKey {
                    name: k.name,
                    metadata: k.metadata,
                    // Whole seconds well inside i64; a fraction is dropped.
                    #[allow(clippy::cast_possible_truncation)]
                    expiration: k.expiration.map(|at| at as i64),
                })
                .collect(),
            cursor: listing.cursor.filter(|c| !c.is_empty()),
            complete: listing.list_complete,
        })
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.call("delete", &[&JsValue::from_str(key)]).await?;
        Ok(())
    }
}
