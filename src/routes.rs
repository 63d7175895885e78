//! Which handler a method and path reach. Paths are matched exactly, as the
//! seed's FastAPI app does; no percent-decoding, no trailing-slash aliases.
//!
//! Known shortcoming: `HEAD` is not routed, so it gets 405 with `Allow: GET`
//! even where `GET` works (RFC 9110 §9.3.2 says it should be answered like
//! `GET` without a body). Uptime checkers should use `GET /`.

use crate::error::ApiError;

/// An endpoint of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /`: a welcome message.
    Welcome,
    /// `GET /openapi.json`: the OpenAPI 3.1 description of this API, which
    /// the platform serves from the static assets before the worker runs.
    OpenApi,
    /// `GET /.well-known/jwks.json`: the public signing keys.
    Jwks,
    /// `POST /anon/login`: mint a new anonymous identity.
    Login,
    /// `GET /anon/whoami`: what the token says, with no KV operation.
    WhoAmI,
    /// `POST /anon/refresh`: a fresh token for the same visitor.
    Refresh,
    /// `GET /anon/me`: the visitor's record.
    Me,
    /// `DELETE /anon/me`: erase the visitor's data and revoke their tokens.
    Erase,
    /// `GET /v1/actions`: one page of the visitor's actions.
    ListActions,
    /// `POST /v1/actions`: record a structured action.
    RecordAction,
    /// `GET /items/my_anonymous_items`: the visitor's actions.
    MyItems,
    /// `POST /items/add_action?action=…`: record an action.
    AddAction,
    /// `GET /__test/panic`: panics (test builds only).
    #[cfg(feature = "test-hooks")]
    Panic,
}

/// Every endpoint as (path, method, route). `assets/openapi.json` describes
/// exactly these; a test keeps the two in step.
pub const TABLE: &[(&str, &str, Route)] = &[
    ("/", "GET", Route::Welcome),
    ("/openapi.json", "GET", Route::OpenApi),
    ("/.well-known/jwks.json", "GET", Route::Jwks),
    ("/anon/login", "POST", Route::Login),
    ("/anon/whoami", "GET", Route::WhoAmI),
    ("/anon/refresh", "POST", Route::Refresh),
    ("/anon/me", "GET", Route::Me),
    ("/anon/me", "DELETE", Route::Erase),
    ("/v1/actions", "GET", Route::ListActions),
    ("/v1/actions", "POST", Route::RecordAction),
    ("/items/my_anonymous_items", "GET", Route::MyItems),
    ("/items/add_action", "POST", Route::AddAction),
];

impl Route {
    /// A short name for logs.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Welcome => "welcome",
            Self::OpenApi => "openapi",
            Self::Jwks => "jwks",
            Self::Login => "login",
            Self::WhoAmI => "whoami",
            Self::Refresh => "refresh",
            Self::Me => "me",
            Self::Erase => "erase",
            Self::ListActions => "list_actions",
            Self::RecordAction => "record_action",
            Self::MyItems => "my_items",
            Self::AddAction => "add_action",
            #[cfg(feature = "test-hooks")]
            Self::Panic => "panic",
        }
    }
}

/// Finds the route for `method` and `path`.
///
/// # Errors
///
/// [`ApiError::NotFound`] for an unknown path, and
/// [`ApiError::MethodNotAllowed`] (with the methods the path allows) for a
/// known path reached with another method.
pub fn route(method: &str, path: &str) -> Result<Route, ApiError> {
    #[cfg(feature = "test-hooks")]
    if (method, path) == ("GET", "/__test/panic") {
        return Ok(Route::Panic);
    }
    let mut allowed = TABLE.iter().filter(|(p, _, _)| *p == path).peekable();
    if allowed.peek().is_none() {
        return Err(ApiError::NotFound);
    }
    let mut allow = Vec::new();
    for (_, m, route) in allowed {
        if *m == method {
            return Ok(*route);
        }
        allow.push(*m);
    }
    Err(ApiError::MethodNotAllowed { allow: allow.join(", ") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_document_describes_exactly_these_routes() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../assets/openapi.json")).expect("valid JSON");
        let mut documented: Vec<(String, String)> = doc["paths"]
            .as_object()
            .expect("paths")
            .iter()
            .flat_map(|(path, ops)| {
                ops.as_object()
                    .expect("operations")
                    .keys()
                    .map(|m| (path.clone(), m.to_uppercase()))
            })
            .collect();
        let mut served: Vec<(String, String)> =
            TABLE.iter().map(|(p, m, _)| ((*p).to_owned(), (*m).to_owned())).collect();
        documented.sort();
        served.sort();
        assert_eq!(documented, served);
    }

    #[test]
    fn each_endpoint_is_reached_by_its_method() {
        assert_eq!(route("GET", "/"), Ok(Route::Welcome));
        assert_eq!(route("GET", "/.well-known/jwks.json"), Ok(Route::Jwks));
        assert_eq!(route("POST", "/anon/login"), Ok(Route::Login));
        assert_eq!(route("GET", "/anon/whoami"), Ok(Route::WhoAmI));
        assert_eq!(route("GET", "/items/my_anonymous_items"), Ok(Route::MyItems));
        assert_eq!(route("POST", "/items/add_action"), Ok(Route::AddAction));
        assert_eq!(route("POST", "/anon/refresh"), Ok(Route::Refresh));
        assert_eq!(route("GET", "/anon/me"), Ok(Route::Me));
        assert_eq!(route("DELETE", "/anon/me"), Ok(Route::Erase));
        assert_eq!(route("GET", "/v1/actions"), Ok(Route::ListActions));
        assert_eq!(route("POST", "/v1/actions"), Ok(Route::RecordAction));
        assert_eq!(
            route("PUT", "/anon/me"),
            Err(ApiError::MethodNotAllowed { allow: "GET, DELETE".into() })
        );
    }

    #[test]
    fn a_known_path_with_another_method_lists_what_is_allowed() {
        assert_eq!(
            route("GET", "/anon/login"),
            Err(ApiError::MethodNotAllowed { allow: "POST".into() })
        );
        assert_eq!(
            route("DELETE", "/items/my_anonymous_items"),
            Err(ApiError::MethodNotAllowed { allow: "GET".into() })
        );
        assert_eq!(
            route("post", "/anon/login"),
            Err(ApiError::MethodNotAllowed { allow: "POST".into() })
        );
    }

    #[test]
    fn unknown_paths_are_not_found() {
        for path in ["/anon/login/", "/ANON/LOGIN", "/items", "/%61non/login", "", "//"] {
            assert_eq!(route("GET", path), Err(ApiError::NotFound), "{path}");
        }
    }
}
