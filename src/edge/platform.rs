//! [`Platform`] over the Workers rate-limiting bindings and `fetch`.

use std::sync::atomic::{AtomicBool, Ordering};

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::{
    log,
    platform::{Limiter, Platform, RateDecision},
    turnstile::{REQUEST_CONTENT_TYPE, SITEVERIFY_URL, TIMEOUT_MS},
};

/// Whether "this limiter is off" has been logged, per limiter, so that an
/// absent binding is reported once per isolate and not per request.
static MINT_OFF_LOGGED: AtomicBool = AtomicBool::new(false);
static SESSION_OFF_LOGGED: AtomicBool = AtomicBool::new(false);

pub struct WorkerPlatform<'a> {
    env: &'a worker::Env,
}

impl<'a> WorkerPlatform<'a> {
    pub fn new(env: &'a worker::Env) -> Self {
        Self { env }
    }
}

fn log_once(flag: &AtomicBool, line: impl FnOnce() -> String) {
    if !flag.swap(true, Ordering::Relaxed) {
        web_sys::console::log_1(&JsValue::from_str(&line()));
    }
}

impl Platform for WorkerPlatform<'_> {
    async fn rate_limit(&self, limiter: Limiter, key: &str) -> RateDecision {
        let flag = match limiter {
            Limiter::Mint => &MINT_OFF_LOGGED,
            Limiter::Session => &SESSION_OFF_LOGGED,
        };
        let limit = js_sys::Reflect::get(self.env, &JsValue::from_str(limiter.binding()))
            .ok()
            .filter(|b| b.is_object())
            .and_then(|b| {
                let f = js_sys::Reflect::get(&b, &JsValue::from_str("limit")).ok()?;
                f.dyn_into::<js_sys::Function>().ok().map(|f| (b, f))
            });
        let Some((binding, limit)) = limit else {
            log_once(flag, || log::note("warn", "rate_limit_off", Some(limiter.binding()), None));
            return RateDecision::Unbound;
        };
        // The binding is called directly (`limit({ key })`, answering
        // `{ success }`) rather than through the `worker` crate, whose
        // wrapper converts both through serde_wasm_bindgen.
        let outcome = async {
            let options = js_sys::Object::new();
            js_sys::Reflect::set(&options, &JsValue::from_str("key"), &JsValue::from_str(key))?;
            let promise: js_sys::Promise = limit.call1(&binding, &options)?.dyn_into()?;
            let result = JsFuture::from(promise).await?;
            js_sys::Reflect::get(&result, &JsValue::from_str("success"))
        };
        // A limiter that fails is treated as allowing: the limit protects
        // capacity, and refusing every visitor would be the worse outage.
        match outcome.await {
            Ok(success) if success.as_bool() == Some(false) => RateDecision::Limited,
            Ok(_) => RateDecision::Allowed,
            Err(e) => {
                let detail = super::describe(&e);
                let line =
                    log::note("warn", "rate_limit_failed", Some(limiter.binding()), Some(&detail));
                web_sys::console::log_1(&JsValue::from_str(&line));
                RateDecision::Allowed
            }
        }
    }

    async fn siteverify(&self, body: &str) -> Result<String, String> {
        let describe = |e: JsValue| super::describe(&e);
        let headers = web_sys::Headers::new().map_err(describe)?;
        headers.set("content-type", REQUEST_CONTENT_TYPE).map_err(describe)?;
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_headers(&headers);
        init.set_body(&JsValue::from_str(body));
        init.set_signal(Some(&web_sys::AbortSignal::timeout_with_u32(TIMEOUT_MS)));

        let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        let response = JsFuture::from(global.fetch_with_str_and_init(SITEVERIFY_URL, &init))
            .await
            .map_err(describe)?;
        let response: web_sys::Response = response.dyn_into().map_err(describe)?;
        if !response.ok() {
            return Err(format!("siteverify answered {}", response.status()));
        }
        let text = JsFuture::from(response.text().map_err(describe)?).await.map_err(describe)?;
        text.as_string().ok_or_else(|| "siteverify body is not text".to_owned())
    }
}
