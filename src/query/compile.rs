//! `Query`: conditions, keyword, sort, page and fields, compiled to SELECTs over the
//! resource's base relation.
//!
//! Sorting is the same on both engines: text in byte order (PostgreSQL is told
//! `COLLATE "C"`), datetimes as points in time, NULLs first when ascending and last when
//! descending (SQLite's own order, spelled out for PostgreSQL), and the resource's
//! tiebreak last, so pages neither overlap nor skip rows.

use sea_orm::sea_query::{Alias, Expr, NullOrdering, Order, Query, SelectStatement, SimpleExpr};

use super::filter::{self, BASE};
use super::keys::{self, Key};
use super::{
    DEFAULT_PAGE_LIMIT, Engine, Kind, MAX_PAGE_LIMIT, MAX_SORT_KEYS, Page, Resource, Search,
    SortKey, sql,
};
use crate::error::{Error, Result};

/// A checked `Query`, ready for `store` to run.
#[derive(Debug, Clone)]
pub struct CompiledSearch {
    /// `SELECT r.* FROM (base) AS r WHERE … ORDER BY … LIMIT … OFFSET …`: the page.
    pub rows: SelectStatement,
    /// `SELECT COUNT(*) FROM (base) AS r WHERE …`: every match before paging, as one
    /// integer column `count`.
    pub count: SelectStatement,
    /// Whether any condition or keyword narrows the base relation (an unfiltered count is
    /// the size of the base relation, which `store` may know without counting).
    pub filtered: bool,
    /// Only the count is wanted.
    pub count_only: bool,
    /// The keys to return (`None`: all of them).
    pub only: Option<Vec<String>>,
}

/// Checks `search` against `resource` and compiles it over `base`.
pub fn compile_search(
    resource: &Resource,
    base: SelectStatement,
    search: &Search,
    engine: Engine,
) -> Result<CompiledSearch> {
    let Search {
        filter,
        filter_or,
        sort,
        page,
        only,
        minimal,
        count_only,
        keyword,
    } = search;
    let conditions = filter::compile(resource, engine, filter, filter_or, keyword.as_deref())?;
    let order = sort_order(resource, engine, sort)?;
    let (limit, offset) = page_bounds(*page)?;
    let only = only_keys(resource, only, *minimal)?;

    let mut rows = Query::select();
    rows.expr(Expr::col((Alias::new(BASE), sea_orm::sea_query::Asterisk)))
        .from_subquery(base.clone(), Alias::new(BASE));
    let mut count = Query::select();
    count
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("count"))
        .from_subquery(base, Alias::new(BASE));
    if let Some(condition) = &conditions.condition {
        rows.cond_where(condition.clone());
        count.cond_where(condition.clone());
    }
    for (expr, desc) in order {
        let (direction, nulls) = direction(desc);
        rows.order_by_expr_with_nulls(expr, direction, nulls);
    }
    rows.limit(limit).offset(offset);
    Ok(CompiledSearch {
        rows,
        count,
        filtered: conditions.condition.is_some(),
        count_only: *count_only,
        only,
    })
}

/// The direction and NULL placement of one sort key, the same on both engines.
pub(super) fn direction(desc: bool) -> (Order, NullOrdering) {
    if desc {
        (Order::Desc, NullOrdering::Last)
    } else {
        (Order::Asc, NullOrdering::First)
    }
}

/// `page` as `LIMIT` and `OFFSET`.
pub(super) fn page_bounds(page: Option<Page>) -> Result<(u64, u64)> {
    let Page { start, limit } = page.unwrap_or_default();
    if limit > MAX_PAGE_LIMIT {
        return Err(Error::invalid(
            "query.page.limit",
            format!("at most {MAX_PAGE_LIMIT} rows per page"),
        ));
    }
    let limit = if limit == 0 {
        DEFAULT_PAGE_LIMIT
    } else {
        limit
    };
    Ok((limit, start.saturating_sub(1)))
}

/// The key's value made orderable: text in byte order, datetimes as points in time.
fn order_operand(engine: Engine, key: &Key<'_>) -> SimpleExpr {
    let value = filter::operand(engine, key);
    match key.kind() {
        Kind::Text => sql::text_order(engine, value),
        Kind::DateTime => sql::datetime_order(engine, value),
        _ => value,
    }
}

fn sort_order(
    resource: &Resource,
    engine: Engine,
    sort: &[SortKey],
) -> Result<Vec<(SimpleExpr, bool)>> {
    if sort.len() > MAX_SORT_KEYS {
        return Err(Error::invalid(
            "query.sort",
            format!("at most {MAX_SORT_KEYS} sort keys"),
        ));
    }
    let mut order = Vec::with_capacity(sort.len() + 1);
    for SortKey { key, desc } in sort {
        let resolved = keys::resolve(resource, key, "query.sort")?;
        if matches!(resolved.kind(), Kind::Json | Kind::JsonArray) {
            return Err(Error::invalid(
                "query.sort",
                format!(
                    "cannot sort by {}, which holds JSON; name a member such as tags.team",
                    keys::shown(key)
                ),
            ));
        }
        order.push((order_operand(engine, &resolved), *desc));
    }
    if sort.last().is_none_or(|last| last.key != resource.tiebreak) {
        let tiebreak = keys::resolve(resource, resource.tiebreak, "query.sort")?;
        order.push((order_operand(engine, &tiebreak), false));
    }
    Ok(order)
}

fn only_keys(resource: &Resource, only: &[String], minimal: bool) -> Result<Option<Vec<String>>> {
    if only.is_empty() {
        return Ok(minimal.then(|| {
            resource
                .minimal_fields
                .iter()
                .map(|key| (*key).to_owned())
                .collect()
        }));
    }
    if only.len() > resource.fields.len() * 4 + 16 {
        return Err(Error::invalid("query.only", "too many keys"));
    }
    let mut keys: Vec<String> = Vec::new();
    for key in only {
        let field = keys::resolve(resource, key, "query.only")?.field.key;
        if !keys.iter().any(|known| known == field) {
            keys.push(field.to_owned());
        }
    }
    Ok(Some(keys))
}
