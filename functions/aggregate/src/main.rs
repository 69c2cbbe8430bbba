//! The table's stream, in batches: each link's all-time total and the rankings that
//! `GET /stats` reads (`common::store::aggregates`). Off the redirect's path: a visit stays
//! one write. Partial batch responses: a record that could not be aggregated is reported,
//! and Lambda delivers it again with those after it; what was aggregated already adds
//! nothing the second time.

use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use chrono::Utc;
use common::runtime::Error;
use common::store::StreamChange;
use common::App;

common::lambda_events_main!("aggregate", aggregate);

async fn aggregate(app: &App, event: Event) -> Result<DynamoDbEventResponse, Error> {
    let changes: Vec<StreamChange> = event.records.iter().map(StreamChange::of_record).collect();
    let done = app.store.aggregate(&changes, Utc::now()).await;
    let mut response = DynamoDbEventResponse::default();
    if let Some(i) = done.first_failed {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = event.records[i].change.sequence_number.clone();
        response.batch_item_failures.push(failure);
    }
    Ok(response)
}
