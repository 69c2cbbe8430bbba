//! The table's definition, as template.yaml has it (integration/tests/schema.rs checks that
//! the two agree), and its creation for the local stack and tests.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;

use chrono::NaiveDate;

use super::layout::{
    day_key, owner_pk, owner_totals_sk, questions_sk, ranking_sk, shard_pk, CREATED_AT, DISABLED,
    EXPIRES_AT, EXPIRES_TTL, FORWARD_QUERY, KEYS_PK, KIND, LINK_SK, MAX_VISITS, OWNER, OWNER_INDEX,
    PK, SK, TAGS, TITLE, TOP_PK, TOTAL_SK, TRIES_SK, URL,
};
use super::{unavailable, StoreError};
use crate::domain::{Code, KeyHash, Period};

/// The attributes the owner index carries besides the keys: what `GET /links` shows.
pub const OWNER_INDEX_ATTRIBUTES: [&str; 8] = [
    URL,
    KIND,
    EXPIRES_AT,
    MAX_VISITS,
    DISABLED,
    FORWARD_QUERY,
    TITLE,
    TAGS,
];

fn attr(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("name and type are set")
}

fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .expect("name and type are set")
}

/// The table's attribute definitions and key schema.
pub fn key_schema() -> (Vec<AttributeDefinition>, Vec<KeySchemaElement>) {
    (
        vec![attr(PK), attr(SK), attr(OWNER), attr(CREATED_AT)],
        vec![key(PK, KeyType::Hash), key(SK, KeyType::Range)],
    )
}

fn owner_index() -> GlobalSecondaryIndex {
    GlobalSecondaryIndex::builder()
        .index_name(OWNER_INDEX)
        .key_schema(key(OWNER, KeyType::Hash))
        .key_schema(key(CREATED_AT, KeyType::Range))
        // What the listing shows, so it needs no second read per link; not what changes
        // on visits (capped_visits) or on every PATCH (updated_at).
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::Include)
                .set_non_key_attributes(Some(
                    OWNER_INDEX_ATTRIBUTES
                        .iter()
                        .map(|a| a.to_string())
                        .collect(),
                ))
                .build(),
        )
        .build()
        .expect("name, keys and projection are set")
}

/// The table's stream, read by the `aggregate` function: both images, so that a counter's
/// change is known from the record alone (`aggregates.rs`).
pub fn stream_specification() -> StreamSpecification {
    StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::NewAndOldImages)
        .build()
        .expect("the flag is set")
}

/// Creates the table if it does not exist (local set-up and tests; SAM creates it on AWS),
/// adds the owner index and the stream to a table made before they existed, and turns on TTL. Returns
/// whether the table was created.
pub async fn ensure_table(client: &Client, table: &str) -> Result<bool, StoreError> {
    let (attrs, keys) = key_schema();
    let result = client
        .create_table()
        .table_name(table)
        .set_attribute_definitions(Some(attrs.clone()))
        .set_key_schema(Some(keys))
        .global_secondary_indexes(owner_index())
        .stream_specification(stream_specification())
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    let created = match result {
        Ok(_) => true,
        Err(SdkError::ServiceError(e)) if e.err().is_resource_in_use_exception() => false,
        Err(e) => return Err(unavailable(e)),
    };
    if !created {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(unavailable)?;
        let has_stream = described
            .table()
            .and_then(|t| t.stream_specification())
            .is_some_and(|s| s.stream_enabled());
        if !has_stream {
            client
                .update_table()
                .table_name(table)
                .stream_specification(stream_specification())
                .send()
                .await
                .map_err(unavailable)?;
        }
        let has_index = described
            .table()
            .map(|t| {
                t.global_secondary_indexes()
                    .iter()
                    .any(|i| i.index_name() == Some(OWNER_INDEX))
            })
            .unwrap_or(false);
        if !has_index {
            let index = owner_index();
            let action = CreateGlobalSecondaryIndexAction::builder()
                .index_name(OWNER_INDEX)
                .set_key_schema(Some(index.key_schema().to_vec()))
                .set_projection(index.projection().cloned())
                .build()
                .expect("name, keys and projection are set");
            client
                .update_table()
                .table_name(table)
                .set_attribute_definitions(Some(attrs))
                .global_secondary_index_updates(
                    GlobalSecondaryIndexUpdate::builder().create(action).build(),
                )
                .send()
                .await
                .map_err(unavailable)?;
        }
    }
    let ttl = client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(EXPIRES_TTL)
                .enabled(true)
                .build()
                .expect("name and flag are set"),
        )
        .send()
        .await;
    if let Err(e) = ttl {
        // Already enabled answers a validation error; the functions never rely on TTL.
        tracing::debug!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(e), "TTL not changed");
    }
    Ok(created)
}

/// Declares `ItemKind` and its `ALL` from one list: no kind can be missing from `ALL`.
macro_rules! item_kinds {
    ($($(#[$doc:meta])* $variant:ident,)+) => {
        /// Which items the table holds, for checks that must cover each of them (the stream
        /// filter of the aggregator: `devtools::filter`). A new kind of item belongs here.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ItemKind {
            $($(#[$doc])* $variant,)+
        }

        impl ItemKind {
            pub const ALL: &'static [ItemKind] = &[$(ItemKind::$variant,)+];
        }
    };
}

item_kinds! {
    Link,
    DayCounter,
    ShardCounter,
    Total,
    Ranking,
    ApiKey,
    PasswordTries,
    OwnerTotals,
    /// A visit queued when its counter write stayed throttled (`spill.rs`).
    QueuedVisit,
    /// The questions a key asked the analytics model in an hour (`questions.rs`).
    QuestionCounter,
}

impl ItemKind {
    /// Whether the aggregator reads this kind's stream records with this event name.
    pub fn aggregated_on(self, event_name: &str) -> bool {
        match self {
            ItemKind::DayCounter | ItemKind::ShardCounter => true,
            ItemKind::Link => event_name == "REMOVE",
            ItemKind::QueuedVisit => event_name == "INSERT",
            ItemKind::Total
            | ItemKind::Ranking
            | ItemKind::ApiKey
            | ItemKind::PasswordTries
            | ItemKind::OwnerTotals
            | ItemKind::QuestionCounter => false,
        }
    }
}

/// The keys (`pk`, `sk`) of examples of every item the store writes, built by the same
/// functions as the writes themselves.
pub fn example_keys(code: &Code, day: NaiveDate, key: &KeyHash) -> Vec<(ItemKind, String, String)> {
    vec![
        (ItemKind::Link, code.as_str().to_owned(), LINK_SK.to_owned()),
        (ItemKind::DayCounter, shard_pk(code, 0), day_key(day)),
        (ItemKind::ShardCounter, shard_pk(code, 5), day_key(day)),
        (
            ItemKind::Total,
            code.as_str().to_owned(),
            TOTAL_SK.to_owned(),
        ),
        (
            ItemKind::Ranking,
            TOP_PK.to_owned(),
            ranking_sk(Period::All),
        ),
        (
            ItemKind::Ranking,
            TOP_PK.to_owned(),
            ranking_sk(Period::Day(day)),
        ),
        (
            ItemKind::ApiKey,
            KEYS_PK.to_owned(),
            key.as_str().to_owned(),
        ),
        (
            ItemKind::PasswordTries,
            code.as_str().to_owned(),
            TRIES_SK.to_owned(),
        ),
        (
            ItemKind::Ranking,
            owner_pk(&key.id()),
            ranking_sk(Period::Day(day)),
        ),
        (
            ItemKind::OwnerTotals,
            owner_pk(&key.id()),
            owner_totals_sk(Period::Day(day), 3),
        ),
        (
            ItemKind::OwnerTotals,
            owner_pk(&key.id()),
            owner_totals_sk(Period::All, 0),
        ),
        {
            let (pk, sk) = super::spill::queue_keys(code, day);
            (ItemKind::QueuedVisit, pk, sk)
        },
        (
            ItemKind::QuestionCounter,
            owner_pk(&key.id()),
            questions_sk(day.and_hms_opt(5, 0, 0).expect("a time").and_utc()),
        ),
    ]
}
