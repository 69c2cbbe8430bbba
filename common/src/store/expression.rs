//! `UpdateItem` expressions put together: `SET`, `REMOVE` and `ADD` clauses, conditions, and
//! the names and values they use. Shared by the link's update (`links.rs`), the link totals
//! (`totals.rs`) and the owner totals (`owner_totals.rs`).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Update};

use super::layout::{PK, SK};
use super::{n, s, Item, StoreError};

/// An `UpdateItem` being put together: `SET`s, `REMOVE`s, `ADD`s (of a count; none of 0)
/// and conditions (joined by `AND`), with their names and values.
#[derive(Debug, Default)]
pub(super) struct Expression {
    pub(super) sets: Vec<String>,
    pub(super) removes: Vec<String>,
    pub(super) adds: Vec<(&'static str, u64)>,
    pub(super) conditions: Vec<String>,
    pub(super) names: HashMap<String, String>,
    pub(super) values: Item,
}

impl Expression {
    /// Sets `map.<key> = value` for each entry, or the whole map when the item has none
    /// (a path into a missing map is an error).
    pub(super) fn set_entries(
        &mut self,
        item: &Item,
        map: &'static str,
        entries: impl Iterator<Item = (String, u64)>,
    ) {
        let entries: Vec<(String, u64)> = entries.collect();
        if entries.is_empty() {
            return;
        }
        if item.get(map).is_some_and(|m| m.as_m().is_ok()) {
            for (key, value) in entries {
                let i = self.names.len();
                self.names.insert(format!("#k{i}"), key);
                self.values.insert(format!(":k{i}"), n(value));
                self.sets.push(format!("{map}.#k{i} = :k{i}"));
            }
        } else {
            let whole = entries.into_iter().map(|(k, v)| (k, n(v))).collect();
            self.values
                .insert(format!(":{map}"), AttributeValue::M(whole));
            self.sets.push(format!("{map} = :{map}"));
        }
    }

    /// The update expression, the condition (if any), the names (if any) and the values,
    /// as `UpdateItem` and a transaction's `Update` take them.
    pub(super) fn into_parts(self) -> Parts {
        let mut values = self.values;
        let adds: Vec<String> = self
            .adds
            .iter()
            .filter(|(_, v)| *v > 0)
            .map(|(name, v)| {
                values.insert(format!(":add_{name}"), n(*v));
                format!("{name} :add_{name}")
            })
            .collect();
        let mut clauses = Vec::new();
        for (verb, list) in [
            ("SET", &self.sets),
            ("REMOVE", &self.removes),
            ("ADD", &adds),
        ] {
            if !list.is_empty() {
                clauses.push(format!("{verb} {}", list.join(", ")));
            }
        }
        Parts {
            expression: clauses.join(" "),
            condition: (!self.conditions.is_empty()).then(|| self.conditions.join(" AND ")),
            names: (!self.names.is_empty()).then_some(self.names),
            values: (!values.is_empty()).then_some(values),
        }
    }

    /// A transaction's `Update` of the item at `pk`, `sk`.
    pub(super) fn update(self, table: &str, pk: &str, sk: &str) -> Result<Update, StoreError> {
        let parts = self.into_parts();
        Update::builder()
            .table_name(table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression(parts.expression)
            .set_condition_expression(parts.condition)
            .set_expression_attribute_names(parts.names)
            .set_expression_attribute_values(parts.values)
            .build()
            .map_err(|e| StoreError::Unavailable(e.into()))
    }
}

/// An expression's parts (`Expression::into_parts`).
pub(super) struct Parts {
    pub(super) expression: String,
    pub(super) condition: Option<String>,
    pub(super) names: Option<HashMap<String, String>>,
    pub(super) values: Option<Item>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_come_in_order_and_empty_ones_are_left_out() {
        let mut e = Expression::default();
        e.sets.push("a = :a".into());
        e.values.insert(":a".into(), n(1));
        e.removes.push("b".into());
        e.adds.push(("visits", 2));
        e.adds.push(("bot_visits", 0));
        e.conditions.push("attribute_exists(pk)".into());
        e.conditions.push("rev = :rev".into());
        let p = e.into_parts();
        assert_eq!(p.expression, "SET a = :a REMOVE b ADD visits :add_visits");
        assert_eq!(
            p.condition.as_deref(),
            Some("attribute_exists(pk) AND rev = :rev")
        );
        assert!(p.names.is_none());
        let values = p.values.unwrap();
        assert_eq!(values[":add_visits"], n(2));
        assert!(
            !values.contains_key(":add_bot_visits"),
            "an ADD of 0 is left out"
        );

        let only_adds = Expression {
            adds: vec![("visits", 1)],
            ..Default::default()
        };
        assert_eq!(only_adds.into_parts().expression, "ADD visits :add_visits");
    }

    /// A map the item lacks is set whole (a path into a missing map is an error); into one
    /// it has, entry by entry under placeholder names (a key may be any string).
    #[test]
    fn map_entries_are_set_one_by_one_only_into_an_existing_map() {
        let entries = || vec![("2026-12-03".to_owned(), 5)].into_iter();
        let mut e = Expression::default();
        e.set_entries(&Item::new(), "d", entries());
        assert_eq!(e.sets, ["d = :d"]);
        let held = Item::from([("d".to_owned(), AttributeValue::M(Default::default()))]);
        let mut e = Expression::default();
        e.set_entries(&held, "d", entries());
        assert_eq!(e.sets, ["d.#k0 = :k0"]);
        assert_eq!(e.names["#k0"], "2026-12-03");
        let mut e = Expression::default();
        e.set_entries(&held, "d", std::iter::empty());
        assert!(e.sets.is_empty());
    }
}
