//! The questions a key may ask of the analytics model (`POST /insights/ask`): counted per
//! key and UTC hour on an item of the key's owner partition (`pk = "#owner#<key id>"`,
//! `sk = "asks#YYYY-MM-DDTHH"`, 1 WRU), reserved by a conditional `ADD` *before* the model
//! is called, so that concurrent questions cannot pass the limit. The item expires (TTL) a
//! day after its hour. Written through the counter's client: an `ADD` that DynamoDB applied
//! slowly is never sent again.

use aws_sdk_dynamodb::types::ReturnConsumedCapacity;
use chrono::{DateTime, Duration, DurationRound, Utc};

use super::layout::{owner_pk, questions_sk, EXPIRES_TTL, PK, QUESTIONS, SK};
use super::{n, s, Outcome, Store, StoreError};
use crate::domain::KeyId;

/// What the reservation of a question decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuestionGate {
    /// Ask the model.
    Reserved,
    /// The key asked `limit` questions this hour: the next hour begins in `retry_after` s.
    Limited { retry_after: u64 },
}

/// Seconds from `now` to the next UTC hour (at least 1).
pub fn seconds_to_next_hour(now: DateTime<Utc>) -> u64 {
    let hour = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
    ((hour + Duration::hours(1)) - now).num_seconds().max(1) as u64
}

impl Store {
    /// Reserves one of `key`'s `limit` questions of `now`'s hour: one conditional `ADD`.
    pub async fn reserve_question(
        &self,
        key: &KeyId,
        limit: u32,
        now: DateTime<Utc>,
    ) -> Result<QuestionGate, StoreError> {
        let ttl = (now + Duration::days(1)).timestamp().max(0) as u64;
        let add = self
            .counter_client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(&owner_pk(key)))
            .key(SK, s(&questions_sk(now)))
            .update_expression(format!("ADD {QUESTIONS} :one SET {EXPIRES_TTL} = :ttl"))
            .condition_expression(format!(
                "attribute_not_exists({QUESTIONS}) OR {QUESTIONS} < :max"
            ))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(u64::from(limit)))
            .expression_attribute_values(":ttl", n(ttl))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send();
        Ok(match self.call(add, |o| o.consumed_capacity()).await? {
            Outcome::Applied(_) => QuestionGate::Reserved,
            Outcome::Refused(_) => QuestionGate::Limited {
                retry_after: seconds_to_next_hour(now),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn one_counter_per_hour_and_the_wait_to_the_next() {
        let t = Utc.with_ymd_and_hms(2026, 12, 3, 5, 59, 30).unwrap();
        assert_eq!(questions_sk(t), "asks#2026-12-03T05");
        assert_eq!(seconds_to_next_hour(t), 30);
        let top = Utc.with_ymd_and_hms(2026, 12, 3, 6, 0, 0).unwrap();
        assert_eq!(questions_sk(top), "asks#2026-12-03T06");
        assert_eq!(seconds_to_next_hour(top), 3600);
    }
}
