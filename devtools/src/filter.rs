//! Lambda's event filtering, as documented for event source mappings ("Lambda event
//! filtering": each `Pattern` of `FilterCriteria.Filters` is a JSON object; a record
//! passes when any pattern matches it). A pattern matches when every key it names matches:
//! an object value descends into the record's field of that name, an array value is a list
//! of alternatives for the record's value there (a scalar matches by equality; `prefix`,
//! `suffix`, `equals-ignore-case`, `anything-but`, `exists` and `numeric` are the
//! documented operators). A field the record lacks matches only `{"exists": false}`.
//!
//! The patterns are read from template.yaml itself (`template_patterns`): the local stream
//! poller applies exactly what Lambda would, and a test checks them against every kind of
//! item the store writes.

use serde_json::Value;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The stream filter patterns of the `aggregate` function in template.yaml's text.
pub fn template_patterns(template: &str) -> Result<Vec<Value>, Error> {
    let doc: serde_yaml::Value = serde_yaml::from_str(template)?;
    let filters = doc
        .get("Resources")
        .and_then(|r| r.get("AggregateFunction"))
        .and_then(|f| f.get("Properties"))
        .and_then(|p| p.get("Events"))
        .and_then(|e| e.get("Stream"))
        .and_then(|s| s.get("Properties"))
        .and_then(|p| p.get("FilterCriteria"))
        .and_then(|c| c.get("Filters"))
        .and_then(serde_yaml::Value::as_sequence)
        .ok_or("template.yaml: AggregateFunction's Stream event has no FilterCriteria.Filters")?;
    filters
        .iter()
        .map(|f| {
            let text = f
                .get("Pattern")
                .and_then(serde_yaml::Value::as_str)
                .ok_or("a filter without a Pattern string")?;
            let pattern: Value = serde_json::from_str(text)?;
            if !pattern.is_object() {
                return Err(format!("pattern {text} is not a JSON object").into());
            }
            Ok(pattern)
        })
        .collect()
}

/// Whether any of `patterns` lets `record` through.
pub fn passes(patterns: &[Value], record: &Value) -> bool {
    patterns.iter().any(|p| matches(p, Some(record)))
}

fn matches(pattern: &Value, value: Option<&Value>) -> bool {
    match pattern {
        Value::Object(fields) => fields.iter().all(|(name, sub)| {
            let field = value.and_then(|v| v.get(name));
            match sub {
                Value::Object(_) => field.is_some_and(Value::is_object) && matches(sub, field),
                Value::Array(alternatives) => alternatives.iter().any(|a| one_of(a, field)),
                // Not a valid pattern: Lambda refuses it at deploy; nothing matches here.
                _ => false,
            }
        }),
        _ => false,
    }
}

/// One alternative of an array against the record's value (any element of an array).
fn one_of(alternative: &Value, field: Option<&Value>) -> bool {
    if let Some(Value::Object(op)) = Some(alternative) {
        if let Some(exists) = op.get("exists").and_then(Value::as_bool) {
            return field.is_some() == exists;
        }
    }
    let Some(field) = field else { return false };
    match field {
        Value::Array(items) => items.iter().any(|v| scalar(alternative, v)),
        v => scalar(alternative, v),
    }
}

fn scalar(alternative: &Value, v: &Value) -> bool {
    let Value::Object(op) = alternative else {
        return alternative == v;
    };
    let text = v.as_str();
    if let Some(p) = op.get("prefix").and_then(Value::as_str) {
        return text.is_some_and(|t| t.starts_with(p));
    }
    if let Some(s) = op.get("suffix").and_then(Value::as_str) {
        return text.is_some_and(|t| t.ends_with(s));
    }
    if let Some(e) = op.get("equals-ignore-case").and_then(Value::as_str) {
        return text.is_some_and(|t| t.eq_ignore_ascii_case(e));
    }
    if let Some(but) = op.get("anything-but") {
        return match but {
            Value::Array(list) => !list.contains(v),
            Value::Object(inner) => match inner.get("prefix").and_then(Value::as_str) {
                Some(p) => text.is_some_and(|t| !t.starts_with(p)),
                None => false,
            },
            other => other != v,
        };
    }
    if let Some(Value::Array(conditions)) = op.get("numeric") {
        let Some(x) = v.as_f64() else { return false };
        return conditions.chunks(2).all(|c| {
            match (c[0].as_str(), c.get(1).and_then(Value::as_f64)) {
                (Some("="), Some(y)) => x == y,
                (Some("<"), Some(y)) => x < y,
                (Some("<="), Some(y)) => x <= y,
                (Some(">"), Some(y)) => x > y,
                (Some(">="), Some(y)) => x >= y,
                _ => false,
            }
        });
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use common::domain::{ApiKey, Code};
    use common::store::{example_keys, ItemKind};
    use serde_json::json;

    fn template_filter() -> Vec<Value> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
        template_patterns(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn record(event: &str, pk: &str, sk: &str) -> Value {
        json!({"eventName": event, "eventSource": "aws:dynamodb",
               "dynamodb": {"Keys": {"pk": {"S": pk}, "sk": {"S": sk}}}})
    }

    /// The aggregator is invoked for exactly the records it aggregates: day counters (of
    /// every shard), deleted links and queued visits (their INSERT). Its own writes (totals, rankings) and every other
    /// item never invoke it; before rankings moved to `date#`, a day's ranking did.
    #[test]
    fn the_template_filter_passes_exactly_counters_deleted_links_and_queued_visits() {
        let patterns = template_filter();
        let code = Code::parse("abc123").unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let key = ApiKey::generate().unwrap().hash();
        let kinds = example_keys(&code, day, &key);
        for &kind in ItemKind::ALL {
            assert!(
                kinds.iter().any(|(k, ..)| *k == kind),
                "{kind:?} has no example"
            );
        }
        for (kind, pk, sk) in &kinds {
            for event in ["INSERT", "MODIFY", "REMOVE"] {
                assert_eq!(
                    passes(&patterns, &record(event, pk, sk)),
                    kind.aggregated_on(event),
                    "{kind:?} {event} pk={pk} sk={sk}"
                );
            }
        }
    }

    #[test]
    fn operators_follow_the_documented_rules() {
        let r = json!({"a": "Hello", "n": 5, "list": ["x", "y"], "o": {"b": "c"}});
        let p = |s: Value| matches(&s, Some(&r));
        assert!(p(json!({"a": ["Hello"]})));
        assert!(!p(json!({"a": ["hello"]})));
        assert!(p(json!({"a": [{"equals-ignore-case": "hello"}]})));
        assert!(p(
            json!({"a": [{"prefix": "He"}], "n": [{"numeric": [">", 1, "<=", 5]}]})
        ));
        assert!(!p(json!({"n": [{"numeric": [">", 5]}]})));
        assert!(p(json!({"a": [{"suffix": "lo"}]})));
        assert!(p(json!({"a": [{"anything-but": ["x"]}]})));
        assert!(!p(json!({"a": [{"anything-but": {"prefix": "H"}}]})));
        assert!(p(json!({"list": ["y"]})));
        assert!(p(json!({"missing": [{"exists": false}]})));
        assert!(!p(json!({"missing": ["x"]})));
        assert!(!p(json!({"a": [{"exists": false}]})));
        assert!(p(json!({"o": {"b": ["c"]}})));
        assert!(!p(json!({"a": {"b": ["c"]}})));
        assert!(!passes(&[], &r));
    }
}
