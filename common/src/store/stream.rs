//! Records of the table's stream, read apart from where their effect is written: what a
//! record means (`StreamChange::of_json`), and what a whole batch means (`plan`, a pure
//! fold), before `aggregates.rs` writes anything.
//!
//! Records are read from their JSON leniently, attribute by attribute: DynamoDB Streams,
//! DynamoDB Local and Lambda do not always agree on the shape of attribute values (DynamoDB
//! Local sends an empty map as `{}` where the table holds `{"M": {}}`), and one record that
//! a strict decoder refused would fail its whole batch, again and again. Only the keys, the
//! event name, the sequence number, the `visits` and `bot_visits` of both images and a
//! deleted link's `owner` are read; a record without readable keys is skipped with its
//! reason, never failed.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::Value;

use super::counters::MAX_COUNTER_SHARDS;
use super::layout::{
    counter_source, day_of, parse_shard_pk, BOT_VISITS, COUNTER_SHARDS, LINK_SK, OWNER, PK, SK,
    VISITS,
};

use super::spill::Spilled;
use crate::domain::ranking::Period;
use crate::domain::{Code, KeyId};

/// What one stream record means for the aggregates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamChange {
    /// A day counter item's human visits went from `old` to `new`, its bot visits from
    /// `bots_old` to `bots_new` (one of them grew).
    Counter {
        code: Code,
        day: NaiveDate,
        /// "YYYY-MM-DD", or "YYYY-MM-DD#<shard>" for a hot link's other shards.
        source: String,
        old: u64,
        new: u64,
        bots_old: u64,
        bots_new: u64,
    },
    /// A link was deleted (with its owner, if it had one, and its counter shards): it
    /// leaves the rankings, and what its partitions still hold of it goes
    /// (`Store::purge_freed`).
    LinkDeleted(Code, Option<KeyId>, u32),
    /// A visit queued by a redirect whose counter write was throttled (`spill.rs`): to be
    /// counted on a shard.
    Spilled(Spilled),
    /// Anything else (links, keys, totals and rankings themselves).
    Ignored,
}

/// Why a record was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreadable(pub &'static str);

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// A string attribute of a stream image or key set: `{"S": "..."}`.
fn string_attr<'a>(attrs: &'a Value, name: &str) -> Option<&'a str> {
    attrs.get(name)?.get("S")?.as_str()
}

/// A number attribute (`{"N": "12"}`): `Ok(None)` when absent, `Err` when not a count.
fn count_attr(attrs: &Value, name: &str) -> Result<Option<u64>, Unreadable> {
    match attrs.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .get("N")
            .and_then(Value::as_str)
            .and_then(|n| n.parse().ok())
            .map(Some)
            .ok_or(Unreadable("visits is not a count")),
    }
}

impl StreamChange {
    /// Reads a record of the table's stream (`NEW_AND_OLD_IMAGES`) as Lambda delivers it.
    pub fn of_json(record: &Value) -> Result<StreamChange, Unreadable> {
        let change = record
            .get("dynamodb")
            .filter(|d| d.is_object())
            .ok_or(Unreadable("no dynamodb section"))?;
        let keys = change.get("Keys").ok_or(Unreadable("no Keys"))?;
        let (Some(pk), Some(sk)) = (string_attr(keys, PK), string_attr(keys, SK)) else {
            return Err(Unreadable("Keys without string pk and sk"));
        };
        let event = record
            .get("eventName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if event == "INSERT" {
            if let Some(spilled) = Spilled::of_record(record) {
                return spilled.map(StreamChange::Spilled);
            }
        }
        let Some((code, shard)) = parse_shard_pk(pk) else {
            return Ok(StreamChange::Ignored);
        };
        if sk == LINK_SK && shard == 0 && event == "REMOVE" {
            let old = change.get("OldImage");
            let owner = old
                .and_then(|image| string_attr(image, OWNER))
                .and_then(KeyId::parse);
            let shards = old
                .and_then(|image| count_attr(image, COUNTER_SHARDS).ok().flatten())
                .map_or(1, |n| n.clamp(1, MAX_COUNTER_SHARDS as u64) as u32);
            return Ok(StreamChange::LinkDeleted(code, owner, shards));
        }
        let Some(Some(day)) = day_of(sk) else {
            return Ok(StreamChange::Ignored);
        };
        // A removed counter (its link deleted) takes nothing back.
        if event == "REMOVE" {
            return Ok(StreamChange::Ignored);
        }
        let count = |image: &str, name: &str| match change.get(image) {
            Some(image) => count_attr(image, name).map(Option::unwrap_or_default),
            None => Ok(0),
        };
        let (old, new) = (count("OldImage", VISITS)?, count("NewImage", VISITS)?);
        let (bots_old, bots_new) = (
            count("OldImage", BOT_VISITS)?,
            count("NewImage", BOT_VISITS)?,
        );
        // Nothing grew (a capped link's refusal, a map's change alone).
        if new <= old && bots_new <= bots_old {
            return Ok(StreamChange::Ignored);
        }
        let source = counter_source(day, shard);
        Ok(StreamChange::Counter {
            code,
            day,
            source,
            old: old.min(new),
            new,
            bots_old: bots_old.min(bots_new),
            bots_new,
        })
    }
}

/// The stream position of a record (what a partial batch response names).
pub fn sequence_number(record: &Value) -> Option<&str> {
    record.get("dynamodb")?.get("SequenceNumber")?.as_str()
}

/// One counter item's change over a batch: `old` of its first record, `new` of its last,
/// for human visits and for bot visits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceChange {
    pub day: NaiveDate,
    pub old: u64,
    pub new: u64,
    pub bots_old: u64,
    pub bots_new: u64,
}

/// A batch folded per link: what to add to each total, and which links left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchPlan {
    /// Per link: the position of its first record, and each counter item's change.
    pub links: BTreeMap<Code, (usize, BTreeMap<String, SourceChange>)>,
    /// Deleted links, with their record's position and their owner.
    pub deleted: Vec<(usize, Code, Option<KeyId>)>,
    /// Deleted links, with their record's position and their counter shards.
    pub freed: Vec<(usize, Code, u32)>,
    /// Queued visits, with their record's position.
    pub spilled: Vec<(usize, Spilled)>,
}

/// Folds a batch (in stream order). A counter seen several times keeps its lowest `old`
/// and highest `new`: records delivered twice or out of order fold to the same change.
pub fn plan(changes: &[StreamChange]) -> BatchPlan {
    let mut plan = BatchPlan::default();
    for (i, change) in changes.iter().enumerate() {
        match change {
            StreamChange::Counter {
                code,
                day,
                source,
                old,
                new,
                bots_old,
                bots_new,
            } => {
                let (_, sources) = plan
                    .links
                    .entry(code.clone())
                    .or_insert((i, BTreeMap::new()));
                let c = sources.entry(source.clone()).or_insert(SourceChange {
                    day: *day,
                    old: *old,
                    new: *new,
                    bots_old: *bots_old,
                    bots_new: *bots_new,
                });
                c.old = c.old.min(*old);
                c.new = c.new.max(*new);
                c.bots_old = c.bots_old.min(*bots_old);
                c.bots_new = c.bots_new.max(*bots_new);
            }
            StreamChange::LinkDeleted(code, owner, shards) => {
                plan.deleted.push((i, code.clone(), owner.clone()));
                plan.freed.push((i, code.clone(), *shards));
            }
            StreamChange::Spilled(spilled) => plan.spilled.push((i, spilled.clone())),
            StreamChange::Ignored => {}
        }
    }
    plan
}

/// Whose ranking: every link's (`None`), or one owner's links'.
pub type Scope = Option<KeyId>;

/// A ranking's changes from one batch: the position of its first record, the counts to
/// merge and the links to take out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoardChange {
    pub first: usize,
    pub counts: Vec<(String, u64)>,
    pub deleted: Vec<String>,
}

/// The rankings a batch touches, in every scope (all links, and each owner's): every
/// link's all-time total, its total of each day the batch counted visits on; and, when
/// links were deleted, the all-time ranking and those of the last `kept_days` days before
/// `today` (to take them out: all links', and their owner's).
pub fn boards(
    totals: &[(usize, Code, Vec<NaiveDate>, super::LinkTotals)],
    deleted: &[(usize, Code, Option<KeyId>)],
    today: NaiveDate,
    kept_days: u64,
) -> BTreeMap<(Scope, Period), BoardChange> {
    let mut boards: BTreeMap<(Scope, Period), BoardChange> = BTreeMap::new();
    fn touch<'a>(
        boards: &'a mut BTreeMap<(Scope, Period), BoardChange>,
        scope: &Scope,
        period: Period,
        first: usize,
    ) -> &'a mut BoardChange {
        let b = boards
            .entry((scope.clone(), period))
            .or_insert_with(|| BoardChange {
                first,
                ..BoardChange::default()
            });
        b.first = b.first.min(first);
        b
    }
    for (first, code, days, totals) in totals {
        let scopes = std::iter::once(None).chain(totals.owner.clone().map(Some));
        for scope in scopes {
            touch(&mut boards, &scope, Period::All, *first)
                .counts
                .push((code.to_string(), totals.visits));
            for day in days {
                let visits = totals.days.get(day).copied().unwrap_or(0);
                touch(&mut boards, &scope, Period::Day(*day), *first)
                    .counts
                    .push((code.to_string(), visits));
            }
        }
    }
    for (first, code, owner) in deleted {
        let periods = std::iter::once(Period::All)
            .chain((0..=kept_days).map(|d| Period::Day(today - chrono::Days::new(d))));
        for period in periods {
            for scope in std::iter::once(None).chain(owner.clone().map(Some)) {
                touch(&mut boards, &scope, period, *first)
                    .deleted
                    .push(code.to_string());
            }
        }
    }
    boards
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn code(s: &str) -> Code {
        Code::parse(s).unwrap()
    }

    fn counter(pk: &str, sk: &str, old: Option<u64>, new: u64) -> Value {
        let image =
            |v: u64| json!({"pk": {"S": pk}, "sk": {"S": sk}, "visits": {"N": v.to_string()}});
        let mut d = json!({"Keys": {"pk": {"S": pk}, "sk": {"S": sk}}, "NewImage": image(new),
                           "SequenceNumber": "100"});
        if let Some(o) = old {
            d["OldImage"] = image(o);
        }
        json!({"eventName": if old.is_some() { "MODIFY" } else { "INSERT" }, "dynamodb": d})
    }

    fn counter_with_bots(pk: &str, sk: &str, old: Option<(u64, u64)>, new: (u64, u64)) -> Value {
        let image = |(v, b): (u64, u64)| {
            json!({"pk": {"S": pk}, "sk": {"S": sk}, "visits": {"N": v.to_string()},
                   "bot_visits": {"N": b.to_string()}})
        };
        let mut d = json!({"Keys": {"pk": {"S": pk}, "sk": {"S": sk}}, "NewImage": image(new),
                           "SequenceNumber": "100"});
        if let Some(o) = old {
            d["OldImage"] = image(o);
        }
        json!({"eventName": if old.is_some() { "MODIFY" } else { "INSERT" }, "dynamodb": d})
    }

    #[test]
    fn counters_links_and_others_are_told_apart() {
        let c = StreamChange::of_json(&counter("abc", "day#2026-11-22", Some(4), 5)).unwrap();
        assert_eq!(
            c,
            StreamChange::Counter {
                code: code("abc"),
                day: day("2026-11-22"),
                source: "2026-11-22".into(),
                old: 4,
                new: 5,
                bots_old: 0,
                bots_new: 0,
            }
        );
        let shard = StreamChange::of_json(&counter("abc#4", "day#2026-11-22", None, 1)).unwrap();
        assert!(
            matches!(shard, StreamChange::Counter { ref source, old: 0, new: 1, .. } if source == "2026-11-22#4")
        );
        // A bot visit: its count moves (owners' totals count bot visits).
        let bot = counter_with_bots("abc", "day#2026-11-22", Some((5, 1)), (5, 2));
        assert!(matches!(
            StreamChange::of_json(&bot),
            Ok(StreamChange::Counter {
                old: 5,
                new: 5,
                bots_old: 1,
                bots_new: 2,
                ..
            })
        ));
        // Nothing grew, a ranking, a total, a key: nothing to aggregate.
        for record in [
            counter("abc", "day#2026-11-22", Some(5), 5),
            counter_with_bots("abc", "day#2026-11-22", Some((5, 2)), (5, 2)),
            counter("#top", "date#2026-11-22", None, 3),
            counter("#top", "day#2026-11-22", None, 3),
            counter("abc", "total", None, 9),
            counter("#key", "0123abcd", None, 1),
        ] {
            assert_eq!(StreamChange::of_json(&record), Ok(StreamChange::Ignored));
        }
        let removed = json!({"eventName": "REMOVE", "dynamodb": {"Keys": {"pk": {"S": "abc"}, "sk": {"S": "link"}}}});
        assert_eq!(
            StreamChange::of_json(&removed),
            Ok(StreamChange::LinkDeleted(code("abc"), None, 1))
        );
        let owner = "AbCdEfGhIjKl";
        let owned = json!({"eventName": "REMOVE", "dynamodb": {"Keys": {"pk": {"S": "abc"}, "sk": {"S": "link"}},
            "OldImage": {"pk": {"S": "abc"}, "sk": {"S": "link"}, "owner": {"S": owner},
                         "counter_shards": {"N": "4"}}}});
        assert_eq!(
            StreamChange::of_json(&owned),
            Ok(StreamChange::LinkDeleted(
                code("abc"),
                KeyId::parse(owner),
                4
            ))
        );
        assert!(KeyId::parse(owner).is_some());
    }

    /// DynamoDB Local sends an empty map as `{}` (no type key): the record still reads, the
    /// map is not needed. This is the record that froze the rankings of `make dev`.
    #[test]
    fn an_empty_map_without_its_type_reads() {
        let record = json!({
            "eventName": "MODIFY",
            "dynamodb": {
                "Keys": {"pk": {"S": "abc"}, "sk": {"S": "day#2026-11-22"}},
                "OldImage": {"pk": {"S": "abc"}, "visits": {"N": "1"}, "ref": {}},
                "NewImage": {"pk": {"S": "abc"}, "visits": {"N": "2"}, "ref": {}, "e": {}},
                "SequenceNumber": "7"
            }
        });
        assert!(matches!(
            StreamChange::of_json(&record),
            Ok(StreamChange::Counter { old: 1, new: 2, .. })
        ));
        let top = json!({"eventName": "MODIFY", "dynamodb": {
            "Keys": {"pk": {"S": "#top"}, "sk": {"S": "day#2026-11-22"}},
            "NewImage": {"e": {}, "v": {"N": "3"}}}});
        assert_eq!(StreamChange::of_json(&top), Ok(StreamChange::Ignored));
    }

    #[test]
    fn poison_records_are_unreadable_not_panics() {
        for record in [
            json!(null),
            json!("text"),
            json!({}),
            json!({"dynamodb": 5}),
            json!({"dynamodb": {"Keys": {"pk": {"N": "1"}, "sk": {"S": "x"}}}}),
            json!({"dynamodb": {"Keys": {"pk": {"S": "abc"}}}}),
            json!({"eventName": "MODIFY", "dynamodb": {"Keys": {"pk": {"S": "abc"}, "sk": {"S": "day#2026-11-22"}},
                   "NewImage": {"visits": {"N": "many"}}}}),
            json!({"eventName": "MODIFY", "dynamodb": {"Keys": {"pk": {"S": "abc"}, "sk": {"S": "day#2026-11-22"}},
                   "NewImage": {"visits": {}}}}),
        ] {
            assert!(StreamChange::of_json(&record).is_err(), "{record}");
        }
    }

    #[test]
    fn a_batch_folds_to_each_counters_first_old_and_last_new() {
        let d = day("2026-11-22");
        let c = |code_: &str, source: &str, old, new| StreamChange::Counter {
            code: code(code_),
            day: d,
            source: source.into(),
            old,
            new,
            bots_old: old / 2,
            bots_new: new / 2,
        };
        let changes = vec![
            StreamChange::Ignored,
            c("abc", "2026-11-22", 0, 1),
            c("xyz", "2026-11-22", 3, 4),
            c("abc", "2026-11-22", 1, 2),
            c("abc", "2026-11-22#2", 0, 1),
            StreamChange::LinkDeleted(code("old"), None, 1),
            // The same record delivered twice, and out of order.
            c("abc", "2026-11-22", 1, 2),
            c("abc", "2026-11-22", 0, 1),
        ];
        let p = plan(&changes);
        let (first, sources) = &p.links[&code("abc")];
        assert_eq!(*first, 1);
        assert_eq!(
            sources["2026-11-22"],
            SourceChange {
                day: d,
                old: 0,
                new: 2,
                bots_old: 0,
                bots_new: 1,
            }
        );
        assert_eq!(sources["2026-11-22#2"].new, 1);
        assert_eq!(p.links[&code("xyz")].0, 2);
        assert_eq!(p.deleted, vec![(5, code("old"), None)]);
        assert_eq!(p.freed, vec![(5, code("old"), 1)]);
        assert_eq!(plan(&[]), BatchPlan::default());
    }

    #[test]
    fn boards_cover_each_period_touched_and_the_recent_days_on_a_delete() {
        let d = day("2026-11-22");
        let owner = KeyId::parse("AbCdEfGhIjKl").unwrap();
        let totals = |owner: Option<KeyId>| super::super::LinkTotals {
            visits: 10,
            days: BTreeMap::from([(d, 4)]),
            owner,
        };
        let b = boards(&[(3, code("abc"), vec![d], totals(None))], &[], d, 2);
        assert_eq!(b.len(), 2);
        let change = |first, counts: Vec<(String, u64)>, deleted: Vec<String>| BoardChange {
            first,
            counts,
            deleted,
        };
        assert_eq!(
            b[&(None, Period::All)],
            change(3, vec![("abc".into(), 10)], vec![])
        );
        assert_eq!(
            b[&(None, Period::Day(d))],
            change(3, vec![("abc".into(), 4)], vec![])
        );
        // An owned link ranks among all links and among its owner's.
        let b = boards(
            &[
                (3, code("abc"), vec![d], totals(Some(owner.clone()))),
                (1, code("xyz"), vec![d], totals(None)),
            ],
            &[],
            d,
            2,
        );
        assert_eq!(b.len(), 4);
        assert_eq!(
            b[&(Some(owner.clone()), Period::All)],
            change(3, vec![("abc".into(), 10)], vec![])
        );
        assert_eq!(b[&(None, Period::All)].first, 1);
        assert_eq!(b[&(None, Period::All)].counts.len(), 2);
        // A deleted link leaves the recent rankings, all links' and its owner's.
        let b = boards(&[], &[(1, code("gone"), Some(owner.clone()))], d, 2);
        let keys: Vec<_> = b.keys().cloned().collect();
        let periods = [
            Period::All,
            Period::Day(day("2026-11-20")),
            Period::Day(day("2026-11-21")),
            Period::Day(d),
        ];
        let mut expected: Vec<_> = periods.iter().map(|p| (None, *p)).collect();
        expected.extend(periods.iter().map(|p| (Some(owner.clone()), *p)));
        assert_eq!(keys, expected);
        assert!(b
            .values()
            .all(|c| c.first == 1 && c.counts.is_empty() && c.deleted == ["gone"]));
    }
}
