//! API keys: `pk = "#key"`, `sk = <SHA-256 of the key>`. One partition, so the command
//! line lists keys with a `Query`; a request's key is one `GetItem`, cached by the caller.

use aws_sdk_dynamodb::types::{ReturnConsumedCapacity, ReturnValue};
use std::time::Instant;

use super::{s, text, time, unavailable, Item, Store, StoreError, PK, SK};
use crate::domain::link::rfc3339;
use crate::domain::{KeyHash, KeyId, KeyRecord, Role};

pub(super) const KEYS_PK: &str = "#key";
const NAME: &str = "name";
const ROLE: &str = "role";
const CREATED_AT: &str = "created_at";
const REVOKED_AT: &str = "revoked_at";

#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error("no key with id '{0}'")]
    NotFound(KeyId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Stores a new key (its hash, never the key).
    pub async fn put_key(&self, key: &KeyRecord) -> Result<(), StoreError> {
        let mut item = Item::from([
            (PK.to_owned(), s(KEYS_PK)),
            (SK.to_owned(), s(key.hash.as_str())),
            (NAME.to_owned(), s(&key.name)),
            (ROLE.to_owned(), s(key.role.as_str())),
            (CREATED_AT.to_owned(), s(&rfc3339(key.created_at))),
        ]);
        if let Some(t) = key.revoked_at {
            item.insert(REVOKED_AT.to_owned(), s(&rfc3339(t)));
        }
        let started = Instant::now();
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        self.record(started, &out, |o| o.consumed_capacity());
        out.map(|_| ()).map_err(unavailable)
    }

    pub async fn find_key(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, StoreError> {
        self.get_item(KEYS_PK, hash.as_str(), false)
            .await?
            .map(|item| key_from_item(&item))
            .transpose()
    }

    /// Every key, revoked ones included, oldest first.
    pub async fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let mut keys = Vec::new();
        for item in self.query_partition(KEYS_PK, None, true).await? {
            keys.push(key_from_item(&item)?);
        }
        keys.sort_by_key(|k| k.created_at);
        Ok(keys)
    }

    /// Marks the key with this id revoked (once: a second revoke keeps the first time).
    pub async fn revoke_key(
        &self,
        id: &KeyId,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<KeyRecord, RevokeError> {
        let started = Instant::now();
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :id)")
            .expression_attribute_values(":pk", s(KEYS_PK))
            .expression_attribute_values(":id", s(id.as_str()))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        self.record(started, &out, |o| o.consumed_capacity());
        let items = out.map_err(unavailable)?.items.unwrap_or_default();
        let hash = match items.as_slice() {
            [item] => key_from_item(item)?.hash,
            _ => return Err(RevokeError::NotFound(id.clone())),
        };
        let started = Instant::now();
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(KEYS_PK))
            .key(SK, s(hash.as_str()))
            .update_expression("SET revoked_at = if_not_exists(revoked_at, :now)")
            .expression_attribute_values(":now", s(&rfc3339(now)))
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllNew)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        self.record(started, &out, |o| o.consumed_capacity());
        let item = out.map_err(unavailable)?.attributes.unwrap_or_default();
        Ok(key_from_item(&item)?)
    }
}

fn key_from_item(item: &Item) -> Result<KeyRecord, StoreError> {
    let malformed = |what| StoreError::Malformed {
        code: KEYS_PK.to_owned(),
        what,
    };
    let hash = text(item, SK)
        .and_then(KeyHash::from_stored)
        .ok_or_else(|| malformed("key hash"))?;
    Ok(KeyRecord {
        hash,
        name: text(item, NAME)
            .ok_or_else(|| malformed("key name"))?
            .to_owned(),
        role: text(item, ROLE)
            .and_then(Role::parse)
            .ok_or_else(|| malformed("key role"))?,
        created_at: time(item, CREATED_AT).ok_or_else(|| malformed("key created_at"))?,
        revoked_at: time(item, REVOKED_AT),
    })
}
