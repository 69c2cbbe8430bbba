//! The table's stream, in batches: each link's all-time total and the rankings that
//! `GET /stats` reads (`common::store::aggregates`). Off the redirect's path: a visit stays
//! one write.
//!
//! The event is read as plain JSON, record by record (`StreamChange::of_json`): a record
//! that is not one of this table's, or that the decoder cannot read, is logged and skipped,
//! never a failed batch. A batch item failure is reported only for a store error: Lambda
//! delivers that record again with those after it, and what was aggregated already adds
//! nothing the second time.

use chrono::Utc;
use common::runtime::Error;
use common::store::{stream, StreamChange};
use common::App;
use serde_json::{json, Value};

common::lambda_events_main!("aggregate", aggregate);

async fn aggregate(app: &App, event: Value) -> Result<Value, Error> {
    let records = event
        .get("Records")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let changes: Vec<StreamChange> = records
        .iter()
        .enumerate()
        .map(|(i, record)| {
            StreamChange::of_json(record).unwrap_or_else(|why| {
                let event_id = record.get("eventID").and_then(Value::as_str);
                tracing::warn!(
                    index = i,
                    event_id,
                    sequence_number = stream::sequence_number(record),
                    reason = %why,
                    "stream record skipped"
                );
                StreamChange::Ignored
            })
        })
        .collect();
    let done = app.store.aggregate(&changes, Utc::now()).await;
    let failures = match done.first_failed {
        None => vec![],
        Some(i) => match stream::sequence_number(&records[i]) {
            Some(seq) => vec![json!({ "itemIdentifier": seq })],
            // Without a position to name, the whole batch is delivered again.
            None => return Err("a record without a sequence number was not aggregated".into()),
        },
    };
    Ok(json!({ "batchItemFailures": failures }))
}
