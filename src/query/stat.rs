//! `StatisticsQuery`: a pipeline of stages (or `distinct`) compiled to one SELECT whose
//! rows are JSON objects.
//!
//! Each stage is a SELECT over the previous one (aliased `s`). The rows carry hidden
//! columns (`.o0`, `.o1`, …) that define their order, so every stage that cares about order
//! (`first`, `last`, `push`, `limit`, `skip` and the results themselves) sees the same one on
//! both engines:
//!
//! - the filtered rows come in the order of the resource's tiebreak;
//! - `unwind` keeps that order, then the order of the elements in the array; it drops rows
//!   whose array is empty or NULL;
//! - `group` emits its groups ordered by their keys (NULLs first), one group per distinct
//!   key tuple; with no keys it emits one row, or none when no row came in;
//! - `sort` orders by its keys, ties keeping the order they had (a stable sort);
//! - `count` emits one row, `{name: n}`, also when `n` is 0.
//!
//! Values in the results: text as strings, whole numbers as numbers, booleans as booleans,
//! datetimes as `2024-05-01T12:30:00.000Z` (UTC, milliseconds; `date_format` keys as the
//! format makes them), `average` rounded to 6 decimals, `push` as an array in input order,
//! `add_to_set` as an array of the distinct values in ascending order (NULL first), a
//! member of a JSON object (`tags.team`) as text when it holds a string, a number or a
//! boolean, and as null when it holds an object or an array (each engine would print one
//! its own way; see `sql::json_text`).
//!
//! `distinct` makes each result row the bare JSON value (`"ENABLED"`, `3`, `true`) rather
//! than an object: the distinct non-NULL values in ascending order; a list field
//! (`required_actions`) gives its distinct elements.

use sea_orm::sea_query::{Alias, Expr, Query, SelectStatement, SimpleExpr};

use super::compile::{direction, page_bounds};
use super::filter::{self, BASE};
use super::keys::{self, shown};
use super::sql::{self, bind, custom};
use super::{
    Engine, GroupField, GroupKey, Kind, MAX_SORT_KEYS, MAX_STAGES, MAX_STAT_ROWS, ProjectField,
    Resource, SortKey, Stage, Stat,
};
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

/// Most characters of an output name.
const MAX_NAME_CHARS: usize = 64;
/// Most columns one stage may output (PostgreSQL's `json_build_object` takes at most 100
/// arguments, two per column).
const MAX_COLUMNS: usize = 48;
/// The alias each stage reads the previous one by.
const PREVIOUS: &str = "s";
/// The alias of a group stage's inner relation.
const GROUPED: &str = "g";

/// Checks `stat` against `resource` and compiles it over `base`.
pub fn compile_stat(
    resource: &Resource,
    base: SelectStatement,
    stat: &Stat,
    engine: Engine,
) -> Result<CompiledStat> {
    let Stat {
        filter,
        filter_or,
        aggregate,
        page,
        distinct,
        keyword,
    } = stat;
    let conditions = filter::compile(resource, engine, filter, filter_or, keyword.as_deref())?;
    let bounds = page.map(|page| page_bounds(Some(page))).transpose()?;
    let start = Relation::start(resource, engine, base, conditions.condition);

    let (rows, results) = match (distinct, aggregate.is_empty()) {
        (Some(_), false) => {
            return Err(Error::invalid(
                "query.distinct",
                "give either distinct or aggregate, not both",
            ));
        }
        (Some(key), true) => distinct_rows(start, key)?,
        (None, true) => {
            return Err(Error::invalid(
                "query.aggregate",
                "a statistics query needs aggregate or distinct",
            ));
        }
        (None, false) => {
            if aggregate.len() > MAX_STAGES {
                return Err(Error::invalid(
                    "query.aggregate",
                    format!("at most {MAX_STAGES} stages"),
                ));
            }
            let mut relation = start;
            for stage in aggregate {
                relation = relation.then(stage)?;
            }
            relation.into_rows()
        }
    };
    let mut rows = rows;
    if bounds.is_none() {
        // One more than allowed, so `store` can tell a result that is too large from one
        // that is just full.
        rows.limit(MAX_STAT_ROWS + 1);
    }
    let count = bounds.map(|(limit, offset)| {
        rows.limit(limit).offset(offset);
        let mut count = Query::select();
        count
            .expr_as(Expr::cust("COUNT(*)"), Alias::new("count"))
            .from_subquery(results, Alias::new(PREVIOUS));
        count
    });
    Ok(CompiledStat { rows, count })
}

/// What a column of a stage holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Text,
    Bool,
    Integer,
    Float,
    /// Canonical datetime text (see `sql::datetime_text`).
    DateTime,
    /// A JSON object stored as JSON.
    Json,
    /// A JSON array of text stored as JSON.
    JsonArray,
    /// A JSON value an aggregate built (`push`, `add_to_set`).
    Built,
}

impl Type {
    fn of(kind: Kind) -> Self {
        match kind {
            Kind::Text => Self::Text,
            Kind::Bool => Self::Bool,
            Kind::Integer => Self::Integer,
            Kind::DateTime => Self::DateTime,
            Kind::Json => Self::Json,
            Kind::JsonArray => Self::JsonArray,
        }
    }

    fn is_scalar(self) -> bool {
        matches!(
            self,
            Self::Text | Self::Bool | Self::Integer | Self::Float | Self::DateTime
        )
    }
}

#[derive(Debug, Clone)]
struct Column {
    name: String,
    ty: Type,
}

/// One stage's output: a SELECT, its visible columns, and its hidden order columns.
struct Relation<'r> {
    resource: &'r Resource,
    engine: Engine,
    query: SelectStatement,
    columns: Vec<Column>,
    /// Hidden order columns `.o{i}`: type and direction.
    order: Vec<(Type, bool)>,
    /// The keys of the last group stage still visible, for `project`.
    group_keys: Vec<String>,
}

/// A value read from the previous stage.
struct Operand {
    expr: SimpleExpr,
    ty: Type,
}

fn order_name(index: usize) -> String {
    format!(".o{index}")
}

fn check_name(name: &str, label: &'static str) -> Result<()> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= MAX_NAME_CHARS;
    if valid {
        Ok(())
    } else {
        Err(Error::invalid(
            label,
            format!(
                "output name {} must be letters, digits and _ (not first), at most {MAX_NAME_CHARS}",
                shown(name)
            ),
        ))
    }
}

fn unique_names(columns: &[Column], label: &'static str) -> Result<()> {
    if columns.len() > MAX_COLUMNS {
        return Err(Error::invalid(
            label,
            format!("at most {MAX_COLUMNS} output fields"),
        ));
    }
    for (index, column) in columns.iter().enumerate() {
        if columns[..index]
            .iter()
            .any(|other| other.name == column.name)
        {
            return Err(Error::invalid(
                label,
                format!("output name {} is used twice", shown(&column.name)),
            ));
        }
    }
    Ok(())
}

/// The value of an orderable type made comparable the same way on both engines.
fn orderable(engine: Engine, expr: SimpleExpr, ty: Type) -> SimpleExpr {
    match ty {
        Type::Text | Type::DateTime => sql::text_order(engine, expr),
        _ => expr,
    }
}

/// `expr` as a value `json_object`/`json_build_object` embeds with its JSON type.
fn embedded(engine: Engine, expr: SimpleExpr, ty: Type) -> SimpleExpr {
    match (engine, ty) {
        (Engine::Sqlite, Type::Bool) => custom(
            engine,
            "json(CASE WHEN {} IS NULL THEN NULL WHEN {} THEN 'true' ELSE 'false' END)",
            vec![expr.clone(), expr],
        ),
        (Engine::Sqlite, Type::Json | Type::JsonArray | Type::Built) => {
            sql::call("json", vec![expr])
        }
        _ => expr,
    }
}

/// `ORDER BY` terms for an aggregate over the grouped relation's hidden order columns.
fn aggregate_order(order: &[(Type, bool)], args: &mut Vec<SimpleExpr>, engine: Engine) -> String {
    let mut terms = Vec::with_capacity(order.len());
    for (index, (ty, desc)) in order.iter().enumerate() {
        args.push(orderable(
            engine,
            sql::column(GROUPED, &order_name(index)),
            *ty,
        ));
        terms.push(if *desc {
            "{} DESC NULLS LAST"
        } else {
            "{} ASC NULLS FIRST"
        });
    }
    if terms.is_empty() {
        String::new()
    } else {
        format!(" ORDER BY {}", terms.join(", "))
    }
}

/// The label of every error a group stage gives.
const GROUP: &str = "query.aggregate.group";

/// The inner relation's column holding the grouping key at `index`.
fn group_key_name(index: usize) -> String {
    format!(".k{index}")
}

/// The outer SELECT of a group stage over its `inner` relation: the keys, the aggregates,
/// and the keys again as hidden order columns, so the groups come out in key order.
fn grouped(
    inner: SelectStatement,
    key_columns: &[Column],
    field_columns: &[Column],
    aggregates: Vec<SimpleExpr>,
) -> (SelectStatement, Vec<(Type, bool)>) {
    let mut outer = Query::select();
    outer.from_subquery(inner, Alias::new(GROUPED));
    for (index, column) in key_columns.iter().enumerate() {
        outer.expr_as(
            sql::column(GROUPED, &group_key_name(index)),
            Alias::new(column.name.as_str()),
        );
    }
    for (column, expr) in field_columns.iter().zip(aggregates) {
        outer.expr_as(expr, Alias::new(column.name.as_str()));
    }
    let mut order = Vec::with_capacity(key_columns.len());
    for (index, column) in key_columns.iter().enumerate() {
        outer.expr_as(
            sql::column(GROUPED, &group_key_name(index)),
            Alias::new(order_name(index)),
        );
        order.push((column.ty, false));
    }
    outer.add_group_by(
        (0..key_columns.len())
            .map(|index| sql::column(GROUPED, &group_key_name(index)))
            .collect::<Vec<_>>(),
    );
    outer.and_having(Expr::cust("COUNT(*) > 0"));
    (outer, order)
}

/// A group field's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Count,
    Sum,
    Average,
    Max,
    Min,
    First,
    Last,
    Push,
    AddToSet,
}

impl Operator {
    fn parse(operator: &str) -> Result<Self> {
        Ok(match operator {
            "count" => Self::Count,
            "sum" => Self::Sum,
            "average" => Self::Average,
            "max" => Self::Max,
            "min" => Self::Min,
            "first" => Self::First,
            "last" => Self::Last,
            "push" => Self::Push,
            "add_to_set" => Self::AddToSet,
            _ => {
                return Err(Error::invalid(
                    GROUP,
                    format!(
                        "unknown operator {} (count, sum, average, max, min, first, last, push, add_to_set)",
                        shown(operator)
                    ),
                ));
            }
        })
    }

    /// What the operator needs of an operand of type `ty` that it lacks, in words; `None`
    /// when `ty` will do.
    fn refuses(self, ty: Type) -> Option<&'static str> {
        let (accepted, what) = match self {
            Self::Count => (true, ""),
            Self::Sum => (ty == Type::Integer, "whole numbers"),
            Self::Average => (matches!(ty, Type::Integer | Type::Float), "numbers"),
            Self::Max | Self::Min | Self::First | Self::Last | Self::Push | Self::AddToSet => {
                (ty.is_scalar(), "a scalar")
            }
        };
        (!accepted).then_some(what)
    }
}

/// `average`: rounded to 6 decimals on both engines.
fn average(engine: Engine, value: SimpleExpr) -> SimpleExpr {
    let template = match engine {
        Engine::Sqlite => "round(avg({}), 6)",
        Engine::Postgres => "round(avg({})::numeric, 6)",
    };
    custom(engine, template, vec![value])
}

/// `max` or `min` of a scalar (PostgreSQL has no `max` of booleans).
fn extreme(engine: Engine, operator: Operator, value: SimpleExpr, ty: Type) -> SimpleExpr {
    let function = match (engine, ty, operator) {
        (Engine::Postgres, Type::Bool, Operator::Max) => "bool_or",
        (Engine::Postgres, Type::Bool, _) => "bool_and",
        (_, _, Operator::Max) => "max",
        _ => "min",
    };
    sql::call(function, vec![orderable(engine, value, ty)])
}

/// `add_to_set`: the distinct values as a JSON array in ascending order, NULL first.
fn add_to_set(engine: Engine, value: SimpleExpr, ty: Type) -> SimpleExpr {
    let element = match engine {
        Engine::Sqlite => embedded(engine, value, ty),
        Engine::Postgres => orderable(engine, value, ty),
    };
    let template = match engine {
        Engine::Sqlite => "json_group_array(DISTINCT {} ORDER BY {} ASC NULLS FIRST)",
        Engine::Postgres => "json_agg(DISTINCT {} ORDER BY {} ASC NULLS FIRST)",
    };
    custom(engine, template, vec![element.clone(), element])
}

impl<'r> Relation<'r> {
    /// The filtered base relation: every allow-listed key, datetimes as canonical text,
    /// ordered by the tiebreak.
    fn start(
        resource: &'r Resource,
        engine: Engine,
        base: SelectStatement,
        condition: Option<sea_orm::sea_query::Condition>,
    ) -> Self {
        let mut query = Query::select();
        query.from_subquery(base, Alias::new(BASE));
        let value = |key: &str, kind: Kind| {
            let column = sql::column(BASE, key);
            if kind == Kind::DateTime {
                sql::datetime_text(engine, column)
            } else {
                column
            }
        };
        let mut columns = Vec::with_capacity(resource.fields.len());
        for field in resource.fields {
            query.expr_as(value(field.key, field.kind), Alias::new(field.key));
            columns.push(Column {
                name: field.key.to_owned(),
                ty: Type::of(field.kind),
            });
        }
        let tiebreak = resource
            .fields
            .iter()
            .find(|field| field.key == resource.tiebreak)
            .map_or(Kind::Text, |field| field.kind);
        query.expr_as(
            value(resource.tiebreak, tiebreak),
            Alias::new(order_name(0)),
        );
        if let Some(condition) = condition {
            query.cond_where(condition);
        }
        Self {
            resource,
            engine,
            query,
            columns,
            order: vec![(Type::of(tiebreak), false)],
            group_keys: Vec::new(),
        }
    }

    fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|column| column.name == name)
    }

    /// Reads `key` from the previous stage: a column, or a member of a JSON column.
    fn operand(&self, key: &str, label: &'static str) -> Result<Operand> {
        if let Some(column) = self.column(key) {
            return Ok(Operand {
                expr: sql::column(PREVIOUS, &column.name),
                ty: column.ty,
            });
        }
        // A member of a JSON column: checked as a resource key would be, then read from
        // the column of that name if this stage still has it.
        if let Ok(resolved) = keys::resolve(self.resource, key, label)
            && !resolved.path.is_empty()
            && let Some(column) = self.column(resolved.field.key)
            && column.ty == Type::Json
        {
            return Ok(Operand {
                expr: sql::json_text(
                    self.engine,
                    sql::column(PREVIOUS, &column.name),
                    &resolved.path,
                ),
                ty: Type::Text,
            });
        }
        Err(Error::invalid(
            label,
            format!("unknown key {} at this stage", shown(key)),
        ))
    }

    /// A new SELECT over this relation.
    fn over(&self) -> SelectStatement {
        let mut query = Query::select();
        query.from_subquery(self.query.clone(), Alias::new(PREVIOUS));
        query
    }

    /// Selects the hidden order columns of this relation, unchanged, starting at `.o{at}`.
    fn pass_order(&self, query: &mut SelectStatement, at: usize) {
        for index in 0..self.order.len() {
            query.expr_as(
                sql::column(PREVIOUS, &order_name(index)),
                Alias::new(order_name(at + index)),
            );
        }
    }

    fn order_by(&self, query: &mut SelectStatement, table: &str) {
        for (index, (ty, desc)) in self.order.iter().enumerate() {
            let (direction, nulls) = direction(*desc);
            query.order_by_expr_with_nulls(
                orderable(self.engine, sql::column(table, &order_name(index)), *ty),
                direction,
                nulls,
            );
        }
    }

    fn with(
        self,
        query: SelectStatement,
        columns: Vec<Column>,
        order: Vec<(Type, bool)>,
        group_keys: Vec<String>,
    ) -> Self {
        Self {
            query,
            columns,
            order,
            group_keys,
            ..self
        }
    }

    fn then(self, stage: &Stage) -> Result<Self> {
        match stage {
            Stage::Group { keys, fields } => self.group(keys, fields),
            Stage::Count { name } => self.count(name),
            Stage::Sort(keys) => self.sort(keys),
            Stage::Project {
                fields,
                exclude_keys,
            } => self.project(fields, *exclude_keys),
            Stage::Limit(limit) => {
                if *limit == 0 {
                    return Err(Error::invalid(
                        "query.aggregate.limit",
                        "must be at least 1",
                    ));
                }
                Ok(self.window(Some(*limit), 0))
            }
            Stage::Skip(skip) => Ok(self.window(None, *skip)),
            Stage::Unwind { path } => self.unwind(path),
        }
    }

    fn group(self, keys: &[GroupKey], fields: &[GroupField]) -> Result<Self> {
        if keys.is_empty() && fields.is_empty() {
            return Err(Error::invalid(GROUP, "a group needs keys or fields"));
        }
        // The inner relation computes every key and operand as a plain column, so that
        // GROUP BY names columns only (PostgreSQL would not match bound parameters).
        let mut inner = self.over();
        let mut columns = Vec::new();
        for (index, key) in keys.iter().enumerate() {
            let (expr, column) = self.group_key(key)?;
            inner.expr_as(expr, Alias::new(group_key_name(index)));
            columns.push(column);
        }
        let mut aggregates = Vec::new();
        for (index, field) in fields.iter().enumerate() {
            let (expr, column) = self.group_field(&mut inner, index, field)?;
            aggregates.push(expr);
            columns.push(column);
        }
        unique_names(&columns, GROUP)?;
        self.pass_order(&mut inner, 0);
        let (key_columns, field_columns) = columns.split_at(keys.len());
        let (outer, order) = grouped(inner, key_columns, field_columns, aggregates);
        let group_keys = key_columns
            .iter()
            .map(|column| column.name.clone())
            .collect();
        Ok(self.with(outer, columns, order, group_keys))
    }

    /// A grouping key: the value the inner relation computes, and the output column.
    fn group_key(&self, key: &GroupKey) -> Result<(SimpleExpr, Column)> {
        let GroupKey {
            key,
            name,
            date_format,
        } = key;
        let name = if name.is_empty() { key } else { name };
        check_name(name, GROUP)?;
        let operand = self.operand(key, GROUP)?;
        if !operand.ty.is_scalar() {
            return Err(Error::invalid(
                GROUP,
                format!("cannot group by {}, which holds JSON", shown(key)),
            ));
        }
        let (expr, ty) = match date_format {
            Some(format) if !format.is_empty() => {
                if operand.ty != Type::DateTime {
                    return Err(Error::invalid(
                        GROUP,
                        format!(
                            "date_format needs a datetime, and {} is not one",
                            shown(key)
                        ),
                    ));
                }
                (
                    date_format_expr(self.engine, operand.expr, format)?,
                    Type::Text,
                )
            }
            _ => (operand.expr, operand.ty),
        };
        let column = Column {
            name: name.clone(),
            ty,
        };
        Ok((expr, column))
    }

    /// A computed field: its operand (unless it counts) joins the inner relation as
    /// `.v{index}`; returns the aggregate over it and the output column.
    fn group_field(
        &self,
        inner: &mut SelectStatement,
        index: usize,
        field: &GroupField,
    ) -> Result<(SimpleExpr, Column)> {
        let GroupField {
            key,
            name,
            operator,
        } = field;
        check_name(name, GROUP)?;
        let value = format!(".v{index}");
        let ty = if operator == "count" {
            Type::Integer
        } else {
            let operand = self.operand(key, GROUP)?;
            inner.expr_as(operand.expr, Alias::new(value.as_str()));
            operand.ty
        };
        let (expr, ty) = self.aggregate(operator, sql::column(GROUPED, &value), ty, key)?;
        let column = Column {
            name: name.clone(),
            ty,
        };
        Ok((expr, column))
    }

    /// The aggregate `operator` over `value` (of type `ty`) in the grouped relation.
    fn aggregate(
        &self,
        operator: &str,
        value: SimpleExpr,
        ty: Type,
        key: &str,
    ) -> Result<(SimpleExpr, Type)> {
        let parsed = Operator::parse(operator)?;
        if let Some(what) = parsed.refuses(ty) {
            return Err(Error::invalid(
                GROUP,
                format!("{operator} needs {what}, and {} is not", shown(key)),
            ));
        }
        let engine = self.engine;
        Ok(match parsed {
            Operator::Count => (Expr::cust("COUNT(*)"), Type::Integer),
            Operator::Sum => (sql::call("sum", vec![value]), Type::Integer),
            Operator::Average => (average(engine, value), Type::Float),
            Operator::Max | Operator::Min => (extreme(engine, parsed, value, ty), ty),
            Operator::First | Operator::Last | Operator::Push => self.in_order(parsed, value, ty),
            Operator::AddToSet => (add_to_set(engine, value, ty), Type::Built),
        })
    }

    /// `first`, `last` or `push`: the values taken in this relation's order.
    fn in_order(&self, operator: Operator, value: SimpleExpr, ty: Type) -> (SimpleExpr, Type) {
        let engine = self.engine;
        let mut args = vec![embedded(engine, value, ty)];
        let (template, ty) = match (engine, operator) {
            (Engine::Sqlite, Operator::Push) => ("json_group_array({}{})", Type::Built),
            (Engine::Postgres, Operator::Push) => ("json_agg({}{})", Type::Built),
            (Engine::Sqlite, Operator::First) => {
                ("json_extract(json_group_array({}{}), '$[0]')", ty)
            }
            (Engine::Sqlite, _) => ("json_extract(json_group_array({}{}), '$[#-1]')", ty),
            (Engine::Postgres, Operator::First) => ("(array_agg({}{}))[1]", ty),
            (Engine::Postgres, _) => ("(array_agg({}{}))[COUNT(*)::int]", ty),
        };
        let order = aggregate_order(&self.order, &mut args, engine);
        let template = template.replacen("{}{}", &format!("{{}}{order}"), 1);
        (custom(engine, &template, args), ty)
    }

    fn count(self, name: &str) -> Result<Self> {
        check_name(name, "query.aggregate.count")?;
        let mut query = self.over();
        query.expr_as(Expr::cust("COUNT(*)"), Alias::new(name));
        let columns = vec![Column {
            name: name.to_owned(),
            ty: Type::Integer,
        }];
        Ok(self.with(query, columns, Vec::new(), Vec::new()))
    }

    fn sort(self, keys: &[SortKey]) -> Result<Self> {
        const LABEL: &str = "query.aggregate.sort";
        if keys.is_empty() || keys.len() > MAX_SORT_KEYS {
            return Err(Error::invalid(
                LABEL,
                format!("a sort takes 1 to {MAX_SORT_KEYS} keys"),
            ));
        }
        let mut query = self.over();
        self.pass_columns(&mut query);
        let mut order = Vec::with_capacity(keys.len() + self.order.len());
        for (index, SortKey { key, desc }) in keys.iter().enumerate() {
            let operand = self.operand(key, LABEL)?;
            if !operand.ty.is_scalar() {
                return Err(Error::invalid(
                    LABEL,
                    format!("cannot sort by {}, which holds JSON", shown(key)),
                ));
            }
            query.expr_as(operand.expr, Alias::new(order_name(index)));
            order.push((operand.ty, *desc));
        }
        self.pass_order(&mut query, keys.len());
        order.extend(self.order.iter().copied());
        let (columns, group_keys) = (self.columns.clone(), self.group_keys.clone());
        Ok(self.with(query, columns, order, group_keys))
    }

    fn pass_columns(&self, query: &mut SelectStatement) {
        for column in &self.columns {
            query.expr_as(
                sql::column(PREVIOUS, &column.name),
                Alias::new(column.name.as_str()),
            );
        }
    }

    fn project(self, fields: &[ProjectField], exclude_keys: bool) -> Result<Self> {
        const LABEL: &str = "query.aggregate.project";
        let mut query = self.over();
        let mut columns = Vec::new();
        let mut group_keys = Vec::new();
        if !exclude_keys {
            for key in &self.group_keys {
                if let Some(column) = self.column(key) {
                    query.expr_as(sql::column(PREVIOUS, key), Alias::new(key.as_str()));
                    columns.push(column.clone());
                    group_keys.push(key.clone());
                }
            }
        }
        for ProjectField { key, name } in fields {
            let name = if name.is_empty() { key } else { name };
            check_name(name, LABEL)?;
            let operand = self.operand(key, LABEL)?;
            query.expr_as(operand.expr, Alias::new(name.as_str()));
            columns.push(Column {
                name: name.clone(),
                ty: operand.ty,
            });
        }
        unique_names(&columns, LABEL)?;
        self.pass_order(&mut query, 0);
        let order = self.order.clone();
        Ok(self.with(query, columns, order, group_keys))
    }

    /// `LIMIT` and `OFFSET` over the relation in its order.
    fn window(self, limit: Option<u64>, offset: u64) -> Self {
        let mut query = self.over();
        self.pass_columns(&mut query);
        self.pass_order(&mut query, 0);
        self.order_by(&mut query, PREVIOUS);
        // SQLite takes OFFSET only after a LIMIT.
        query.limit(limit.unwrap_or(i64::MAX as u64)).offset(offset);
        let (columns, order, group_keys) = (
            self.columns.clone(),
            self.order.clone(),
            self.group_keys.clone(),
        );
        self.with(query, columns, order, group_keys)
    }

    fn unwind(self, path: &str) -> Result<Self> {
        const LABEL: &str = "query.aggregate.unwind";
        let engine = self.engine;
        let Some(array) = self
            .column(path)
            .filter(|column| column.ty == Type::JsonArray)
        else {
            return Err(Error::invalid(
                LABEL,
                format!("{} is not a list field at this stage", shown(path)),
            ));
        };
        let array = array.name.clone();
        let mut query = self.over();
        let (element, index) = match engine {
            Engine::Sqlite => {
                query.from_function(
                    sea_orm::sea_query::Func::cust(Alias::new("json_each"))
                        .arg(sql::column(PREVIOUS, &array)),
                    Alias::new("e"),
                );
                (
                    custom(
                        engine,
                        "(CASE e.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' \
                         ELSE CAST(e.value AS TEXT) END)",
                        vec![],
                    ),
                    sql::column("e", "key"),
                )
            }
            Engine::Postgres => {
                query.from_function(
                    sea_orm::sea_query::Func::cust(Alias::new("generate_series"))
                        .arg(Expr::cust("0"))
                        .arg(custom(
                            engine,
                            "jsonb_array_length({}) - 1",
                            vec![sql::column(PREVIOUS, &array)],
                        )),
                    Alias::new("e"),
                );
                (
                    custom(engine, "({} ->> e.e)", vec![sql::column(PREVIOUS, &array)]),
                    sql::column("e", "e"),
                )
            }
        };
        let mut columns = Vec::with_capacity(self.columns.len());
        for column in &self.columns {
            if column.name == array {
                query.expr_as(element.clone(), Alias::new(column.name.as_str()));
                columns.push(Column {
                    name: column.name.clone(),
                    ty: Type::Text,
                });
            } else {
                query.expr_as(
                    sql::column(PREVIOUS, &column.name),
                    Alias::new(column.name.as_str()),
                );
                columns.push(column.clone());
            }
        }
        self.pass_order(&mut query, 0);
        query.expr_as(index, Alias::new(order_name(self.order.len())));
        let mut order = self.order.clone();
        order.push((Type::Integer, false));
        let group_keys = self.group_keys.clone();
        Ok(self.with(query, columns, order, group_keys))
    }

    /// The final SELECT (one JSON object per row, in order) and the relation it reads.
    fn into_rows(self) -> (SelectStatement, SelectStatement) {
        let engine = self.engine;
        let mut args = Vec::with_capacity(self.columns.len() * 2);
        for column in &self.columns {
            args.push(bind(column.name.clone()));
            args.push(embedded(
                engine,
                sql::column(PREVIOUS, &column.name),
                column.ty,
            ));
        }
        let marks = vec!["{}"; args.len()].join(", ");
        let template = match engine {
            Engine::Sqlite => format!("json_object({marks})"),
            Engine::Postgres => format!("(json_build_object({marks})::text)"),
        };
        let mut rows = self.over();
        rows.expr_as(custom(engine, &template, args), Alias::new("row"));
        self.order_by(&mut rows, PREVIOUS);
        (rows, self.query)
    }
}

/// `distinct`: the distinct non-NULL values of `key`, each as a bare JSON value.
fn distinct_rows(start: Relation<'_>, key: &str) -> Result<(SelectStatement, SelectStatement)> {
    const LABEL: &str = "query.distinct";
    let start = match start.column(key) {
        Some(column) if column.ty == Type::JsonArray => start.unwind(key)?,
        _ => start,
    };
    let engine = start.engine;
    let operand = start.operand(key, LABEL)?;
    if !operand.ty.is_scalar() {
        return Err(Error::invalid(
            LABEL,
            format!(
                "cannot take distinct values of {}, which holds JSON",
                shown(key)
            ),
        ));
    }
    let mut values = start.over();
    values
        .distinct()
        .expr_as(operand.expr.clone(), Alias::new(".v"))
        .and_where(Expr::expr(operand.expr).is_not_null());
    let value = sql::column(PREVIOUS, ".v");
    let json = match (engine, operand.ty) {
        (Engine::Sqlite, Type::Bool) => custom(
            engine,
            "(CASE WHEN {} THEN 'true' ELSE 'false' END)",
            vec![value.clone()],
        ),
        (Engine::Sqlite, _) => sql::call("json_quote", vec![value.clone()]),
        (Engine::Postgres, _) => custom(engine, "(to_json({})::text)", vec![value.clone()]),
    };
    let mut rows = Query::select();
    rows.from_subquery(values.clone(), Alias::new(PREVIOUS))
        .expr_as(json, Alias::new("row"));
    let (direction, nulls) = direction(false);
    rows.order_by_expr_with_nulls(orderable(engine, value, operand.ty), direction, nulls);
    Ok((rows, values))
}

/// `date_format` (strftime-style `%Y %m %d %H %M %S`, and `- : / . T _` and spaces between
/// them) applied to canonical datetime text.
fn date_format_expr(engine: Engine, value: SimpleExpr, format: &str) -> Result<SimpleExpr> {
    const LABEL: &str = "query.aggregate.group";
    if format.len() > 32 {
        return Err(Error::invalid(
            LABEL,
            "date_format is longer than 32 characters",
        ));
    }
    let mut postgres = String::new();
    let mut literal = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            let pattern = match chars.next() {
                Some('Y') => "YYYY",
                Some('m') => "MM",
                Some('d') => "DD",
                Some('H') => "HH24",
                Some('M') => "MI",
                Some('S') => "SS",
                _ => {
                    return Err(Error::invalid(
                        LABEL,
                        format!(
                            "date_format {} may use only %Y %m %d %H %M %S",
                            shown(format)
                        ),
                    ));
                }
            };
            if !literal.is_empty() {
                postgres.push_str(&format!("\"{literal}\""));
                literal.clear();
            }
            postgres.push_str(pattern);
        } else if "-:/.T_ ".contains(c) {
            literal.push(c);
        } else {
            return Err(Error::invalid(
                LABEL,
                format!(
                    "date_format {} may hold only %Y %m %d %H %M %S and - : / . T _ or spaces",
                    shown(format)
                ),
            ));
        }
    }
    if !literal.is_empty() {
        postgres.push_str(&format!("\"{literal}\""));
    }
    Ok(match engine {
        Engine::Sqlite => sql::call("strftime", vec![bind(format.to_owned()), value]),
        Engine::Postgres => custom(
            engine,
            "to_char(({})::timestamp, {})",
            vec![value, bind(postgres)],
        ),
    })
}
