//! Anonymous sessions for single-page apps, served from the edge.
//!
//! A visitor who has not signed up gets an anonymous id and a signed JWT;
//! the app sends it as `Authorization: Bearer`, and this worker verifies it
//! and keeps that visitor's actions in Workers KV.
//!
//! The crate is laid out so that everything that decides something is plain
//! Rust, tested on the host, and the wasm glue is a thin layer at the edge:
//!
//! | module | concept |
//! |---|---|
//! | [`config`] | settings from bindings, checked against platform limits |
//! | [`anon_id`] | the visitor's id: generated, or parsed in canonical form |
//! | [`bearer`] | the `Authorization` header (RFC 6750) |
//! | [`keys`] | signing keys by `kid`, their algorithms, the public JWKS |
//! | [`token`] | minting and verifying the JWT (HS256 or EdDSA) |
//! | [`query`] | query-string parameters, decoded as forms |
//! | [`action`] | an action's text: the seed's `action` parameter, a structured action's `type` |
//! | [`action_json`] | the JSON body of a structured action |
//! | [`json`] | JSON carried as text: action data, KV metadata |
//! | [`page`] | the query of a page of actions |
//! | [`cursor`] | sealed list cursors |
//! | [`kv`] | the KV operations we use, as a trait |
//! | [`retention`] | sliding expiration: when a visitor's keys are rewritten |
//! | [`store`] | the KV layout, its write rules, sliding and erasing |
//! | [`routes`] | method and path to endpoint |
//! | [`cors`] | which origins may call the API from a browser |
//! | [`platform`] | rate limits and outbound calls, as a trait |
//! | [`turnstile`] | the optional Turnstile check on minting |
//! | [`handlers`] | the endpoints |
//! | [`error`] | every failure, and the one place it becomes a response |
//! | [`http`] | request and response as plain data |
//! | [`log`] | structured log lines |
//! | `edge` | the wasm entry point and the KV binding (wasm32 only) |

pub mod action;
pub mod action_json;
pub mod anon_id;
pub mod bearer;
pub mod config;
pub mod cors;
pub mod cursor;
pub mod error;
pub mod handlers;
pub mod http;
pub mod json;
pub mod keys;
pub mod kv;
pub mod log;
pub mod page;
pub mod platform;
pub mod query;
pub mod retention;
pub mod routes;
pub mod store;
pub mod token;
pub mod turnstile;

#[cfg(target_arch = "wasm32")]
mod edge;

#[cfg(test)]
mod properties;
