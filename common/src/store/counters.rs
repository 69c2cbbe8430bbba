//! Visit counters: one item per link and UTC day, bumped with an atomic `ADD`.

use aws_sdk_dynamodb::types::{ReturnConsumedCapacity, ReturnValue};
use chrono::NaiveDate;

use super::{n, number, s, unavailable, Store, StoreError, PK, SK};
use crate::domain::Code;

pub(super) const DAY_PREFIX: &str = "day#";
pub(super) const VISITS: &str = "visits";

pub(super) fn day_key(day: NaiveDate) -> String {
    format!("{DAY_PREFIX}{}", day.format("%Y-%m-%d"))
}

/// The day of a counter's sort key, `None` for any other item of the partition.
pub(super) fn day_of(sk: &str) -> Option<Option<NaiveDate>> {
    let day = sk.strip_prefix(DAY_PREFIX)?;
    Some(NaiveDate::parse_from_str(day, "%Y-%m-%d").ok())
}

impl Store {
    /// Counts one visit on `day` with an atomic `ADD`; returns the day's new count. `ADD` is
    /// not idempotent, so a slow attempt is never retried (see `single_attempt_window`).
    pub async fn record_visit(&self, code: &Code, day: NaiveDate) -> Result<u64, StoreError> {
        let out = self
            .counter_client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(code.as_str()))
            .key(SK, s(&day_key(day)))
            .update_expression("ADD visits :one")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        self.record(&out, |o| o.consumed_capacity());
        let attrs = out.map_err(unavailable)?.attributes.unwrap_or_default();
        number(&attrs, VISITS).ok_or(StoreError::Malformed {
            code: code.to_string(),
            what: "visits",
        })
    }
}
