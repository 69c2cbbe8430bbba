//! How a batch of stream records reaches the function, as Lambda's event source mapping
//! does it with template.yaml's settings: a partial batch response delivers the batch
//! again from the failed record; a function error splits the batch in two
//! (`BisectBatchOnFunctionError`) until the record that fails is alone; a record (or the
//! rest of a batch) that still fails after `MaximumRetryAttempts` retries goes to the
//! failure destination (on AWS the `AggregateFailures` queue, here a file) and the stream
//! moves on. A transport error (the function's server not answering) is no verdict on
//! the records: the caller tries again later, without counting it.

use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;

use serde_json::Value;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The event source mapping's settings that shape delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub batch_size: usize,
    pub max_retries: u32,
    pub bisect: bool,
    /// Pause before a retry (doubled each time, at most `max_delay`).
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Settings {
    /// BatchSize, MaximumRetryAttempts and BisectBatchOnFunctionError of the aggregate
    /// function's stream event in template.yaml's text.
    pub fn from_template(template: &str) -> Result<Settings, Error> {
        let doc: serde_yaml::Value = serde_yaml::from_str(template)?;
        let props = doc
            .get("Resources")
            .and_then(|r| r.get("AggregateFunction"))
            .and_then(|f| f.get("Properties"))
            .and_then(|p| p.get("Events"))
            .and_then(|e| e.get("Stream"))
            .and_then(|s| s.get("Properties"))
            .ok_or("template.yaml: AggregateFunction has no Stream event")?;
        let number = |name: &str| {
            props
                .get(name)
                .and_then(serde_yaml::Value::as_u64)
                .ok_or_else(|| format!("template.yaml: the Stream event has no {name}"))
        };
        Ok(Settings {
            batch_size: number("BatchSize")? as usize,
            max_retries: number("MaximumRetryAttempts")? as u32,
            bisect: props
                .get("BisectBatchOnFunctionError")
                .and_then(serde_yaml::Value::as_bool)
                .unwrap_or(false),
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
        })
    }
}

/// What one invocation answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Every record aggregated.
    Done,
    /// A partial batch response: the sequence number of the first record to deliver again.
    FailedFrom(String),
    /// The function failed (an error, a crash, an answer that is not a batch response).
    FunctionError(String),
}

/// Records given up on, with why.
#[derive(Debug, Clone, PartialEq)]
pub struct GivenUp {
    pub records: Vec<Value>,
    pub reason: String,
    pub attempts: u32,
}

fn sequence(record: &Value) -> Option<&str> {
    record.get("dynamodb")?.get("SequenceNumber")?.as_str()
}

/// Delivers `records` (one shard's, in order) through `invoke`; returns what was given up
/// on. `Err` only for a transport error, after which the caller delivers the same records
/// again (aggregating twice changes nothing).
pub async fn deliver<F, Fut>(
    records: &[Value],
    settings: &Settings,
    mut invoke: F,
) -> Result<Vec<GivenUp>, Error>
where
    F: FnMut(Vec<Value>) -> Fut,
    Fut: Future<Output = Result<Answer, Error>>,
{
    let mut given_up = Vec::new();
    let mut queue: VecDeque<Vec<Value>> = records
        .chunks(settings.batch_size.max(1))
        .map(<[Value]>::to_vec)
        .collect();
    while let Some(mut batch) = queue.pop_front() {
        let mut retries = 0u32;
        loop {
            let reason = match invoke(batch.clone()).await? {
                Answer::Done => break,
                Answer::FailedFrom(seq) => {
                    // Those before the failed record are done; an unknown position means all.
                    let at = batch
                        .iter()
                        .position(|r| sequence(r) == Some(seq.as_str()))
                        .unwrap_or(0);
                    batch.drain(..at);
                    format!("partial batch failure at {seq}")
                }
                Answer::FunctionError(e) if settings.bisect && batch.len() > 1 => {
                    let second = batch.split_off(batch.len() / 2);
                    queue.push_front(second);
                    queue.push_front(batch);
                    let _ = e;
                    break;
                }
                Answer::FunctionError(e) => format!("function error: {e}"),
            };
            if retries >= settings.max_retries {
                given_up.push(GivenUp {
                    records: std::mem::take(&mut batch),
                    reason,
                    attempts: retries + 1,
                });
                break;
            }
            let delay = settings
                .first_delay
                .saturating_mul(1 << retries.min(16))
                .min(settings.max_delay);
            tokio::time::sleep(delay).await;
            retries += 1;
        }
    }
    Ok(given_up)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::cell::RefCell;

    fn records(n: usize) -> Vec<Value> {
        (0..n)
            .map(|i| json!({"dynamodb": {"SequenceNumber": format!("{i:03}")}, "i": i}))
            .collect()
    }

    fn settings(max_retries: u32, bisect: bool) -> Settings {
        Settings {
            batch_size: 4,
            max_retries,
            bisect,
            first_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
        }
    }

    fn ids(batch: &[Value]) -> Vec<u64> {
        batch.iter().map(|r| r["i"].as_u64().unwrap()).collect()
    }

    /// A poison record that makes the function fail is isolated by bisecting, retried
    /// `max_retries` times alone, given up on; every other record is delivered.
    #[tokio::test]
    async fn a_poison_record_is_isolated_retried_and_given_up_on() {
        let delivered = RefCell::new(Vec::new());
        let calls = RefCell::new(0u32);
        let out = deliver(&records(10), &settings(3, true), |batch| {
            *calls.borrow_mut() += 1;
            let poisoned = ids(&batch).contains(&6);
            if !poisoned {
                delivered.borrow_mut().extend(ids(&batch));
            }
            async move {
                Ok(if poisoned {
                    Answer::FunctionError("bad record".into())
                } else {
                    Answer::Done
                })
            }
        })
        .await
        .unwrap();
        let mut got = delivered.into_inner();
        got.sort_unstable();
        assert_eq!(got, vec![0, 1, 2, 3, 4, 5, 7, 8, 9]);
        assert_eq!(out.len(), 1);
        assert_eq!(ids(&out[0].records), vec![6]);
        assert_eq!(out[0].attempts, 4);
        assert!(out[0].reason.contains("bad record"));
        // [0-3] ok; [4-7] fails: [4,5] ok, [6,7] fails: [6] once and 3 retries, [7] ok; [8,9] ok.
        assert_eq!(calls.into_inner(), 1 + 1 + 1 + 1 + 4 + 1 + 1);
    }

    /// A partial batch response delivers again from the failed record, at most
    /// `max_retries` times, then gives up on the rest of that batch only.
    #[tokio::test]
    async fn a_partial_failure_is_retried_from_the_failed_record_then_given_up() {
        let sent = RefCell::new(Vec::new());
        let out = deliver(&records(6), &settings(2, true), |batch| {
            sent.borrow_mut().push(ids(&batch));
            let answer = match batch.iter().find(|r| r["i"] == 2) {
                Some(r) => Answer::FailedFrom(sequence(r).unwrap().to_owned()),
                None => Answer::Done,
            };
            async move { Ok(answer) }
        })
        .await
        .unwrap();
        assert_eq!(
            sent.into_inner(),
            vec![vec![0, 1, 2, 3], vec![2, 3], vec![2, 3], vec![4, 5]]
        );
        assert_eq!(out.len(), 1);
        assert_eq!(ids(&out[0].records), vec![2, 3]);
    }

    #[tokio::test]
    async fn a_transport_error_is_no_verdict() {
        let out = deliver(&records(3), &settings(0, true), |_| async {
            Err::<Answer, Error>("connection refused".into())
        })
        .await;
        assert!(out.is_err());
        let out = deliver(&records(3), &settings(0, true), |_| async {
            Ok(Answer::Done)
        })
        .await
        .unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn settings_come_from_the_template() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
        let s = Settings::from_template(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!((s.batch_size, s.max_retries, s.bisect), (1000, 100, true));
    }
}
