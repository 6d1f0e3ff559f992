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
    if unwind.is_some() {
        return Err(Error::invalid(
            "query.unwind",
            "is not supported in list queries; use stat",
        ));
    }
    // The current generation's joins and computed fields: refused, never dropped unseen.
    if lookup.is_some() {
        return Err(Error::invalid("query.lookup", "is not supported"));
    }
    if add_fields.is_some() {
        return Err(Error::invalid("query.add_fields", "is not supported"));
    }
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
    let field = "query.aggregate";
    Ok(match stage.aggregate_alias {
        None => return Err(Error::invalid(field, "a stage is empty")),
        Some(AggregateAlias::Unwind(pb::Unwind { path, filter })) => {
            if !filter.is_empty() {
                return Err(Error::invalid(
                    "query.aggregate.unwind.filter",
                    "is not supported",
                ));
            }
            Stage::Unwind { path }
        }
        Some(AggregateAlias::Group(pb::AggregateGroup { keys, fields })) => Stage::Group {
            keys: keys
                .into_iter()
                .map(|key| {
                    let pb::AggregateGroupKey {
                        key_alias,
                        name_alias,
                        date_format,
                    } = key;
                    GroupKey {
                        key: match key_alias {
                            Some(
                                pb::aggregate_group_key::KeyAlias::Key(k)
                                | pb::aggregate_group_key::KeyAlias::K(k),
                            ) => k,
                            None => String::new(),
                        },
                        name: match name_alias {
                            Some(
                                pb::aggregate_group_key::NameAlias::Name(n)
                                | pb::aggregate_group_key::NameAlias::N(n),
                            ) => n,
                            None => String::new(),
                        },
                        date_format: given(date_format),
                    }
                })
                .collect(),
            fields: fields
                .into_iter()
                .map(|field| {
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
                            Some(
                                pb::aggregate_group_field::KeyAlias::Key(k)
                                | pb::aggregate_group_field::KeyAlias::K(k),
                            ) => k,
                            None => String::new(),
                        },
                        name: match name_alias {
                            Some(
                                pb::aggregate_group_field::NameAlias::Name(n)
                                | pb::aggregate_group_field::NameAlias::N(n),
                            ) => n,
                            None => String::new(),
                        },
                        operator: match operator_alias {
                            Some(
                                pb::aggregate_group_field::OperatorAlias::Operator(o)
                                | pb::aggregate_group_field::OperatorAlias::O(o),
                            ) => o,
                            None => String::new(),
                        },
                    })
                })
                .collect::<Result<_>>()?,
        },
        Some(AggregateAlias::Count(pb::AggregateCount { name })) => Stage::Count { name },
        Some(AggregateAlias::Sort(list)) => Stage::Sort(
            list.values
                .into_iter()
                .map(sort_key)
                .collect::<Result<_>>()?,
        ),
        Some(AggregateAlias::Project(pb::AggregateProject {
            fields,
            exclude_keys,
        })) => Stage::Project {
            fields: fields
                .into_iter()
                .map(|field| {
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
                            Some(
                                pb::aggregate_project_field::KeyAlias::Key(k)
                                | pb::aggregate_project_field::KeyAlias::K(k),
                            ) => k,
                            None => String::new(),
                        },
                        name: match name_alias {
                            Some(
                                pb::aggregate_project_field::NameAlias::Name(n)
                                | pb::aggregate_project_field::NameAlias::N(n),
                            ) => n,
                            None => String::new(),
                        },
                    })
                })
                .collect::<Result<_>>()?,
            exclude_keys,
        },
        Some(AggregateAlias::Limit(limit)) => Stage::Limit(
            u64::try_from(limit)
                .map_err(|_| Error::invalid("query.aggregate.limit", "must not be negative"))?,
        ),
        Some(AggregateAlias::Skip(skip)) => Stage::Skip(
            u64::try_from(skip)
                .map_err(|_| Error::invalid("query.aggregate.skip", "must not be negative"))?,
        ),
    })
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
