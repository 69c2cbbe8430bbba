//! A key's links, newest first: one `Query` per page on the sparse `by-owner` index.

use aws_sdk_dynamodb::types::ReturnConsumedCapacity;

use std::collections::HashMap;

use super::layout::{
    CREATED_AT, LINK_SK, OWNER, OWNER_INDEX, PASSWORD_HASH, PK, RULES, SK, TAGS, TAKEN_DOWN_AT,
    TITLE, TOTAL_SK, URL, VISITS,
};
use super::links::link_from_item;

use super::{number, s, text, time, Item, Store, StoreError};
use crate::domain::link::rfc3339;
use crate::domain::rules::{self, Rule};
use crate::domain::{Code, KeyId, Link, ListCursor, ListFilter};

/// What a listed link shows beyond the owner index: its all-time visits (as the
/// aggregator last counted them) and what the index does not carry.
#[derive(Debug, Clone, Default)]
pub struct ListedExtras {
    pub visits: u64,
    pub password_protected: bool,
    pub rules: Vec<Rule>,
    pub taken_down_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// One page of a key's links, newest first.
#[derive(Debug, Clone)]
pub struct LinksPage {
    pub links: Vec<Link>,
    pub next: Option<ListCursor>,
}

impl Store {
    /// A page of `owner`'s links, newest first: one `Query` on the sparse `by-owner` index
    /// (never a Scan), from where `after` left off. `limit` bounds the items the Query
    /// reads; with a filter, DynamoDB drops the ones that do not match after reading them,
    /// so a filtered page may be short, or empty, and still carry a cursor.
    pub async fn links_of(
        &self,
        owner: &KeyId,
        limit: u16,
        after: Option<&ListCursor>,
        filter: &ListFilter,
    ) -> Result<LinksPage, StoreError> {
        let mut names = std::collections::HashMap::from([("#owner".to_owned(), OWNER.to_owned())]);
        let mut values = Item::from([(":owner".to_owned(), s(owner.as_str()))]);
        let mut conditions = Vec::new();
        if !filter.tags.is_empty() {
            names.insert("#tags".into(), TAGS.into());
            let each: Vec<String> = filter
                .tags
                .iter()
                .enumerate()
                .map(|(i, tag)| {
                    values.insert(format!(":t{i}"), s(tag));
                    format!("contains(#tags, :t{i})")
                })
                .collect();
            let join = if filter.all_tags { " AND " } else { " OR " };
            conditions.push(format!("({})", each.join(join)));
        }
        if let Some(text) = &filter.text {
            names.insert("#url".into(), URL.into());
            names.insert("#title".into(), TITLE.into());
            values.insert(":q".into(), s(text));
            conditions.push("(contains(#url, :q) OR contains(#title, :q))".into());
        }
        let filter_expression = (!conditions.is_empty()).then(|| conditions.join(" AND "));
        let start = after.map(|c| {
            Item::from([
                (PK.to_owned(), s(c.code.as_str())),
                (SK.to_owned(), s(LINK_SK)),
                (OWNER.to_owned(), s(owner.as_str())),
                (CREATED_AT.to_owned(), s(&rfc3339(c.created_at))),
            ])
        });
        let out = self
            .call_plain(
                self.client
                    .query()
                    .table_name(&self.table)
                    .index_name(OWNER_INDEX)
                    .key_condition_expression("#owner = :owner")
                    .set_filter_expression(filter_expression)
                    .set_expression_attribute_names(Some(names))
                    .set_expression_attribute_values(Some(values))
                    .scan_index_forward(false)
                    .limit(i32::from(limit))
                    .set_exclusive_start_key(start)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send(),
                |o| o.consumed_capacity(),
            )
            .await?;
        let mut links = Vec::new();
        for item in out.items.unwrap_or_default() {
            let code = text(&item, PK)
                .and_then(Code::parse)
                .ok_or(StoreError::Malformed {
                    code: owner.to_string(),
                    what: "indexed link without a code",
                })?;
            links.push(link_from_item(&code, &item)?);
        }
        let next = match out.last_evaluated_key {
            Some(key) => {
                let code = text(&key, PK).and_then(Code::parse);
                let created_at = time(&key, CREATED_AT);
                match (code, created_at) {
                    (Some(code), Some(created_at)) => Some(ListCursor { created_at, code }),
                    _ => {
                        return Err(StoreError::Malformed {
                            code: owner.to_string(),
                            what: "index page key",
                        })
                    }
                }
            }
            None => None,
        };
        Ok(LinksPage { links, next })
    }

    /// The extras of each of `codes`, by code: one `BatchGetItem` per 50 links of their
    /// totals and of three attributes of their link items (the password's presence, the
    /// rules, the takedown), eventually consistent.
    pub async fn listed_extras_of(
        &self,
        codes: &[&Code],
    ) -> Result<HashMap<String, ListedExtras>, StoreError> {
        let keys: Vec<(&str, &str)> = codes
            .iter()
            .flat_map(|c| [(c.as_str(), TOTAL_SK), (c.as_str(), LINK_SK)])
            .collect();
        let items = self
            .batch_get(
                &keys,
                "pk, sk, #v, #pw, #rules, #down",
                &[
                    ("#v", VISITS),
                    ("#pw", PASSWORD_HASH),
                    ("#rules", RULES),
                    ("#down", TAKEN_DOWN_AT),
                ],
            )
            .await?;
        let mut extras: HashMap<String, ListedExtras> = HashMap::new();
        for item in &items {
            let Some(code) = text(item, PK) else { continue };
            let entry = extras.entry(code.to_owned()).or_default();
            if text(item, SK) == Some(TOTAL_SK) {
                entry.visits = number(item, VISITS).unwrap_or(0);
            } else {
                entry.password_protected = item.contains_key(PASSWORD_HASH);
                entry.rules = text(item, RULES)
                    .and_then(rules::from_stored)
                    .unwrap_or_default();
                entry.taken_down_at = time(item, TAKEN_DOWN_AT);
            }
        }
        Ok(extras)
    }
}
