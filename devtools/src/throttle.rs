//! DynamoDB's throttling, emulated in front of DynamoDB Local (which never throttles): what
//! `throttle-proxy` (devtools/src/bin/throttle-proxy.rs) applies to each request.
//!
//! - **Per-partition limits** ("key range"): DynamoDB serves at most 1,000 write units and
//!   3,000 read units a second on one partition key value, in both capacity modes. Each
//!   partition key value here has a token bucket for writes (`write_units` a second, one
//!   second of burst) and one for reads (three times that). A request is refused, before it
//!   reaches DynamoDB Local and so never applied, while the bucket of any partition it
//!   touches cannot pay its estimated cost; once applied, what DynamoDB Local reports as
//!   consumed (`ConsumedCapacity`) is what the bucket pays, so that a 3 KB update costs 3.
//! - **Table-level limits**, on demand (`Force`): the next requests of a kind are refused
//!   with the reason given (`TableWriteAccountLimitExceeded`, `...MaxOnDemandThroughputExceeded`),
//!   the throttles that more partitions cannot help.
//!
//! The refusal is the body DynamoDB sends: HTTP 400, `__type` the exception
//! (`ProvisionedThroughputExceededException` for a key range, `RequestLimitExceeded` for the
//! account's quota, `ThrottlingException` for an on-demand maximum), and `ThrottlingReasons`
//! with the reason and the table's ARN.
//!
//! Capacity arithmetic as DynamoDB documents it ("Item sizes and formats", "capacity
//! units"): an item's size is the sum of its attribute names' and values' sizes; a write
//! unit is 1 KB of item (rounded up, at least 1), a strongly consistent read unit 4 KB
//! (rounded up, at least 1) and an eventually consistent read half of one.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::{json, Map, Value};

/// Read or write, as DynamoDB's limits tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Read,
    Write,
}

/// What one request touches: each partition key value with its kind and estimated cost
/// (in units), before it is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Access {
    pub kind: Kind,
    pub partitions: Vec<(String, f64)>,
}

/// The size in bytes of an attribute value in DynamoDB's JSON (`{"S": ...}`, `{"N": ...}`,
/// ...), as DynamoDB counts it.
pub fn value_size(value: &Value) -> usize {
    let Some((tag, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    match (tag.as_str(), inner) {
        ("S", Value::String(s)) => s.len(),
        ("N", Value::String(n)) => number_size(n),
        ("B", Value::String(b)) => base64_len(b),
        ("BOOL", _) | ("NULL", _) => 1,
        ("SS", Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::len).sum(),
        ("NS", Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(number_size)
            .sum(),
        ("BS", Value::Array(items)) => items.iter().filter_map(Value::as_str).map(base64_len).sum(),
        // A list or a map: 3 bytes, and 1 byte of overhead per element.
        ("L", Value::Array(items)) => 3 + items.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        ("M", Value::Object(fields)) => {
            3 + fields
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// A number: 1 byte per two significant digits, plus 1 byte.
fn number_size(n: &str) -> usize {
    let digits: String = n
        .trim_start_matches(['-', '+'])
        .split(['e', 'E'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.max(1).div_ceil(2) + 1
}

fn base64_len(b: &str) -> usize {
    let padding = b.bytes().rev().take_while(|c| *c == b'=').count();
    (b.len() / 4 * 3).saturating_sub(padding)
}

/// An item's size: its attribute names and values.
pub fn item_size(item: &Map<String, Value>) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

/// Write units of an item of `size` bytes: 1 per KB, rounded up, at least 1.
pub fn write_units(size: usize) -> f64 {
    size.div_ceil(1024).max(1) as f64
}

/// Read units of an item of `size` bytes: 1 per 4 KB, rounded up, at least 1; half of
/// that for an eventually consistent read.
pub fn read_units(size: usize, consistent: bool) -> f64 {
    let units = size.div_ceil(4096).max(1) as f64;
    if consistent {
        units
    } else {
        units / 2.0
    }
}

/// The partition key value of an item or key (`{"pk": {"S": "..."}}`).
fn key_of(item: Option<&Value>, key: &str) -> Option<String> {
    let v = item?.get(key)?.as_object()?.iter().next()?.1;
    v.as_str().map(str::to_owned)
}

/// The partition key value a `Query` names: `<key> = :v` (or `#n = :v` with `#n` naming
/// the key) in its `KeyConditionExpression`.
fn query_partition(body: &Value, key: &str) -> Option<String> {
    let expression = body.get("KeyConditionExpression")?.as_str()?;
    let names = body
        .get("ExpressionAttributeNames")
        .and_then(Value::as_object);
    let first = expression.split(" AND ").next()?.split(" and ").next()?;
    let (left, right) = first.split_once('=')?;
    let (left, right) = (left.trim(), right.trim());
    let named = |side: &str| {
        side == key
            || names
                .and_then(|n| n.get(side))
                .and_then(Value::as_str)
                .is_some_and(|n| n == key)
    };
    let placeholder = if named(left) { right } else { left };
    let value = body.get("ExpressionAttributeValues")?.get(placeholder)?;
    value
        .as_object()?
        .iter()
        .next()?
        .1
        .as_str()
        .map(str::to_owned)
}

/// What a request touches, from its `X-Amz-Target` operation and JSON body; `None` for an
/// operation no partition limit applies to (a `Scan`, the table's own operations).
pub fn access(operation: &str, body: &Value, key: &str) -> Option<Access> {
    let one = |kind, pk: Option<String>, cost: f64| {
        pk.map(|pk| Access {
            kind,
            partitions: vec![(pk, cost)],
        })
    };
    let consistent = body.get("ConsistentRead").and_then(Value::as_bool) == Some(true);
    match operation {
        "PutItem" => {
            let item = body.get("Item");
            let size = item.and_then(Value::as_object).map_or(0, item_size);
            one(Kind::Write, key_of(item, key), write_units(size))
        }
        // The item's size before and after is not known here: at least one unit.
        "UpdateItem" | "DeleteItem" => one(Kind::Write, key_of(body.get("Key"), key), 1.0),
        "GetItem" => one(
            Kind::Read,
            key_of(body.get("Key"), key),
            read_units(0, consistent),
        ),
        "Query" => one(
            Kind::Read,
            query_partition(body, key),
            read_units(0, consistent),
        ),
        "BatchWriteItem" => {
            let mut partitions = Vec::new();
            for requests in body.get("RequestItems")?.as_object()?.values() {
                for r in requests.as_array()? {
                    if let Some(item) = r.pointer("/PutRequest/Item") {
                        let size = item.as_object().map_or(0, item_size);
                        partitions
                            .extend(key_of(Some(item), key).map(|pk| (pk, write_units(size))));
                    } else if let Some(k) = r.pointer("/DeleteRequest/Key") {
                        partitions.extend(key_of(Some(k), key).map(|pk| (pk, 1.0)));
                    }
                }
            }
            Some(Access {
                kind: Kind::Write,
                partitions,
            })
        }
        "BatchGetItem" => {
            let mut partitions = Vec::new();
            for table in body.get("RequestItems")?.as_object()?.values() {
                let consistent = table.get("ConsistentRead").and_then(Value::as_bool) == Some(true);
                for k in table.get("Keys")?.as_array()? {
                    partitions
                        .extend(key_of(Some(k), key).map(|pk| (pk, read_units(0, consistent))));
                }
            }
            Some(Access {
                kind: Kind::Read,
                partitions,
            })
        }
        // A transaction costs twice the units of its items.
        "TransactWriteItems" => {
            let mut partitions = Vec::new();
            for item in body.get("TransactItems")?.as_array()? {
                let (op, inner) = item.as_object()?.iter().next()?;
                let (pk, units) = match op.as_str() {
                    "Put" => {
                        let it = inner.get("Item");
                        let size = it.and_then(Value::as_object).map_or(0, item_size);
                        (key_of(it, key), write_units(size))
                    }
                    _ => (key_of(inner.get("Key"), key), 1.0),
                };
                partitions.extend(pk.map(|pk| (pk, 2.0 * units)));
            }
            Some(Access {
                kind: Kind::Write,
                partitions,
            })
        }
        _ => None,
    }
}

/// A token bucket: `rate` units a second, at most one second of them saved.
#[derive(Debug, Clone)]
pub struct Bucket {
    rate: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    pub fn new(rate: f64, now: Instant) -> Bucket {
        Bucket {
            rate,
            tokens: rate,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        self.at = now;
    }

    /// Whether `cost` can be paid now (nothing is taken).
    pub fn can_pay(&mut self, cost: f64, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= cost.min(self.rate)
    }

    /// Takes `cost`, into debt if need be (a request admitted on its estimate that cost more).
    pub fn pay(&mut self, cost: f64, now: Instant) {
        self.refill(now);
        self.tokens -= cost;
    }

    pub fn tokens(&self) -> f64 {
        self.tokens
    }
}

/// The emulator's state: a write and a read bucket per partition key value, and the
/// throttles forced on demand.
#[derive(Debug)]
pub struct Limiter {
    write_units: f64,
    read_units: f64,
    buckets: HashMap<(String, Kind), Bucket>,
    forced: Vec<Force>,
    /// Refusals per reason.
    pub refused: HashMap<String, u64>,
    /// Key-range refusals per partition key value.
    pub refused_partitions: HashMap<String, u64>,
}

/// The next `count` requests of `kind` refused with `reason` (a table-level throttle).
#[derive(Debug, Clone, PartialEq)]
pub struct Force {
    pub kind: Kind,
    pub reason: String,
    pub count: u64,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub reason: String,
    pub partition: Option<String>,
}

impl Limiter {
    /// `write_units` a second per partition key value (DynamoDB: 1,000), reads three times that.
    pub fn new(write_units: f64) -> Limiter {
        Limiter {
            write_units,
            read_units: 3.0 * write_units,
            buckets: HashMap::new(),
            forced: Vec::new(),
            refused: HashMap::new(),
            refused_partitions: HashMap::new(),
        }
    }

    pub fn force(&mut self, force: Force) {
        self.forced.push(force);
    }

    fn bucket(&mut self, pk: &str, kind: Kind, now: Instant) -> &mut Bucket {
        let rate = match kind {
            Kind::Write => self.write_units,
            Kind::Read => self.read_units,
        };
        self.buckets
            .entry((pk.to_owned(), kind))
            .or_insert_with(|| Bucket::new(rate, now))
    }

    /// Admits `access` (its estimate paid) or says why not (nothing paid).
    pub fn admit(&mut self, access: &Access, now: Instant) -> Result<(), Refusal> {
        if let Some(i) = self.forced.iter().position(|f| f.kind == access.kind) {
            let force = &mut self.forced[i];
            let reason = force.reason.clone();
            force.count -= 1;
            if force.count == 0 {
                self.forced.remove(i);
            }
            *self.refused.entry(reason.clone()).or_default() += 1;
            return Err(Refusal {
                reason,
                partition: None,
            });
        }
        let mut cost: HashMap<&str, f64> = HashMap::new();
        for (pk, units) in &access.partitions {
            *cost.entry(pk).or_default() += units;
        }
        for (pk, units) in &cost {
            if !self.bucket(pk, access.kind, now).can_pay(*units, now) {
                let reason = match access.kind {
                    Kind::Write => "TableWriteKeyRangeThroughputExceeded",
                    Kind::Read => "TableReadKeyRangeThroughputExceeded",
                };
                *self.refused.entry(reason.to_owned()).or_default() += 1;
                *self.refused_partitions.entry((*pk).to_owned()).or_default() += 1;
                return Err(Refusal {
                    reason: reason.to_owned(),
                    partition: Some((*pk).to_owned()),
                });
            }
        }
        for (pk, units) in cost {
            self.bucket(pk, access.kind, now).pay(units, now);
        }
        Ok(())
    }

    /// Once applied: what DynamoDB Local reported as consumed, beyond the estimate paid on
    /// admission, is paid by the (single) partition the request touched.
    pub fn settle(&mut self, access: &Access, consumed: f64, now: Instant) {
        if let [(pk, estimate)] = access.partitions.as_slice() {
            let extra = consumed - estimate;
            if extra > 0.0 {
                self.bucket(pk, access.kind, now).pay(extra, now);
            }
        }
    }
}

/// The exception DynamoDB names for a throttling reason.
pub fn exception_of(reason: &str) -> &'static str {
    if reason.ends_with("AccountLimitExceeded") {
        "RequestLimitExceeded"
    } else if reason.ends_with("MaxOnDemandThroughputExceeded") {
        "ThrottlingException"
    } else {
        "ProvisionedThroughputExceededException"
    }
}

/// The body of DynamoDB's refusal (sent with HTTP 400).
pub fn refusal_body(refusal: &Refusal, table_arn: &str) -> Value {
    let exception = exception_of(&refusal.reason);
    let message = match exception {
        "RequestLimitExceeded" => {
            "Throughput exceeds the current throughput limit for your account."
        }
        "ThrottlingException" => {
            "Throughput exceeds the maximum throughput configured for the table."
        }
        _ => "Throughput exceeds the current capacity of your table or index.",
    };
    json!({
        "__type": format!("com.amazonaws.dynamodb.v20120810#{exception}"),
        "message": message,
        "ThrottlingReasons": [{"reason": refusal.reason, "resource": table_arn}],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn item(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    /// The sizes of DynamoDB's documentation: names count, strings in UTF-8 bytes, numbers
    /// by significant digits, 3 bytes and 1 per element for lists and maps.
    #[test]
    fn sizes_follow_dynamodbs_arithmetic() {
        assert_eq!(value_size(&json!({"S": "abc"})), 3);
        assert_eq!(value_size(&json!({"S": "é"})), 2, "UTF-8 bytes");
        assert_eq!(value_size(&json!({"N": "1"})), 2);
        assert_eq!(
            value_size(&json!({"N": "12345"})),
            4,
            "3 bytes of digits + 1"
        );
        assert_eq!(
            value_size(&json!({"N": "1000000"})),
            2,
            "trailing zeros are not significant"
        );
        assert_eq!(value_size(&json!({"N": "-0.0012"})), 2);
        assert_eq!(value_size(&json!({"BOOL": true})), 1);
        assert_eq!(value_size(&json!({"NULL": true})), 1);
        assert_eq!(value_size(&json!({"B": "AAEC"})), 3, "base64 of 3 bytes");
        assert_eq!(value_size(&json!({"SS": ["a", "bc"]})), 3);
        assert_eq!(
            value_size(&json!({"L": [{"S": "ab"}, {"N": "7"}]})),
            3 + (1 + 2) + (1 + 2)
        );
        assert_eq!(
            value_size(&json!({"M": {"ref": {"N": "12"}}})),
            3 + 1 + 3 + 2
        );
        let link = item(
            json!({"pk": {"S": "abc1234"}, "sk": {"S": "link"}, "url": {"S": "https://example.com/"}}),
        );
        assert_eq!(item_size(&link), 2 + 7 + 2 + 4 + 3 + 20);
    }

    #[test]
    fn units_round_up_per_kilobyte_for_writes_and_four_for_reads() {
        assert_eq!(write_units(0), 1.0);
        assert_eq!(write_units(1024), 1.0);
        assert_eq!(write_units(1025), 2.0);
        assert_eq!(write_units(3500), 4.0);
        assert_eq!(read_units(4096, true), 1.0);
        assert_eq!(read_units(4097, true), 2.0);
        assert_eq!(read_units(4097, false), 1.0);
        assert_eq!(read_units(10, false), 0.5);
    }

    #[test]
    fn each_operation_names_its_partitions() {
        let update = json!({"TableName": "links", "Key": {"pk": {"S": "hot"}, "sk": {"S": "day#2026-12-03"}}});
        assert_eq!(
            access("UpdateItem", &update, "pk"),
            Some(Access {
                kind: Kind::Write,
                partitions: vec![("hot".into(), 1.0)]
            })
        );
        let big = "x".repeat(2000);
        let put = json!({"Item": {"pk": {"S": "p"}, "sk": {"S": "s"}, "v": {"S": big}}});
        assert_eq!(
            access("PutItem", &put, "pk").unwrap().partitions,
            vec![("p".into(), 2.0)]
        );
        let query = json!({"KeyConditionExpression": "pk = :pk AND sk >= :low",
            "ExpressionAttributeValues": {":pk": {"S": "hot#3"}, ":low": {"S": "day#"}}});
        assert_eq!(
            access("Query", &query, "pk"),
            Some(Access {
                kind: Kind::Read,
                partitions: vec![("hot#3".into(), 0.5)]
            })
        );
        let named = json!({"KeyConditionExpression": "#k = :v", "ConsistentRead": true,
            "ExpressionAttributeNames": {"#k": "pk"}, "ExpressionAttributeValues": {":v": {"S": "a"}}});
        assert_eq!(
            access("Query", &named, "pk").unwrap().partitions,
            vec![("a".into(), 1.0)]
        );
        let batch = json!({"RequestItems": {"links": [
            {"PutRequest": {"Item": {"pk": {"S": "a"}, "sk": {"S": "1"}}}},
            {"DeleteRequest": {"Key": {"pk": {"S": "b"}, "sk": {"S": "2"}}}}]}});
        assert_eq!(
            access("BatchWriteItem", &batch, "pk").unwrap().partitions,
            vec![("a".into(), 1.0), ("b".into(), 1.0)]
        );
        let transact = json!({"TransactItems": [
            {"Delete": {"Key": {"pk": {"S": "spill#1"}, "sk": {"S": "x"}}}},
            {"Update": {"Key": {"pk": {"S": "hot#2"}, "sk": {"S": "day#x"}}}}]});
        assert_eq!(
            access("TransactWriteItems", &transact, "pk")
                .unwrap()
                .partitions,
            vec![("spill#1".into(), 2.0), ("hot#2".into(), 2.0)]
        );
        assert_eq!(access("Scan", &json!({}), "pk"), None);
        assert_eq!(access("DescribeTable", &json!({}), "pk"), None);
    }

    #[test]
    fn a_partition_takes_its_rate_a_second_and_no_more() {
        let start = Instant::now();
        let mut limiter = Limiter::new(10.0);
        let write = |pk: &str| Access {
            kind: Kind::Write,
            partitions: vec![(pk.into(), 1.0)],
        };
        let admitted = (0..30)
            .filter(|_| limiter.admit(&write("hot"), start).is_ok())
            .count();
        assert_eq!(admitted, 10, "one second of burst");
        let refusal = limiter.admit(&write("hot"), start).unwrap_err();
        assert_eq!(refusal.reason, "TableWriteKeyRangeThroughputExceeded");
        assert_eq!(refusal.partition.as_deref(), Some("hot"));
        assert!(
            limiter.admit(&write("cold"), start).is_ok(),
            "another partition has its own"
        );
        // Half a second later: five more.
        let later = start + Duration::from_millis(500);
        let admitted = (0..30)
            .filter(|_| limiter.admit(&write("hot"), later).is_ok())
            .count();
        assert_eq!(admitted, 5);
        // Reads have three times the rate, apart from the writes.
        let read = Access {
            kind: Kind::Read,
            partitions: vec![("hot".into(), 1.0)],
        };
        let reads = (0..100)
            .filter(|_| limiter.admit(&read, later).is_ok())
            .count();
        assert_eq!(reads, 30);
    }

    #[test]
    fn a_write_that_cost_more_than_its_estimate_is_paid_in_full() {
        let start = Instant::now();
        let mut limiter = Limiter::new(10.0);
        let write = Access {
            kind: Kind::Write,
            partitions: vec![("hot".into(), 1.0)],
        };
        limiter.admit(&write, start).unwrap();
        limiter.settle(&write, 9.0, start);
        assert!(
            limiter.admit(&write, start).is_ok(),
            "9 units consumed, 1 left"
        );
        assert!(
            limiter.admit(&write, start).is_err(),
            "10 consumed, nothing left"
        );
    }

    #[test]
    fn forced_throttles_name_their_reason_and_run_out() {
        let start = Instant::now();
        let mut limiter = Limiter::new(10.0);
        limiter.force(Force {
            kind: Kind::Write,
            reason: "TableWriteAccountLimitExceeded".into(),
            count: 2,
        });
        let write = Access {
            kind: Kind::Write,
            partitions: vec![("a".into(), 1.0)],
        };
        let read = Access {
            kind: Kind::Read,
            partitions: vec![("a".into(), 1.0)],
        };
        assert!(limiter.admit(&read, start).is_ok(), "reads are not forced");
        assert_eq!(
            limiter.admit(&write, start).unwrap_err().reason,
            "TableWriteAccountLimitExceeded"
        );
        assert!(limiter.admit(&write, start).is_err());
        assert!(limiter.admit(&write, start).is_ok());
    }

    #[test]
    fn the_refusal_is_dynamodbs_body() {
        let refusal = Refusal {
            reason: "TableWriteKeyRangeThroughputExceeded".into(),
            partition: None,
        };
        let body = refusal_body(
            &refusal,
            "arn:aws:dynamodb:us-east-1:000000000000:table/links",
        );
        assert_eq!(
            body["__type"],
            "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
        );
        assert_eq!(
            body["ThrottlingReasons"][0]["reason"],
            "TableWriteKeyRangeThroughputExceeded"
        );
        assert_eq!(
            exception_of("TableWriteAccountLimitExceeded"),
            "RequestLimitExceeded"
        );
        assert_eq!(
            exception_of("TableWriteMaxOnDemandThroughputExceeded"),
            "ThrottlingException"
        );
    }
}
