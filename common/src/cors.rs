//! CORS as the HTTP API's `CorsConfiguration` does it (template.yaml, from the same
//! `CorsAllowOrigins`), for the local stack and any request that reaches a function: a
//! preflight from an allowed origin is answered 204 with the allowed methods and headers,
//! and every response to an allowed origin carries `Access-Control-Allow-Origin`. A
//! request from any other origin gets no CORS header, so the browser refuses to read it.
//! On AWS, API Gateway answers preflights itself and sets these headers.

use lambda_http::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Response};

/// Must stay the same as `CorsConfiguration` in template.yaml (a test compares them).
pub const ALLOW_METHODS: &str = "GET, HEAD, POST, PATCH, DELETE, OPTIONS";
pub const ALLOW_HEADERS: &str = "authorization, content-type";
pub const EXPOSE_HEADERS: &str =
    "location, retry-after, www-authenticate, x-next-cursor, content-disposition";
pub const MAX_AGE_SECONDS: u32 = 600;

/// `CORS_ALLOW_ORIGINS`: comma-separated origins, `*` for any, empty for none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsPolicy {
    any: bool,
    origins: Vec<String>,
}

impl CorsPolicy {
    pub fn parse(s: &str) -> CorsPolicy {
        let origins: Vec<String> = s
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
            .filter(|o| !o.is_empty())
            .collect();
        CorsPolicy {
            any: origins.iter().any(|o| o == "*"),
            origins,
        }
    }

    pub fn is_enabled(&self) -> bool {
        !self.origins.is_empty()
    }

    /// The `Access-Control-Allow-Origin` value for a request's `Origin`, if allowed.
    fn allow(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
        if self.any {
            return Some(HeaderValue::from_static("*"));
        }
        let wanted = origin.to_ascii_lowercase();
        self.origins
            .contains(&wanted)
            .then(|| HeaderValue::from_str(origin).ok())
            .flatten()
    }

    /// The answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`), or
    /// `None` for any other request. A preflight from an origin not allowed gets 204
    /// without CORS headers (the browser then refuses the request), as API Gateway does.
    pub fn preflight(&self, method: &Method, headers: &HeaderMap) -> Option<Response<Body>> {
        if !self.is_enabled()
            || method != Method::OPTIONS
            || !headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return None;
        }
        let mut resp = Response::new(Body::Empty);
        *resp.status_mut() = StatusCode::NO_CONTENT;
        if let Some(origin) = self.allow(headers) {
            let h = resp.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOW_METHODS),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOW_HEADERS),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from(MAX_AGE_SECONDS),
            );
        }
        resp.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("origin"));
        Some(resp)
    }

    /// Adds the CORS headers of an allowed origin to a response.
    pub fn decorate(&self, request_headers: &HeaderMap, resp: &mut Response<Body>) {
        if !self.is_enabled() {
            return;
        }
        if let Some(origin) = self.allow(request_headers) {
            let h = resp.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            h.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSE_HEADERS),
            );
        }
        resp.headers_mut()
            .append(header::VARY, HeaderValue::from_static("origin"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn preflights_and_responses_follow_the_allowed_origins() {
        let policy = CorsPolicy::parse(" https://App.example.com/ ,https://b.test");
        let pre = headers(&[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "PATCH"),
        ]);
        let resp = policy.preflight(&Method::OPTIONS, &pre).unwrap();
        assert_eq!(resp.status(), 204);
        assert_eq!(
            resp.headers()["access-control-allow-origin"],
            "https://app.example.com"
        );
        assert_eq!(
            resp.headers()["access-control-allow-methods"],
            ALLOW_METHODS
        );
        // Another origin: answered, but without the headers a browser needs.
        let other = headers(&[
            ("origin", "https://evil.test"),
            ("access-control-request-method", "GET"),
        ]);
        let resp = policy.preflight(&Method::OPTIONS, &other).unwrap();
        assert!(!resp.headers().contains_key("access-control-allow-origin"));
        // A plain OPTIONS, or CORS off: the function's own answer.
        assert!(policy.preflight(&Method::OPTIONS, &headers(&[])).is_none());
        assert!(CorsPolicy::parse("")
            .preflight(&Method::OPTIONS, &pre)
            .is_none());
        let mut resp = Response::new(Body::Empty);
        policy.decorate(&headers(&[("origin", "https://b.test")]), &mut resp);
        assert_eq!(
            resp.headers()["access-control-allow-origin"],
            "https://b.test"
        );
        let mut resp = Response::new(Body::Empty);
        policy.decorate(&headers(&[("origin", "https://c.test")]), &mut resp);
        assert!(!resp.headers().contains_key("access-control-allow-origin"));
        let mut resp = Response::new(Body::Empty);
        CorsPolicy::parse("*").decorate(&headers(&[("origin", "https://c.test")]), &mut resp);
        assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    }
}
