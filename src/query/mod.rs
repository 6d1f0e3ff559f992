//! The SpaceONE query language (core v2 `Query` and `StatisticsQuery`), compiled to SQL.
//!
//! The API layer turns the wire messages into the types below; nothing here knows the
//! generated code. A query is checked against a per-resource allow-list (`Resource`) and
//! compiled into sea-query statements over the resource's *base relation*: a SELECT that
//! `store` builds, already narrowed to the caller's scope (domain and workspace), whose
//! columns are named as the allow-list's keys. The user's conditions wrap that relation
//! from outside, so no `filter_or` can reach past the scope. Values are always bound
//! parameters, JSON paths too.
//!
//! Both engines give the same answers: text compares and sorts in byte order; `contain`
//! and `keyword` compare Unicode NFC text under simple case folding (the `fold` module),
//! against folded columns the store keeps; datetimes compare as points in time (to the
//! millisecond on SQLite); NULLs sort first ascending and last descending; and a member of
//! a JSON object (`tags.team`, each segment an object member) reads as text when it holds a
//! string, a number or a boolean, and as NULL otherwise. `regex` is full (but checked) on
//! PostgreSQL and literal-only on SQLite; the `filter`, `regex`, `compile` and `stat`
//! modules say the details.

mod compile;
mod filter;
mod fold;
mod keys;
mod regex;
mod sql;
mod stat;

pub use compile::compile_search;
pub use fold::{fold_json, fold_text};
pub use stat::compile_stat;

/// Most rows one page may hold.
pub const MAX_PAGE_LIMIT: u64 = 1000;
/// Page size when a query gives none.
pub const DEFAULT_PAGE_LIMIT: u64 = 1000;
/// Most conditions in `filter` and `filter_or` together.
pub const MAX_CONDITIONS: usize = 50;
/// Most values in the list of an `in`-style operator.
pub const MAX_LIST_VALUES: usize = 500;
/// Most list values in all conditions of one query together.
pub const MAX_QUERY_VALUES: usize = 1000;
/// Most regular expressions in all conditions of one query together.
pub const MAX_REGEX_PATTERNS: usize = 10;
/// Longest regular expression, in characters.
pub const MAX_REGEX_CHARS: usize = 200;
/// Most sort keys.
pub const MAX_SORT_KEYS: usize = 10;
/// Most stages in a statistics pipeline.
pub const MAX_STAGES: usize = 20;
/// Most results a statistics query without a page may return; more is INVALID_ARGUMENT
/// (add a page or a `limit` stage).
pub const MAX_STAT_ROWS: u64 = 10_000;
/// Longest key, in characters (`tags.a.b` included).
pub const MAX_KEY_CHARS: usize = 200;
/// Longest text value or keyword, in characters.
pub const MAX_VALUE_CHARS: usize = 1000;

/// The database the statements are built for: a few operators (JSON, regex, dates) are
/// spelled differently on each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// What one kind of resource lets a query touch.
#[derive(Debug)]
pub struct Resource {
    /// Every key a query may filter on, sort by or return; a column of the base relation
    /// of the same name. Nothing else is reachable.
    pub fields: &'static [Field],
    /// The keys `keyword` searches (case-insensitive substring, any of them).
    pub keyword_fields: &'static [&'static str],
    /// A unique key that ends every sort, so pages never overlap or skip rows.
    pub tiebreak: &'static str,
    /// The keys `minimal` returns.
    pub minimal_fields: &'static [&'static str],
}

/// One key of a resource.
#[derive(Debug)]
pub struct Field {
    /// The key as a query names it, and the base relation's column.
    pub key: &'static str,
    /// What its values are.
    pub kind: Kind,
    /// The base relation's column holding the field's value folded (`fold_text`, or
    /// `fold_json` for a JSON object), which `keyword` and the `contain` operators search.
    /// `None` only for text that is ASCII by construction (states, codes, time zones): SQL
    /// lowers its ASCII letters, which folds it the same way on both engines.
    pub folded: Option<&'static str>,
}

/// The type of a field's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text.
    Text,
    /// A boolean.
    Bool,
    /// A whole number.
    // No resource has one yet; the compiler handles them all the same, and
    // tests/api/query.rs holds it to that.
    #[allow(dead_code)]
    Integer,
    /// A point in time (stored as a timestamp; compared as one on both engines).
    DateTime,
    /// A JSON object (such as `tags`): a query reaches into it with dotted keys
    /// (`tags.team`).
    Json,
    /// A JSON array of text (such as `required_actions`): `unwind` may open it.
    JsonArray,
}

/// One condition: `{k, v, o}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The key (`state`, `tags.team`).
    pub key: String,
    /// The operator's name as given (`eq`, `contain_in`, ...; empty means `eq`).
    pub operator: String,
    /// The value as JSON (`null` when none was given).
    pub value: serde_json::Value,
}

/// One sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// The key.
    pub key: String,
    /// Descending when true.
    pub desc: bool,
}

/// A page: `start` is 1-based (0 means 1), `limit` 0 means the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Page {
    /// The first row, counting from 1.
    pub start: u64,
    /// The most rows.
    pub limit: u64,
}

/// A `Query`: which rows, in which order, which page, which fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Search {
    /// Conditions that must all hold.
    pub filter: Vec<Condition>,
    /// Conditions of which at least one must hold (when there are any).
    pub filter_or: Vec<Condition>,
    /// Order; the resource's tiebreak is always appended.
    pub sort: Vec<SortKey>,
    /// The page, if any.
    pub page: Option<Page>,
    /// The fields to return (empty: all).
    pub only: Vec<String>,
    /// Return only the resource's minimal fields.
    pub minimal: bool,
    /// Return only the count.
    pub count_only: bool,
    /// A case-insensitive substring over the resource's keyword fields.
    pub keyword: Option<String>,
}

/// A `StatisticsQuery`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stat {
    /// Conditions that must all hold.
    pub filter: Vec<Condition>,
    /// Conditions of which at least one must hold.
    pub filter_or: Vec<Condition>,
    /// The pipeline, run in order over the filtered rows.
    pub aggregate: Vec<Stage>,
    /// A page over the pipeline's results (with a `total_count`).
    pub page: Option<Page>,
    /// The distinct values of one key, instead of a pipeline.
    pub distinct: Option<String>,
    /// A case-insensitive substring over the resource's keyword fields.
    pub keyword: Option<String>,
}

/// One stage of a statistics pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// Groups rows by `keys` and computes `fields` per group.
    Group {
        /// The grouping keys.
        keys: Vec<GroupKey>,
        /// The computed fields.
        fields: Vec<GroupField>,
    },
    /// Replaces the rows by one row `{name: count}`.
    Count {
        /// The output name.
        name: String,
    },
    /// Orders the rows.
    Sort(Vec<SortKey>),
    /// Keeps (or, with `exclude_keys`, drops) fields.
    Project {
        /// The fields: `key` read, written as `name`.
        fields: Vec<ProjectField>,
        /// Drop the group keys from the output.
        exclude_keys: bool,
    },
    /// Keeps at most this many rows.
    Limit(u64),
    /// Skips this many rows.
    Skip(u64),
    /// One row per element of a JSON array field.
    Unwind {
        /// The array field.
        path: String,
    },
}

/// A grouping key.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupKey {
    /// The key read.
    pub key: String,
    /// The output name (the key when empty).
    pub name: String,
    /// For datetimes: `%Y`, `%Y-%m`, `%Y-%m-%d`, ... (strftime-style).
    pub date_format: Option<String>,
}

/// A field computed per group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupField {
    /// The key read (unused by `count`).
    pub key: String,
    /// The output name.
    pub name: String,
    /// `count`, `sum`, `average`, `max`, `min`, `first`, `last`, `push`, `add_to_set`.
    pub operator: String,
}

/// A projected field.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectField {
    /// The key read.
    pub key: String,
    /// The output name (the key when empty).
    pub name: String,
}
