//! Metrics without a metrics server: each request's log line is also a CloudWatch
//! Embedded Metric Format document, so CloudWatch turns it into metrics (namespace
//! `METRICS_NAMESPACE`, dimension `Function`) with no agent, no API call and no extra
//! line: one `write` per request, as before.

use std::io::Write;

use lambda_http::http::StatusCode;
use serde_json::{json, Map, Value};

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

/// The metrics of a request: every function reports `Requests`, `ClientErrors`,
/// `ServerErrors` and `StoreLatency`; the redirect `Redirects` and `BotVisits`, create
/// `Creates`. Only a function's own metrics are sent (each is a billed custom metric).
fn metrics(r: &RequestRecord<'_>) -> Vec<(&'static str, &'static str, Value)> {
    let flag = |b: bool| json!(u8::from(b));
    let mut m = vec![
        ("Requests", "Count", json!(1)),
        ("ClientErrors", "Count", flag(r.status.is_client_error())),
        ("ServerErrors", "Count", flag(r.status.is_server_error())),
        (
            "StoreLatency",
            "Milliseconds",
            json!(r.usage.store_micros as f64 / 1000.0),
        ),
    ];
    match r.route {
        "redirect" => {
            m.push(("Redirects", "Count", flag(r.status.is_redirection())));
            m.push(("BotVisits", "Count", flag(r.bot_visit)));
        }
        "create" => m.push(("Creates", "Count", flag(r.status == StatusCode::CREATED))),
        _ => {}
    }
    m
}

/// The level of the request line. Lambda drops lines below the function's log level, so
/// template.yaml offers no level above it (integration/tests/schema.rs).
pub const REQUEST_LINE_LEVEL: &str = "INFO";

/// The request's log line: the fields Logs Insights queries (route, method, code, status,
/// latency, DynamoDB use, request id; never the body) and the EMF block.
pub fn request_line(r: &RequestRecord<'_>) -> String {
    let metrics = metrics(r);
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": r.timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": r.namespace,
                "Dimensions": [["Function"]],
                "Metrics": metrics.iter().map(|(name, unit, _)| json!({"Name": name, "Unit": unit})).collect::<Vec<_>>(),
            }],
        }),
    );
    line.insert("level".into(), json!(REQUEST_LINE_LEVEL));
    line.insert("message".into(), json!("request"));
    line.insert("Function".into(), json!(r.route));
    line.insert("route".into(), json!(r.route));
    line.insert("method".into(), json!(r.method));
    line.insert("code".into(), json!(r.code));
    line.insert("status".into(), json!(r.status.as_u16()));
    line.insert("latency_us".into(), json!(r.latency_us));
    line.insert("ddb_requests".into(), json!(r.usage.requests));
    line.insert("ddb_capacity_units".into(), json!(r.usage.capacity_units));
    line.insert("request_id".into(), json!(r.request_id));
    for (name, _, value) in metrics {
        line.insert(name.into(), value);
    }
    Value::Object(line).to_string()
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
