//! The lockout of a password link: the tries of a 15-minute window, counted on an item of
//! the link's partition (`sk = "tries"`, 1 WRU whatever the link's size), reserved by a
//! conditional write *before* the password is hashed, so that a locked link costs no hash
//! and concurrent guesses cannot hash more than `MAX_FAILED_TRIES` times a window. Every
//! write goes through the counter's client: an `ADD` that DynamoDB applied slowly is never
//! sent again (a retry would take or give back a try twice).

use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnConsumedCapacity, ReturnValue, ReturnValuesOnConditionCheckFailure,
};
use chrono::{DateTime, SubsecRound, Utc};

use super::layout::{EXPIRES_TTL, PK, SK, TRIES_COUNT, TRIES_SK, TRIES_WINDOW};
use super::{n, number, s, time, Outcome, Store, StoreError};
use crate::domain::link::rfc3339;
use crate::domain::password::{LOCKOUT_WINDOW, MAX_FAILED_TRIES};
use crate::domain::Code;

/// What the reservation of a try decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TryGate {
    /// Check the password; `release_try` with this window if it was right.
    Reserved { window: DateTime<Utc> },
    /// Too many wrong tries: refuse without hashing until `until`.
    Locked { until: DateTime<Utc> },
}

/// A reset that lost its race to another one is retried this often before answering 503.
const RACES: usize = 3;

impl Store {
    /// Reserves one try of `code`'s password at `now`: one conditional `ADD` in a current
    /// window with room left; a new window (a conditional update) when there is none.
    pub async fn reserve_try(
        &self,
        code: &Code,
        now: DateTime<Utc>,
    ) -> Result<TryGate, StoreError> {
        let cutoff = rfc3339(now - LOCKOUT_WINDOW);
        for _ in 0..RACES {
            let add = self
                .counter_client
                .update_item()
                .table_name(&self.table)
                .key(PK, s(code.as_str()))
                .key(SK, s(TRIES_SK))
                .update_expression(format!("ADD {TRIES_COUNT} :one"))
                .condition_expression(format!("#w > :cutoff AND {TRIES_COUNT} < :max"))
                .expression_attribute_names("#w", TRIES_WINDOW)
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":cutoff", s(&cutoff))
                .expression_attribute_values(":max", n(MAX_FAILED_TRIES))
                .return_values(ReturnValue::AllNew)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send();
            let old = match self.call(add, |o| o.consumed_capacity()).await? {
                Outcome::Applied(out) => {
                    // The window the try was counted in, as the condition saw it.
                    let window = out
                        .attributes
                        .as_ref()
                        .and_then(|item| time(item, TRIES_WINDOW))
                        .unwrap_or(now);
                    return Ok(TryGate::Reserved { window });
                }
                Outcome::Refused(old) => old,
            };
            let window = old.as_ref().and_then(|item| time(item, TRIES_WINDOW));
            if let Some(window) = window.filter(|w| *w > now - LOCKOUT_WINDOW) {
                if old
                    .as_ref()
                    .and_then(|i| number(i, TRIES_COUNT))
                    .unwrap_or(0)
                    >= MAX_FAILED_TRIES
                {
                    return Ok(TryGate::Locked {
                        until: window + LOCKOUT_WINDOW,
                    });
                }
                // A window began between the two reads: count in it.
                continue;
            }
            // No window, or an old one: start one, unless another try just did.
            let ttl = (now + LOCKOUT_WINDOW + chrono::Duration::days(1))
                .timestamp()
                .max(0) as u64;
            // An update, not a put: the redirect's role may only read and update items.
            let put = self
                .counter_client
                .update_item()
                .table_name(&self.table)
                .key(PK, s(code.as_str()))
                .key(SK, s(TRIES_SK))
                .update_expression(format!(
                    "SET #w = :now, {TRIES_COUNT} = :one, {EXPIRES_TTL} = :ttl"
                ))
                .condition_expression("attribute_not_exists(#w) OR #w <= :cutoff")
                .expression_attribute_names("#w", TRIES_WINDOW)
                .expression_attribute_values(":now", s(&rfc3339(now)))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":ttl", n(ttl))
                .expression_attribute_values(":cutoff", s(&cutoff))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send();
            if let Outcome::Applied(_) = self.call(put, |o| o.consumed_capacity()).await? {
                return Ok(TryGate::Reserved {
                    window: now.trunc_subsecs(3),
                });
            }
        }
        Err(StoreError::Unavailable(
            "the tries of a password link kept changing".into(),
        ))
    }

    /// Gives back a try that turned out right: it counts against nobody. Only in the
    /// window it was taken in (a new window starts from nothing anyway).
    pub async fn release_try(&self, code: &Code, window: DateTime<Utc>) -> Result<(), StoreError> {
        let request = self
            .counter_client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(code.as_str()))
            .key(SK, s(TRIES_SK))
            .update_expression(format!("ADD {TRIES_COUNT} :minus"))
            .condition_expression(format!("#w = :window AND {TRIES_COUNT} > :zero"))
            .expression_attribute_names("#w", TRIES_WINDOW)
            .expression_attribute_values(":minus", AttributeValue::N("-1".into()))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":window", s(&rfc3339(window)))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send();
        self.call(request, |o| o.consumed_capacity()).await?;
        Ok(())
    }
}
