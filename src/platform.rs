//! What the worker asks of the platform besides KV: rate limits and an
//! outbound call to Turnstile's siteverify. The edge glue implements it over
//! the Workers bindings; host tests implement it in memory.

/// The two rate limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limiter {
    /// Minting, keyed by client IP (`CF-Connecting-IP`). Binding `MINT_LIMITER`.
    Mint,
    /// The routes that take a token, keyed by anonymous id; more generous.
    /// Binding `SESSION_LIMITER`.
    Session,
}

impl Limiter {
    /// The binding's name in `wrangler.toml`.
    #[must_use]
    pub fn binding(self) -> &'static str {
        match self {
            Self::Mint => "MINT_LIMITER",
            Self::Session => "SESSION_LIMITER",
        }
    }
}

/// What a rate limiter said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Under the limit.
    Allowed,
    /// Over the limit.
    Limited,
    /// No such binding: the worker runs without this limit.
    Unbound,
}

/// Rate limits and outbound calls.
#[allow(async_fn_in_trait)]
pub trait Platform {
    /// Counts one request against `limiter` for `key`.
    async fn rate_limit(&self, limiter: Limiter, key: &str) -> RateDecision;

    /// Posts `body` (JSON) to Turnstile's siteverify and returns the answer.
    ///
    /// # Errors
    ///
    /// A description of the transport failure or timeout.
    async fn siteverify(&self, body: &str) -> Result<String, String>;
}

#[cfg(test)]
pub mod fake {
    //! A [`Platform`] for host tests: limits by count, canned siteverify.

    use std::{
        cell::{Cell, RefCell},
        collections::HashMap,
    };

    use super::{Limiter, Platform, RateDecision};

    /// Allows `limit` requests per (limiter, key), or everything when
    /// `limit` is `None`; answers siteverify with `siteverify`.
    pub struct FakePlatform {
        pub limit: Option<u32>,
        pub counts: RefCell<HashMap<(&'static str, String), u32>>,
        pub siteverify: RefCell<Result<String, String>>,
        pub siteverify_calls: Cell<u32>,
        pub last_request: RefCell<Option<String>>,
    }

    impl Default for FakePlatform {
        fn default() -> Self {
            Self {
                limit: None,
                counts: RefCell::default(),
                siteverify: RefCell::new(Ok(r#"{"success":true}"#.into())),
                siteverify_calls: Cell::new(0),
                last_request: RefCell::default(),
            }
        }
    }

    impl Platform for FakePlatform {
        async fn rate_limit(&self, limiter: Limiter, key: &str) -> RateDecision {
            let Some(limit) = self.limit else { return RateDecision::Unbound };
            let mut counts = self.counts.borrow_mut();
            let count = counts.entry((limiter.binding(), key.to_owned())).or_default();
            *count += 1;
            if *count > limit { RateDecision::Limited } else { RateDecision::Allowed }
        }

        async fn siteverify(&self, body: &str) -> Result<String, String> {
            self.siteverify_calls.set(self.siteverify_calls.get() + 1);
            *self.last_request.borrow_mut() = Some(body.to_owned());
            self.siteverify.borrow().clone()
        }
    }
}
