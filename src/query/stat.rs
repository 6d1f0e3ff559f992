//! `StatisticsQuery`: a pipeline of stages (or `distinct`) compiled to one SELECT whose
//! rows are JSON objects.

use sea_orm::sea_query::SelectStatement;

use super::{Engine, Resource, Stat};
use crate::error::{Error, Result};

/// A checked `StatisticsQuery`, ready for `store` to run.
#[derive(Debug, Clone)]
pub struct CompiledStat {
    /// The results: one text column `row` per row, holding a JSON object.
    pub rows: SelectStatement,
    /// With a page: `SELECT COUNT(*)` of the results before paging, as one integer column
    /// `count`.
    pub count: Option<SelectStatement>,
}

/// Checks `stat` against `resource` and compiles it over `base`.
pub fn compile_stat(
    resource: &Resource,
    base: SelectStatement,
    stat: &Stat,
    engine: Engine,
) -> Result<CompiledStat> {
    let _ = (resource, base, stat, engine);
    Err(Error::NotImplemented("statistics query"))
}
