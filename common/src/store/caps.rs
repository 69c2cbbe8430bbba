//! The exact visit cap of a link with `max_visits`: a conditional `ADD` on the link item.

use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnConsumedCapacity, ReturnValuesOnConditionCheckFailure,
};
use chrono::{DateTime, Utc};

use super::layout::{CAPPED_VISITS, DISABLED, EXPIRES_AT, LINK_SK, MAX_VISITS, PK, SK};
use super::links::link_from_item;
use super::{n, s, Outcome, Store, StoreError};
use crate::domain::link::rfc3339;
use crate::domain::{Code, Gone};

/// What the conditional write of a capped link decided about one visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitGate {
    /// Counted against the cap: redirect (and count the day as usual).
    Admitted,
    /// The link has no cap (any more): count as usual.
    Uncapped,
    Closed(Gone),
    /// Deleted since it was read.
    Missing,
}

impl Store {
    /// The exact visit cap: one conditional `ADD` on the link item, which DynamoDB applies
    /// to one request at a time, so `max_visits` concurrent visits are admitted and no more.
    /// The same condition refuses a disabled or expired link, as stored now. Not retried
    /// after a slow attempt (the counter client), as the day counter.
    pub async fn gate_visit(
        &self,
        code: &Code,
        now: DateTime<Utc>,
    ) -> Result<VisitGate, StoreError> {
        let request = self
            .counter_client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(code.as_str()))
            .key(SK, s(LINK_SK))
            .update_expression(format!("ADD {CAPPED_VISITS} :one"))
            .condition_expression(format!(
                "attribute_exists({MAX_VISITS}) \
                 AND (attribute_not_exists({CAPPED_VISITS}) OR {CAPPED_VISITS} < {MAX_VISITS}) \
                 AND (attribute_not_exists({DISABLED}) OR {DISABLED} = :false) \
                 AND (attribute_not_exists({EXPIRES_AT}) OR {EXPIRES_AT} > :now)"
            ))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":now", s(&rfc3339(now)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send();
        match self.call(request, |o| o.consumed_capacity()).await? {
            Outcome::Applied(_) => Ok(VisitGate::Admitted),
            Outcome::Refused(item) => {
                let Some(item) = item else {
                    return Ok(VisitGate::Missing);
                };
                let link = link_from_item(code, &item)?;
                Ok(match link.check_open(now) {
                    Err(gone) => VisitGate::Closed(gone),
                    Ok(()) if link.max_visits.is_none() => VisitGate::Uncapped,
                    // Used up, or at the very edge of `expires_at`: not admitted
                    // either way, so the cap stays exact.
                    Ok(()) if link.cap_reached() => VisitGate::Closed(Gone::VisitLimit),
                    Ok(()) => VisitGate::Closed(Gone::Expired),
                })
            }
        }
    }
}
