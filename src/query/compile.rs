//! `Query`: conditions, keyword, sort, page and fields, compiled to SELECTs over the
//! resource's base relation.

use sea_orm::sea_query::SelectStatement;

use super::{Engine, Resource, Search};
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
    let _ = (resource, base, search, engine);
    Err(Error::NotImplemented("query"))
}
