//! Metrics without a metrics server: each request's log line is also a CloudWatch
//! Embedded Metric Format document, so CloudWatch turns it into metrics (namespace
//! `METRICS_NAMESPACE`, dimension `Function`) with no agent, no API call and no extra
//! line: one `write` per request, as before.

use std::fmt::Write as _;
use std::io::Write;

use lambda_http::http::StatusCode;

use crate::store::UsageSnapshot;

/// Put by a handler into its response's extensions: the visit it counted was a bot's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BotVisit;

/// What one request did, for its log line and metrics.
pub struct RequestRecord<'a> {
    pub namespace: &'a str,
    pub route: &'static str,
    pub method: &'a str,
    pub code: Option<&'a str>,
    pub status: StatusCode,
    pub latency_us: u64,
    pub usage: UsageSnapshot,
    pub bot_visit: bool,
    pub request_id: &'a str,
    pub timestamp_ms: i64,
}

/// The level of the request line. Lambda drops lines below the function's log level, so
/// template.yaml offers no level above it (integration/tests/schema.rs).
pub const REQUEST_LINE_LEVEL: &str = "INFO";

/// A metric's value: a count (0 or 1) or milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Metric {
    Count(u8),
    Millis(f64),
}

/// The metrics of a request: every function reports `Requests`, `ClientErrors`,
/// `ServerErrors` and `StoreLatency`; the redirect `Redirects` and `BotVisits`, create
/// `Creates`. Only a function's own metrics are sent (each is a billed custom metric).
fn metrics(r: &RequestRecord<'_>) -> ([(&'static str, Metric); 6], usize) {
    let flag = |b: bool| Metric::Count(u8::from(b));
    let mut m = [("", Metric::Count(0)); 6];
    m[0] = ("Requests", Metric::Count(1));
    m[1] = ("ClientErrors", flag(r.status.is_client_error()));
    m[2] = ("ServerErrors", flag(r.status.is_server_error()));
    m[3] = (
        "StoreLatency",
        Metric::Millis(r.usage.store_micros as f64 / 1000.0),
    );
    let n = match r.route {
        "redirect" => {
            m[4] = ("Redirects", flag(r.status.is_redirection()));
            m[5] = ("BotVisits", flag(r.bot_visit));
            6
        }
        "create" => {
            m[4] = ("Creates", flag(r.status == StatusCode::CREATED));
            5
        }
        _ => 4,
    };
    (m, n)
}

/// `s` as a JSON string, quotes included.
fn push_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn push_f64(out: &mut String, v: f64) {
    if v.is_finite() {
        let _ = write!(out, "{v}");
        if v.fract() == 0.0 && !out.ends_with('e') {
            out.push_str(".0");
        }
    } else {
        out.push_str("null");
    }
}

/// The request's log line: the fields Logs Insights queries (route, method, code, status,
/// latency, DynamoDB use, request id; never the body) and the EMF block. Written straight
/// into one string (a `serde_json::Value` built and serialized per request cost about a
/// twentieth of a warm redirect's instructions).
pub fn request_line(r: &RequestRecord<'_>) -> String {
    let (metrics, n) = metrics(r);
    let metrics = &metrics[..n];
    let mut out = String::with_capacity(640);
    let _ = write!(
        out,
        "{{\"_aws\":{{\"Timestamp\":{},\"CloudWatchMetrics\":[{{\"Namespace\":",
        r.timestamp_ms
    );
    push_str(&mut out, r.namespace);
    out.push_str(",\"Dimensions\":[[\"Function\"]],\"Metrics\":[");
    for (i, (name, metric)) in metrics.iter().enumerate() {
        let unit = match metric {
            Metric::Count(_) => "Count",
            Metric::Millis(_) => "Milliseconds",
        };
        let _ = write!(
            out,
            "{}{{\"Name\":\"{name}\",\"Unit\":\"{unit}\"}}",
            if i > 0 { "," } else { "" }
        );
    }
    let _ = write!(
        out,
        "]}}]}},\"level\":\"{REQUEST_LINE_LEVEL}\",\"message\":\"request\",\"Function\":"
    );
    push_str(&mut out, r.route);
    out.push_str(",\"route\":");
    push_str(&mut out, r.route);
    out.push_str(",\"method\":");
    push_str(&mut out, r.method);
    out.push_str(",\"code\":");
    match r.code {
        Some(c) => push_str(&mut out, c),
        None => out.push_str("null"),
    }
    let _ = write!(
        out,
        ",\"status\":{},\"latency_us\":{},\"ddb_requests\":{},\"ddb_capacity_units\":",
        r.status.as_u16(),
        r.latency_us,
        r.usage.requests
    );
    push_f64(&mut out, r.usage.capacity_units);
    out.push_str(",\"request_id\":");
    push_str(&mut out, r.request_id);
    for (name, metric) in metrics {
        let _ = write!(out, ",\"{name}\":");
        match metric {
            Metric::Count(c) => {
                let _ = write!(out, "{c}");
            }
            Metric::Millis(v) => push_f64(&mut out, *v),
        }
    }
    out.push('}');
    out
}

/// Writes the line to stdout in one `write` (Lambda sends stdout to CloudWatch Logs).
pub fn emit(line: &str) {
    let mut out = std::io::stdout().lock();
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    let _ = out.write_all(&buf);
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn record(route: &'static str, status: u16, bot_visit: bool) -> Value {
        let r = RequestRecord {
            namespace: "UrlShortener",
            route,
            method: "GET",
            code: Some("abc\"x"),
            status: StatusCode::from_u16(status).unwrap(),
            latency_us: 640,
            usage: UsageSnapshot {
                requests: 1,
                capacity_units: 1.0,
                store_micros: 1500,
            },
            bot_visit,
            request_id: "req-1",
            timestamp_ms: 1_795_374_000_000,
        };
        serde_json::from_str(&request_line(&r)).expect("one JSON object")
    }

    /// The EMF specification: `_aws.Timestamp` in ms, `CloudWatchMetrics` directives whose
    /// every dimension and metric name is a root member, metric values numbers.
    fn assert_emf(line: &Value) {
        let aws = &line["_aws"];
        assert!(aws["Timestamp"].is_i64());
        let directives = aws["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 1);
        let d = &directives[0];
        assert!(d["Namespace"].as_str().is_some_and(|n| !n.is_empty()));
        for set in d["Dimensions"].as_array().unwrap() {
            for dim in set.as_array().unwrap() {
                assert!(line[dim.as_str().unwrap()].is_string(), "{dim}");
            }
        }
        for m in d["Metrics"].as_array().unwrap() {
            let name = m["Name"].as_str().unwrap();
            assert!(line[name].is_number(), "{name}");
            assert!(["Count", "Milliseconds"].contains(&m["Unit"].as_str().unwrap()));
        }
    }

    fn names(line: &Value) -> Vec<&str> {
        line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn redirect_line() {
        let line = record("redirect", 302, true);
        assert_emf(&line);
        assert_eq!(
            names(&line),
            [
                "Requests",
                "ClientErrors",
                "ServerErrors",
                "StoreLatency",
                "Redirects",
                "BotVisits"
            ]
        );
        assert_eq!(
            (line["Redirects"].as_u64(), line["BotVisits"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(line["StoreLatency"], 1.5);
        assert_eq!(line["Function"], "redirect");
        assert_eq!(line["code"], "abc\"x", "escaped, not broken");
        assert_eq!(line["status"], 302);
    }

    /// Control characters, quotes and backslashes stay inside their strings; every value
    /// keeps its JSON type.
    #[test]
    fn hostile_text_is_escaped() {
        let r = RequestRecord {
            namespace: "Ns\\\"x",
            route: "stats",
            method: "GET",
            code: Some("a\u{1}\n\\\"b"),
            status: StatusCode::OK,
            latency_us: 1,
            usage: UsageSnapshot::default(),
            bot_visit: false,
            request_id: "r\t",
            timestamp_ms: 1,
        };
        let line: Value = serde_json::from_str(&request_line(&r)).expect("valid JSON");
        assert_eq!(line["code"], "a\u{1}\n\\\"b");
        assert_eq!(line["request_id"], "r\t");
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Ns\\\"x");
        assert_eq!(line["ddb_capacity_units"], 0.0);
        assert_eq!(line["level"], "INFO");
        assert!(line["code"].is_string() && line["status"].is_u64());
        let none = RequestRecord { code: None, ..r };
        let line: Value = serde_json::from_str(&request_line(&none)).unwrap();
        assert!(line["code"].is_null());
    }

    #[test]
    fn errors_and_creates() {
        let line = record("create", 201, false);
        assert_emf(&line);
        assert!(names(&line).contains(&"Creates") && !names(&line).contains(&"Redirects"));
        assert_eq!(line["Creates"], 1);
        let bad = record("create", 400, false);
        assert_eq!(
            (
                bad["ClientErrors"].as_u64(),
                bad["ServerErrors"].as_u64(),
                bad["Creates"].as_u64()
            ),
            (Some(1), Some(0), Some(0))
        );
        let down = record("stats", 503, false);
        assert_emf(&down);
        assert_eq!(down["ServerErrors"], 1);
        assert_eq!(names(&down).len(), 4);
    }
}
