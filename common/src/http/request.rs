//! What comes in: API Gateway requests read into domain values (methods, JSON bodies,
//! path and query parameters, headers, the base of short URLs).

use lambda_http::http::{header, Method};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde::de::DeserializeOwned;

use super::error::{ApiError, ErrorCode, MAX_BODY_BYTES};
use crate::config::{BaseUrl, Config};
use crate::domain::{Code, VisitRequest};

/// Refuses any method the handler does not serve with 405 and an `Allow` header that
/// lists them.
pub fn require_method(req: &Request, served: &[Method]) -> Result<(), ApiError> {
    require_method_of_path(req, served, served)
}

/// `require_method` for a path that two functions share (`/links`: GET lists, POST
/// creates): the `Allow` header names every method of the path.
pub fn require_method_of_path(
    req: &Request,
    served: &[Method],
    path: &[Method],
) -> Result<(), ApiError> {
    if served.contains(req.method()) {
        return Ok(());
    }
    let allow = path
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    Err(ApiError::MethodNotAllowed { allow })
}

/// The methods of `/links`: GET (manage lists) and POST (create).
pub const LINKS_PATH_METHODS: &[Method] = &[Method::GET, Method::POST];

/// Parses a JSON body: `application/json` (or no content type at all), at most
/// `MAX_BODY_BYTES`, text or base64 as API Gateway delivers it, no unknown fields.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    json_body_of_at_most(req, MAX_BODY_BYTES)
}

/// `json_body` with another size limit (a batch's).
pub fn json_body_of_at_most<T: DeserializeOwned>(
    req: &Request,
    max_bytes: usize,
) -> Result<T, ApiError> {
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("");
        let essence = ct.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("application/json") {
            return Err(ApiError::UnsupportedMediaType("application/json"));
        }
    }
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > max_bytes {
        return Err(ApiError::PayloadTooLarge(max_bytes));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidJson,
            "request body is empty",
        ));
    }
    let invalid = |e: serde_json::Error| {
        ApiError::bad_request(ErrorCode::InvalidJson, format!("invalid JSON body: {e}"))
    };
    // Through a `Value` first: serde would otherwise also take a struct from a JSON array.
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(invalid)?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidJson,
            "the body must be a JSON object",
        ));
    }
    T::deserialize(value).map_err(invalid)
}

/// A body of content type `content_type` (its parameters aside; 415 for another or
/// none) and at most `max_bytes` (413), as bytes.
pub fn body_of_type<'a>(
    req: &'a Request,
    content_type: &'static str,
    max_bytes: usize,
) -> Result<&'a [u8], ApiError> {
    let ct = header_str(req, "content-type").unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case(content_type) {
        return Err(ApiError::UnsupportedMediaType(content_type));
    }
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > max_bytes {
        return Err(ApiError::PayloadTooLarge(max_bytes));
    }
    Ok(bytes)
}

/// Largest HTML form body accepted (a password form's, far below it).
pub const MAX_FORM_BYTES: usize = 1024;

/// The value of `field` in an `application/x-www-form-urlencoded` body of at most
/// `MAX_FORM_BYTES` (413 above, 415 for another content type); `None` when absent.
pub fn form_field(req: &Request, field: &str) -> Result<Option<String>, ApiError> {
    let bytes = body_of_type(req, "application/x-www-form-urlencoded", MAX_FORM_BYTES)?;
    Ok(form_urlencoded::parse(bytes)
        .find(|(k, _)| k == field)
        .map(|(_, v)| v.into_owned()))
}

/// Whether the client asked for HTML (a browser's form post) rather than JSON.
pub fn wants_html(req: &Request) -> bool {
    header_str(req, "accept").is_some_and(|a| a.contains("text/html"))
}

/// A JSON object body, by the same rules as `json_body`, for merge patches.
pub fn json_object(req: &Request) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    json_body(req)
}

/// The `{code}` path parameter, when it can name a link at all.
pub fn path_code(req: &Request) -> Result<Code, ApiError> {
    req.path_parameters_ref()
        .and_then(|p| p.first("code"))
        .and_then(Code::parse)
        .ok_or(ApiError::NotFound)
}

/// A request header as text; `None` when absent or not visible ASCII.
pub fn header_str<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

pub fn query_param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
}

/// The base of short URLs: configured, or else the scheme and host the request came to.
pub fn base_url(req: &Request, config: &Config) -> Result<BaseUrl, ApiError> {
    if let Some(base) = &config.public_base_url {
        return Ok(base.clone());
    }
    let header_str = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    let proto = match header_str("x-forwarded-proto") {
        Some(p) if p.eq_ignore_ascii_case("http") => "http",
        _ => "https",
    };
    // Behind the edge, the host the viewer asked for (the API sees its own).
    let host = viewer_host(req, config).or_else(|| header_str("host"));
    let host = host.ok_or_else(|| {
        ApiError::bad_request(ErrorCode::InvalidHost, "the request has no Host header")
    })?;
    let base = (!host.contains(['/', '?', '#', '@']))
        .then(|| BaseUrl::parse(&format!("{proto}://{host}")))
        .flatten();
    base.ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::InvalidHost,
            "the Host header is not a valid host",
        )
    })
}

/// Whether `req` came through the stack's CloudFront edge: it carries the edge's secret
/// `X-Origin-Verify` header (compared in constant time). Never without `EDGE_SECRET`.
pub fn through_edge(req: &Request, config: &Config) -> bool {
    let (Some(secret), Some(sent)) = (&config.edge_secret, header_str(req, EDGE_HEADER)) else {
        return false;
    };
    sent.len() == secret.len()
        && sent
            .bytes()
            .zip(secret.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The header the edge adds with `EDGE_SECRET` (template.yaml: Edge).
pub const EDGE_HEADER: &str = "x-origin-verify";

/// A header that CloudFront sets (`CloudFront-Viewer-Country` ...), if the request came
/// through the edge; `None` otherwise, whatever a client sent in it.
pub fn edge_header<'a>(req: &'a Request, config: &Config, name: &str) -> Option<&'a str> {
    through_edge(req, config)
        .then(|| header_str(req, name))
        .flatten()
}

/// The host the viewer asked for, as the edge's viewer-request function passes it on
/// (`X-Viewer-Host`, template.yaml: EdgeViewerHost); only through the edge.
pub fn viewer_host<'a>(req: &'a Request, config: &Config) -> Option<&'a str> {
    edge_header(req, config, "x-viewer-host")
}

/// The host names this request came to, each a loop as a link target: the base of short
/// URLs, the `Host` header's, the viewer's host behind the edge (its CloudFront domain),
/// API Gateway's domain name for the request and the API's default `execute-api` host
/// (reachable whenever the custom domain is).
pub fn request_hosts(req: &Request, base: &BaseUrl, config: &Config) -> Vec<String> {
    let mut hosts = vec![base.host().to_owned()];
    let mut add = |host: &str| {
        let bare = crate::domain::url::split_host_port(host).map_or(host, |(h, _)| h);
        if let Ok(h) = crate::domain::url::normalize_host(bare) {
            if !hosts.contains(&h) {
                hosts.push(h);
            }
        }
    };
    if let Some(host) = header_str(req, "host") {
        add(host);
    }
    if let Some(host) = viewer_host(req, config) {
        add(host);
    }
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() {
        if let Some(domain) = &ctx.domain_name {
            add(domain);
        }
        if let (Some(api), Ok(region)) = (&ctx.apiid, std::env::var("AWS_REGION")) {
            add(&format!("{api}.execute-api.{region}.amazonaws.com"));
        }
    }
    hosts
}

/// What a request says about its visitor (`Visit::classify`, `rules::choose`): its headers
/// and query; the country only as the edge set it (a client's own header decides nothing).
pub fn visit_request<'r>(req: &'r Request, config: &Config) -> VisitRequest<'r> {
    VisitRequest {
        user_agent: header_str(req, "user-agent"),
        referer: header_str(req, "referer"),
        purpose: header_str(req, "sec-purpose").or_else(|| header_str(req, "purpose")),
        utm_source: query_param(req, "utm_source"),
        country: edge_header(req, config, "cloudfront-viewer-country"),
        accept_language: header_str(req, "accept-language"),
        query: req.uri().query(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_of_the_edge_count_only_with_its_secret() {
        let config = |secret: Option<&str>| {
            let mut vars = vec![("TABLE_NAME", "t")];
            if let Some(s) = secret {
                vars.push(("EDGE_SECRET", s));
            }
            let map: std::collections::HashMap<String, String> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Config::from_lookup(|k| map.get(k).cloned()).unwrap()
        };
        let req = |headers: &[(&str, &str)]| {
            let mut b = lambda_http::http::Request::builder().uri("/abc");
            for (k, v) in headers {
                b = b.header(*k, *v);
            }
            b.body(lambda_http::Body::Empty).unwrap()
        };
        let secret = "0123456789abcdef-edge";
        let with = config(Some(secret));
        let without = config(None);
        let spoofed = req(&[
            ("cloudfront-viewer-country", "DE"),
            ("x-viewer-host", "evil.example"),
        ]);
        let proven = req(&[
            ("cloudfront-viewer-country", "DE"),
            ("x-viewer-host", "d1.cloudfront.net"),
            (EDGE_HEADER, secret),
        ]);
        let wrong = req(&[
            ("cloudfront-viewer-country", "DE"),
            (EDGE_HEADER, "0123456789abcdef-edgX"),
        ]);
        for r in [&spoofed, &proven, &wrong] {
            assert_eq!(edge_header(r, &without, "cloudfront-viewer-country"), None);
        }
        assert_eq!(
            edge_header(&spoofed, &with, "cloudfront-viewer-country"),
            None
        );
        assert_eq!(
            edge_header(&wrong, &with, "cloudfront-viewer-country"),
            None
        );
        assert!(!through_edge(&req(&[(EDGE_HEADER, "short")]), &with));
        assert_eq!(
            edge_header(&proven, &with, "cloudfront-viewer-country"),
            Some("DE")
        );
        assert_eq!(viewer_host(&proven, &with), Some("d1.cloudfront.net"));
        assert_eq!(viewer_host(&spoofed, &with), None);
        // The edge's own domain is a loop, and the base of short URLs without PUBLIC_BASE_URL.
        let base = base_url(&proven, &with).unwrap();
        assert_eq!(base.host(), "d1.cloudfront.net");
        assert!(request_hosts(&proven, &base, &with).contains(&"d1.cloudfront.net".to_owned()));
        let plain = base_url(&spoofed, &with);
        assert!(plain.is_err(), "no Host header and no trusted viewer host");
    }
}
