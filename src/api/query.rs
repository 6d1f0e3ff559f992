//! The wire's `core.v2.Query` and `StatisticsQuery` as the query compiler's own types.
//! Only shapes are converted here; every key, operator and value is checked by the
//! compiler against the resource's allow-list.

use prost_types::{Value, value::Kind};

use super::convert::{given, json_from_value};
use crate::error::{Error, Result};
use crate::pb::core as pb;
use crate::query::{
    Condition, GroupField, GroupKey, Page, ProjectField, Search, SortKey, Stage, Stat,
};

/// A `Query` for the compiler; absent means "everything, default order and page".
pub fn search(query: Option<pb::Query>) -> Result<Search> {
    let Some(query) = query else {
        return Ok(Search::default());
    };
    let pb::Query {
        filter,
        filter_or,
        sort,
        page,
        minimal,
        count_only,
        only,
        keyword,
        unwind,
        lookup,
        add_fields,
    } = query;
    refuse_unsupported(unwind.is_some(), lookup.is_some(), add_fields.is_some())?;
    Ok(Search {
        filter: conditions(filter, "query.filter")?,
        filter_or: conditions(filter_or, "query.filter_or")?,
        sort: sort
            .into_iter()
            .map(|pb::Sort { key, desc }| SortKey { key, desc })
            .collect(),
        page: page.map(self::page),
        only,
        minimal,
        count_only,
        keyword: given(keyword),
    })
}

/// Refuses the parts of a `Query` a list does not take: `unwind` (a `stat` stage), and the
/// current generation's joins and computed fields (`lookup`, `add_fields`), which are
/// refused rather than dropped unseen.
fn refuse_unsupported(unwind: bool, lookup: bool, add_fields: bool) -> Result<()> {
    let refused = [
        (
            unwind,
            "query.unwind",
            "is not supported in list queries; use stat",
        ),
        (lookup, "query.lookup", "is not supported"),
        (add_fields, "query.add_fields", "is not supported"),
    ];
    match refused.into_iter().find(|(given, ..)| *given) {
        Some((_, field, reason)) => Err(Error::invalid(field, reason)),
        None => Ok(()),
    }
}

/// A `StatisticsQuery` for the compiler.
pub fn stat(query: Option<pb::StatisticsQuery>) -> Result<Stat> {
    let Some(query) = query else {
        return Err(Error::required("query"));
    };
    let pb::StatisticsQuery {
        filter,
        filter_or,
        aggregate,
        page,
        distinct,
        keyword,
    } = query;
    Ok(Stat {
        filter: conditions(filter, "query.filter")?,
        filter_or: conditions(filter_or, "query.filter_or")?,
        aggregate: aggregate.into_iter().map(stage).collect::<Result<_>>()?,
        page: page.map(self::page),
        distinct: given(distinct),
        keyword: given(keyword),
    })
}

/// A page: the wire's `start` and `limit` as they are (the compiler reads 0 as default).
pub fn page(page: pb::Page) -> Page {
    Page {
        start: u64::from(page.start),
        limit: u64::from(page.limit),
    }
}

fn conditions(filters: Vec<pb::Filter>, field: &'static str) -> Result<Vec<Condition>> {
    filters
        .into_iter()
        .map(|filter| {
            let pb::Filter {
                key_alias,
                value_alias,
                operator_alias,
            } = filter;
            let key = match key_alias {
                Some(pb::filter::KeyAlias::Key(key) | pb::filter::KeyAlias::K(key)) => key,
                None => String::new(),
            };
            let value = match value_alias {
                Some(pb::filter::ValueAlias::Value(v) | pb::filter::ValueAlias::V(v)) => {
                    json(v, field)?
                }
                None => serde_json::Value::Null,
            };
            let operator = match operator_alias {
                Some(pb::filter::OperatorAlias::Operator(o) | pb::filter::OperatorAlias::O(o)) => o,
                None => String::new(),
            };
            if key.is_empty() {
                return Err(Error::invalid(field, "every condition needs a key (k)"));
            }
            Ok(Condition {
                key,
                operator,
                value,
            })
        })
        .collect()
}

fn stage(stage: pb::StatisticsAggregate) -> Result<Stage> {
    use pb::statistics_aggregate::AggregateAlias;
    match stage.aggregate_alias {
        None => Err(Error::invalid("query.aggregate", "a stage is empty")),
        Some(AggregateAlias::Unwind(unwind)) => self::unwind(unwind),
        Some(AggregateAlias::Group(group)) => self::group(group),
        Some(AggregateAlias::Count(pb::AggregateCount { name })) => Ok(Stage::Count { name }),
        Some(AggregateAlias::Sort(list)) => Ok(Stage::Sort(
            list.values
                .into_iter()
                .map(sort_key)
                .collect::<Result<_>>()?,
        )),
        Some(AggregateAlias::Project(project)) => self::project(project),
        Some(AggregateAlias::Limit(limit)) => {
            Ok(Stage::Limit(non_negative(limit, "query.aggregate.limit")?))
        }
        Some(AggregateAlias::Skip(skip)) => {
            Ok(Stage::Skip(non_negative(skip, "query.aggregate.skip")?))
        }
    }
}

fn unwind(unwind: pb::Unwind) -> Result<Stage> {
    let pb::Unwind { path, filter } = unwind;
    if !filter.is_empty() {
        return Err(Error::invalid(
            "query.aggregate.unwind.filter",
            "is not supported",
        ));
    }
    Ok(Stage::Unwind { path })
}

fn group(group: pb::AggregateGroup) -> Result<Stage> {
    let pb::AggregateGroup { keys, fields } = group;
    Ok(Stage::Group {
        keys: keys.into_iter().map(group_key).collect(),
        fields: fields.into_iter().map(group_field).collect::<Result<_>>()?,
    })
}

fn group_key(key: pb::AggregateGroupKey) -> GroupKey {
    use pb::aggregate_group_key::{KeyAlias, NameAlias};
    let pb::AggregateGroupKey {
        key_alias,
        name_alias,
        date_format,
    } = key;
    GroupKey {
        key: match key_alias {
            Some(KeyAlias::Key(k) | KeyAlias::K(k)) => k,
            None => String::new(),
        },
        name: match name_alias {
            Some(NameAlias::Name(n) | NameAlias::N(n)) => n,
            None => String::new(),
        },
        date_format: given(date_format),
    }
}

fn group_field(field: pb::AggregateGroupField) -> Result<GroupField> {
    use pb::aggregate_group_field::{KeyAlias, NameAlias, OperatorAlias};
    let pb::AggregateGroupField {
        key_alias,
        name_alias,
        operator_alias,
        fields,
        conditions,
    } = field;
    if !fields.is_empty() || !conditions.is_empty() {
        return Err(Error::invalid(
            "query.aggregate.group.fields",
            "sub-fields and conditions of a group field are not supported",
        ));
    }
    Ok(GroupField {
        key: match key_alias {
            Some(KeyAlias::Key(k) | KeyAlias::K(k)) => k,
            None => String::new(),
        },
        name: match name_alias {
            Some(NameAlias::Name(n) | NameAlias::N(n)) => n,
            None => String::new(),
        },
        operator: match operator_alias {
            Some(OperatorAlias::Operator(o) | OperatorAlias::O(o)) => o,
            None => String::new(),
        },
    })
}

fn project(project: pb::AggregateProject) -> Result<Stage> {
    let pb::AggregateProject {
        fields,
        exclude_keys,
    } = project;
    Ok(Stage::Project {
        fields: fields
            .into_iter()
            .map(project_field)
            .collect::<Result<_>>()?,
        exclude_keys,
    })
}

fn project_field(field: pb::AggregateProjectField) -> Result<ProjectField> {
    use pb::aggregate_project_field::{KeyAlias, NameAlias};
    let pb::AggregateProjectField {
        key_alias,
        name_alias,
        operator_alias,
    } = field;
    if operator_alias.is_some() {
        return Err(Error::invalid(
            "query.aggregate.project.fields",
            "operators in project are not supported",
        ));
    }
    Ok(ProjectField {
        key: match key_alias {
            Some(KeyAlias::Key(k) | KeyAlias::K(k)) => k,
            None => String::new(),
        },
        name: match name_alias {
            Some(NameAlias::Name(n) | NameAlias::N(n)) => n,
            None => String::new(),
        },
    })
}

/// A `limit` or `skip` stage's count, which the wire carries signed.
fn non_negative(count: i32, field: &'static str) -> Result<u64> {
    u64::try_from(count).map_err(|_| Error::invalid(field, "must not be negative"))
}

/// A sort stage's entry: `{"key": ..., "desc": ...}`.
fn sort_key(value: Value) -> Result<SortKey> {
    let field = "query.aggregate.sort";
    let Some(Kind::StructValue(entry)) = value.kind else {
        return Err(Error::invalid(
            field,
            "each entry is {\"key\": ..., \"desc\": ...}",
        ));
    };
    let mut key = None;
    let mut desc = false;
    for (name, value) in entry.fields {
        match (name.as_str(), value.kind) {
            ("key" | "k", Some(Kind::StringValue(k))) => key = Some(k),
            ("desc", Some(Kind::BoolValue(d))) => desc = d,
            (other, _) => {
                return Err(Error::invalid(
                    field,
                    format!(
                        "unexpected entry {other:?}: each entry is {{\"key\": ..., \"desc\": ...}}"
                    ),
                ));
            }
        }
    }
    let key = key.ok_or_else(|| Error::invalid(field, "each entry needs a \"key\""))?;
    Ok(SortKey { key, desc })
}

/// A condition's value as JSON, whole numbers as integers (the wire carries every number
/// as a double).
fn json(value: Value, field: &'static str) -> Result<serde_json::Value> {
    Ok(integral(json_from_value(value, field)?))
}

fn integral(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value as Json;
    match value {
        Json::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Json::from(f as i64),
            _ => Json::Number(n),
        },
        Json::Array(items) => Json::Array(items.into_iter().map(integral).collect()),
        other => other,
    }
}
