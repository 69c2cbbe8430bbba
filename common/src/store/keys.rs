//! API keys: `pk = "#key"`, `sk = <SHA-256 of the key>`. One partition, so the command
//! line lists keys with a `Query`; a request's key is one `GetItem`, cached by the caller.

use aws_sdk_dynamodb::types::{ReturnConsumedCapacity, ReturnValue};

use super::layout::{CREATED_AT, KEYS_PK, KEY_NAME, KEY_REVOKED_AT, KEY_ROLE, PK, SK};
use super::{s, text, time, Item, Outcome, Store, StoreError};
use crate::domain::link::rfc3339;
use crate::domain::{KeyHash, KeyId, KeyRecord, Role};

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
            (KEY_NAME.to_owned(), s(&key.name)),
            (KEY_ROLE.to_owned(), s(key.role.as_str())),
            (CREATED_AT.to_owned(), s(&rfc3339(key.created_at))),
        ]);
        if let Some(t) = key.revoked_at {
            item.insert(KEY_REVOKED_AT.to_owned(), s(&rfc3339(t)));
        }
        let out = self
            .call(
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(pk)")
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send(),
                |o| o.consumed_capacity(),
            )
            .await?;
        match out {
            Outcome::Applied(_) => Ok(()),
            Outcome::Refused(_) => Err(StoreError::Unavailable(
                "a key with this hash is stored already".into(),
            )),
        }
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
        let out = self
            .call_plain(
                self.client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("pk = :pk AND begins_with(sk, :id)")
                    .expression_attribute_values(":pk", s(KEYS_PK))
                    .expression_attribute_values(":id", s(id.as_str()))
                    .consistent_read(true)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send(),
                |o| o.consumed_capacity(),
            )
            .await;
        let items = out?.items.unwrap_or_default();
        let hash = match items.as_slice() {
            [item] => key_from_item(item)?.hash,
            _ => return Err(RevokeError::NotFound(id.clone())),
        };
        let out = self
            .call(
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .key(PK, s(KEYS_PK))
                    .key(SK, s(hash.as_str()))
                    .update_expression("SET revoked_at = if_not_exists(revoked_at, :now)")
                    .expression_attribute_values(":now", s(&rfc3339(now)))
                    .condition_expression("attribute_exists(pk)")
                    .return_values(ReturnValue::AllNew)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send(),
                |o| o.consumed_capacity(),
            )
            .await?;
        match out {
            Outcome::Applied(o) => Ok(key_from_item(&o.attributes.unwrap_or_default())?),
            // Deleted between the two requests.
            Outcome::Refused(_) => Err(RevokeError::NotFound(id.clone())),
        }
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
        name: text(item, KEY_NAME)
            .ok_or_else(|| malformed("key name"))?
            .to_owned(),
        role: text(item, KEY_ROLE)
            .and_then(Role::parse)
            .ok_or_else(|| malformed("key role"))?,
        created_at: time(item, CREATED_AT).ok_or_else(|| malformed("key created_at"))?,
        revoked_at: time(item, KEY_REVOKED_AT),
    })
}
