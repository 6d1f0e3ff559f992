//! `filter`, `filter_or` and `keyword`, compiled to one WHERE condition over the base
//! relation (aliased `r`).
//!
//! NULL (a missing value, or a JSON member that is absent or null) follows the document
//! stores SpaceONE grew up on: the positive operators (`eq`, `lt`, `contain`, `in`,
//! `regex`, …) never match it, and their negations (`not`, `not_contain`, `not_in`,
//! `not_contain_in`) always do. `eq`/`not` with a null value test for NULL itself.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use sea_orm::sea_query::{Condition as Where, Expr, ExprTrait, SimpleExpr};
use serde_json::Value;

use super::fold::fold_text;
use super::keys::{self, Key, shown};
use super::regex::{self, Pattern};
use super::sql::{self, bind, custom};
use super::{
    Condition, Engine, Kind, MAX_CONDITIONS, MAX_LIST_VALUES, MAX_QUERY_VALUES, MAX_REGEX_PATTERNS,
    MAX_VALUE_CHARS, Resource,
};
use crate::error::{Error, Result};

/// The table alias the user's conditions see the base relation by.
pub(super) const BASE: &str = "r";

/// The user's conditions, or `None` when there are none.
pub(super) struct Compiled {
    /// The condition, if any narrows the relation.
    pub condition: Option<Where>,
}

/// Compiles `filter` (AND), `filter_or` (OR) and `keyword` for `resource`.
pub(super) fn compile(
    resource: &Resource,
    engine: Engine,
    filter: &[Condition],
    filter_or: &[Condition],
    keyword: Option<&str>,
) -> Result<Compiled> {
    if filter.len() + filter_or.len() > MAX_CONDITIONS {
        return Err(Error::invalid(
            "query.filter",
            format!("more than {MAX_CONDITIONS} conditions in filter and filter_or"),
        ));
    }
    check_budget(filter.iter().chain(filter_or))?;
    let now = Utc::now();
    let mut all = Where::all();
    let mut any_condition = false;
    for condition in filter {
        all = all.add(condition_expr(
            resource,
            engine,
            condition,
            "query.filter",
            now,
        )?);
        any_condition = true;
    }
    if !filter_or.is_empty() {
        let mut any = Where::any();
        for condition in filter_or {
            any = any.add(condition_expr(
                resource,
                engine,
                condition,
                "query.filter_or",
                now,
            )?);
        }
        all = all.add(any);
        any_condition = true;
    }
    if let Some(keyword) = keyword.filter(|keyword| !keyword.is_empty()) {
        all = all.add(keyword_expr(resource, engine, keyword)?);
        any_condition = true;
    }
    Ok(Compiled {
        condition: any_condition.then_some(all),
    })
}

/// The work a whole query may ask for, whatever its shape: at most `MAX_QUERY_VALUES` list
/// values, and `MAX_REGEX_PATTERNS` regular expressions costing at most
/// `regex::MAX_QUERY_REGEX_COST` together, across all its conditions. (A pattern the
/// grammar refuses costs nothing here; its condition is refused by name when compiled.)
fn check_budget<'c>(conditions: impl Iterator<Item = &'c Condition>) -> Result<()> {
    let (mut values, mut patterns, mut cost) = (0usize, 0usize, 0u64);
    for condition in conditions {
        let count = match &condition.value {
            Value::Array(items) => items.len(),
            _ => 1,
        };
        values += count;
        if condition.operator.starts_with("regex") {
            patterns += count;
            let texts: Vec<&Value> = match &condition.value {
                Value::Array(items) => items.iter().collect(),
                single => vec![single],
            };
            for text in texts {
                if let Value::String(text) = text
                    && let Ok(pattern) = regex::parse(text)
                {
                    cost = cost.saturating_add(pattern.cost());
                }
            }
        }
    }
    if cost > regex::MAX_QUERY_REGEX_COST {
        return Err(Error::invalid(
            "query.filter",
            format!(
                "the regular expressions of operators regex and regex_in cost {cost} together, \
                 more than {} (each repeat counts its largest count times what it repeats)",
                regex::MAX_QUERY_REGEX_COST
            ),
        ));
    }
    if values > MAX_QUERY_VALUES {
        return Err(Error::invalid(
            "query.filter",
            format!("more than {MAX_QUERY_VALUES} values in all conditions together"),
        ));
    }
    if patterns > MAX_REGEX_PATTERNS {
        return Err(Error::invalid(
            "query.filter",
            format!(
                "more than {MAX_REGEX_PATTERNS} regular expressions in all conditions together"
            ),
        ));
    }
    Ok(())
}

fn keyword_expr(resource: &Resource, engine: Engine, keyword: &str) -> Result<SimpleExpr> {
    if keyword.chars().count() > MAX_VALUE_CHARS {
        return Err(Error::invalid(
            "query.keyword",
            format!("longer than {MAX_VALUE_CHARS} characters"),
        ));
    }
    let needle = fold_text(keyword);
    let mut any: Option<SimpleExpr> = None;
    for key in resource.keyword_fields {
        let key = keys::resolve(resource, key, "query.keyword")?;
        let matches = sql::contains(engine, folded_operand(engine, &key), needle.clone());
        any = Some(match any {
            Some(any) => any.or(matches),
            None => matches,
        });
    }
    Ok(any.unwrap_or_else(|| Expr::cust("1 = 0")))
}

/// The key's value in the base relation: its column, or the text at a JSON path.
pub(super) fn operand(engine: Engine, key: &Key<'_>) -> SimpleExpr {
    let column = sql::column(BASE, key.field.key);
    if key.path.is_empty() {
        column
    } else {
        sql::json_text(engine, column, &key.path)
    }
}

/// The key's value as `keyword` and the `contain` operators search it: read from the
/// field's folded column, or, for a field kept without one (ASCII by construction), with
/// its ASCII letters lowered, which folds it alike.
fn folded_operand(engine: Engine, key: &Key<'_>) -> SimpleExpr {
    let Some(folded) = key.field.folded else {
        return sql::ascii_lower(engine, operand(engine, key));
    };
    let column = sql::column(BASE, folded);
    if key.path.is_empty() {
        column
    } else {
        sql::json_text(engine, column, &key.path)
    }
}

/// Whether the key has a value, and whether it has none: a column that is not NULL, or a
/// member of a JSON object that is there and not JSON null, whatever its type (an object
/// reads as no text, yet it is there).
fn presence(engine: Engine, key: &Key<'_>, column: &SimpleExpr) -> (SimpleExpr, SimpleExpr) {
    if key.path.is_empty() {
        (column.clone().is_not_null(), column.clone().is_null())
    } else {
        let present = sql::json_present(engine, sql::column(BASE, key.field.key), &key.path);
        (present.clone(), present.not())
    }
}

/// What an operator does, once its name is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Not,
    Cmp(&'static str),
    Contain,
    NotContain,
    In,
    NotIn,
    ContainIn,
    NotContainIn,
    Exists,
    Regex,
    RegexIn,
    Datetime(&'static str),
    Timediff(&'static str),
}

fn parse_op(name: &str) -> Option<Op> {
    Some(match name {
        "" | "eq" => Op::Eq,
        "not" => Op::Not,
        "lt" => Op::Cmp("<"),
        "lte" => Op::Cmp("<="),
        "gt" => Op::Cmp(">"),
        "gte" => Op::Cmp(">="),
        "contain" => Op::Contain,
        "not_contain" => Op::NotContain,
        "in" => Op::In,
        "not_in" => Op::NotIn,
        "contain_in" => Op::ContainIn,
        "not_contain_in" => Op::NotContainIn,
        "exists" => Op::Exists,
        "regex" => Op::Regex,
        "regex_in" => Op::RegexIn,
        "datetime_lt" => Op::Datetime("<"),
        "datetime_lte" => Op::Datetime("<="),
        "datetime_gt" => Op::Datetime(">"),
        "datetime_gte" => Op::Datetime(">="),
        "timediff_lt" => Op::Timediff("<"),
        "timediff_lte" => Op::Timediff("<="),
        "timediff_gt" => Op::Timediff(">"),
        "timediff_gte" => Op::Timediff(">="),
        _ => return None,
    })
}

/// A scalar the key's column is compared with.
#[derive(Debug, Clone)]
enum Scalar {
    Text(String),
    Bool(bool),
    Integer(i64),
    DateTime(DateTime<Utc>),
}

struct Check<'a> {
    label: &'static str,
    key: &'a str,
    op: &'a str,
}

impl Check<'_> {
    fn refuse(&self, reason: impl std::fmt::Display) -> Error {
        Error::invalid(
            self.label,
            format!(
                "key {} with operator {}: {reason}",
                shown(self.key),
                shown(self.op)
            ),
        )
    }
}

fn condition_expr(
    resource: &Resource,
    engine: Engine,
    condition: &Condition,
    label: &'static str,
    now: DateTime<Utc>,
) -> Result<SimpleExpr> {
    let Condition {
        key,
        operator,
        value,
    } = condition;
    let key = keys::resolve(resource, key, label)?;
    let op = parse_op(operator).ok_or_else(|| {
        Error::invalid(
            label,
            format!(
                "unknown operator {} for key {}",
                shown(operator),
                shown(&condition.key)
            ),
        )
    })?;
    let check = Check {
        label,
        key: &condition.key,
        op: if operator.is_empty() { "eq" } else { operator },
    };
    let column = operand(engine, &key);

    if op == Op::Exists {
        let Value::Bool(exists) = value else {
            return Err(check.refuse("the value must be a boolean"));
        };
        let (present, absent) = presence(engine, &key, &column);
        return Ok(if *exists { present } else { absent });
    }
    if value.is_null() && matches!(op, Op::Eq | Op::Not) {
        let (present, absent) = presence(engine, &key, &column);
        return Ok(if op == Op::Eq { absent } else { present });
    }

    match key.kind() {
        Kind::Json => Err(check.refuse(
            "a JSON object supports only exists (or eq/not null); name a member, such as tags.team",
        )),
        Kind::JsonArray => array_condition(engine, &check, op, column, value),
        Kind::Text | Kind::Bool | Kind::Integer | Kind::DateTime => {
            scalar_condition(engine, &check, op, &key, value, now)
        }
    }
}

fn array_condition(
    engine: Engine,
    check: &Check<'_>,
    op: Op,
    column: SimpleExpr,
    value: &Value,
) -> Result<SimpleExpr> {
    let element = |value: &Value| match value {
        Value::String(text) => text_value(check, text),
        _ => Err(check.refuse("the value must be text (an element of the list)")),
    };
    let values = match op {
        Op::Eq | Op::Not => vec![element(value)?],
        Op::In | Op::NotIn => list(check, value)?
            .iter()
            .map(element)
            .collect::<Result<_>>()?,
        _ => return Err(check.refuse("a list field supports eq, not, in, not_in and exists")),
    };
    if values.is_empty() {
        return Ok(truth(op == Op::NotIn));
    }
    let has = sql::array_has_any(engine, column.clone(), values);
    Ok(match op {
        Op::Eq | Op::In => has,
        _ => column.is_null().or(has.not()),
    })
}

fn scalar_condition(
    engine: Engine,
    check: &Check<'_>,
    op: Op,
    key: &Key<'_>,
    value: &Value,
    now: DateTime<Utc>,
) -> Result<SimpleExpr> {
    let (kind, from_path) = (key.kind(), !key.path.is_empty());
    let column = operand(engine, key);
    let scalar = |value: &Value| scalar_value(check, kind, from_path, value);
    let compared = |column: SimpleExpr| match kind {
        Kind::Text => sql::text_order(engine, column),
        Kind::DateTime => sql::datetime_order(engine, column),
        _ => column,
    };
    match op {
        Op::Eq | Op::Not => {
            let equal = compared(column.clone()).eq(scalar_expr(engine, scalar(value)?));
            Ok(if op == Op::Eq {
                equal
            } else {
                column.is_null().or(equal.not())
            })
        }
        Op::Cmp(symbol) => {
            if kind == Kind::Bool {
                return Err(check.refuse("a boolean supports eq, not, in, not_in and exists"));
            }
            let value = scalar_expr(engine, scalar(value)?);
            Ok(compare(engine, compared(column), symbol, value))
        }
        Op::In | Op::NotIn => {
            let items = list(check, value)?;
            let has_null = items.iter().any(Value::is_null);
            let values: Vec<SimpleExpr> = items
                .iter()
                .filter(|item| !item.is_null())
                .map(|item| scalar(item).map(|scalar| scalar_expr(engine, scalar)))
                .collect::<Result<_>>()?;
            let member = if values.is_empty() {
                truth(false)
            } else {
                Expr::expr(compared(column.clone())).is_in(values)
            };
            Ok(match (op, has_null) {
                (Op::In, false) => member,
                (Op::In, true) => column.is_null().or(member),
                (_, false) => column.is_null().or(member.not()),
                (_, true) => column.is_not_null().and(member.not()),
            })
        }
        Op::Contain | Op::NotContain | Op::ContainIn | Op::NotContainIn => {
            contain_condition(engine, check, op, key, value)
        }
        Op::Regex | Op::RegexIn => regex_condition(engine, check, op, kind, column, value),
        Op::Datetime(symbol) | Op::Timediff(symbol) => {
            if kind != Kind::DateTime {
                return Err(check.refuse("datetime and timediff operators apply to datetimes only"));
            }
            let at = moment(check, op, value, now)?;
            Ok(compare(
                engine,
                compared(column),
                symbol,
                sql::datetime_value(engine, at),
            ))
        }
        Op::Exists => unreachable!("handled before"),
    }
}

/// `contain`, `not_contain`, `contain_in` and `not_contain_in`: each value, folded as the
/// `fold` module says, looked for in the key's folded value.
fn contain_condition(
    engine: Engine,
    check: &Check<'_>,
    op: Op,
    key: &Key<'_>,
    value: &Value,
) -> Result<SimpleExpr> {
    if key.kind() != Kind::Text {
        return Err(check.refuse("contain operators apply to text only"));
    }
    let from_path = !key.path.is_empty();
    let needles: Vec<String> = match op {
        Op::Contain | Op::NotContain => vec![text_of(check, from_path, value)?],
        _ => list(check, value)?
            .iter()
            .map(|item| text_of(check, from_path, item))
            .collect::<Result<_>>()?,
    };
    let haystack = folded_operand(engine, key);
    let found = needles
        .iter()
        .map(|needle| sql::contains(engine, haystack.clone(), fold_text(needle)))
        .reduce(|any, next| any.or(next))
        .unwrap_or_else(|| truth(false));
    Ok(match op {
        Op::Contain | Op::ContainIn => found,
        _ => haystack.is_null().or(found.not()),
    })
}

/// `regex` and `regex_in`: any of the patterns matches.
fn regex_condition(
    engine: Engine,
    check: &Check<'_>,
    op: Op,
    kind: Kind,
    column: SimpleExpr,
    value: &Value,
) -> Result<SimpleExpr> {
    if kind != Kind::Text {
        return Err(check.refuse("regex operators apply to text only"));
    }
    let patterns: Vec<&Value> = match op {
        Op::Regex => vec![value],
        _ => list(check, value)?.iter().collect(),
    };
    let mut matched: Option<SimpleExpr> = None;
    for pattern in patterns {
        let Value::String(pattern) = pattern else {
            return Err(check.refuse("a regular expression must be text"));
        };
        let pattern = regex::parse(pattern).map_err(|reason| check.refuse(reason))?;
        let test = regex_expr(engine, check, column.clone(), pattern)?;
        matched = Some(match matched {
            Some(matched) => matched.or(test),
            None => test,
        });
    }
    Ok(matched.unwrap_or_else(|| truth(false)))
}

/// The point in time a `datetime_*` or `timediff_*` value names.
fn moment(check: &Check<'_>, op: Op, value: &Value, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let Value::String(text) = value else {
        return Err(check.refuse("the value must be text"));
    };
    match op {
        Op::Datetime(_) => parse_datetime(text)
            .ok_or_else(|| check.refuse("the value must be an ISO 8601 datetime")),
        _ => parse_timediff(text, now).ok_or_else(|| {
            check.refuse("the value must look like now, now-7d or now+1h (units s m h d w)")
        }),
    }
}

fn compare(engine: Engine, left: SimpleExpr, symbol: &str, right: SimpleExpr) -> SimpleExpr {
    let template = match symbol {
        "<" => "({} < {})",
        "<=" => "({} <= {})",
        ">" => "({} > {})",
        _ => "({} >= {})",
    };
    custom(engine, template, vec![left, right])
}

fn regex_expr(
    engine: Engine,
    check: &Check<'_>,
    column: SimpleExpr,
    pattern: Pattern,
) -> Result<SimpleExpr> {
    match (engine, pattern) {
        (Engine::Postgres, Pattern::Literal { start, end, text }) => {
            let source = format!(
                "{}{}{}",
                if start { "^" } else { "" },
                escape_regex(&text),
                if end { "$" } else { "" }
            );
            Ok(custom(engine, "({} ~ {})", vec![column, bind(source)]))
        }
        (
            Engine::Postgres,
            Pattern::General {
                pattern: source, ..
            },
        ) => Ok(custom(engine, "({} ~ {})", vec![column, bind(source)])),
        (Engine::Sqlite, Pattern::Literal { start, end, text }) => Ok(match (start, end) {
            (true, true) => column.eq(text),
            (true, false) => custom(engine, "(instr({}, {}) = 1)", vec![column, bind(text)]),
            (false, true) => {
                let length = text.chars().count() as i64;
                if length == 0 {
                    column.is_not_null()
                } else {
                    custom(
                        engine,
                        "(substr({}, {}) = {})",
                        vec![column, bind(-length), bind(text)],
                    )
                }
            }
            (false, false) => custom(engine, "(instr({}, {}) > 0)", vec![column, bind(text)]),
        }),
        (Engine::Sqlite, Pattern::General { .. }) => Err(check.refuse(
            "on this server's database a regular expression may only be literal text, \
             optionally anchored with ^ and $ (escape . * + ? ( ) [ ] { } | ^ $ \\ with \\)",
        )),
    }
}

/// `text` with every character that is special in a regular expression escaped.
fn escape_regex(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if ".^$|?*+()[]{}\\".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

fn truth(value: bool) -> SimpleExpr {
    Expr::cust(if value { "1 = 1" } else { "1 = 0" })
}

fn list<'v>(check: &Check<'_>, value: &'v Value) -> Result<&'v Vec<Value>> {
    let Value::Array(items) = value else {
        return Err(check.refuse("the value must be a list"));
    };
    if items.len() > MAX_LIST_VALUES {
        return Err(check.refuse(format!("the list holds more than {MAX_LIST_VALUES} values")));
    }
    Ok(items)
}

fn text_value(check: &Check<'_>, text: &str) -> Result<String> {
    if text.chars().count() > MAX_VALUE_CHARS {
        return Err(check.refuse(format!(
            "the value is longer than {MAX_VALUE_CHARS} characters"
        )));
    }
    Ok(text.to_owned())
}

/// A text value; a member of a JSON object also accepts numbers and booleans, compared as
/// their JSON text (`3`, `true`).
fn text_of(check: &Check<'_>, from_path: bool, value: &Value) -> Result<String> {
    match value {
        Value::String(text) => text_value(check, text),
        Value::Bool(flag) if from_path => Ok(flag.to_string()),
        Value::Number(number) if from_path => Ok(match integer_of(number) {
            Some(integer) => integer.to_string(),
            None => number.to_string(),
        }),
        _ => Err(check.refuse("the value must be text")),
    }
}

/// A whole number, also when it arrives as a float without a fraction (the wire's
/// `Struct` carries every number as a double).
fn integer_of(number: &serde_json::Number) -> Option<i64> {
    if let Some(integer) = number.as_i64() {
        return Some(integer);
    }
    let float = number.as_f64()?;
    (float.fract() == 0.0 && float.abs() < 9.0e15).then_some(float as i64)
}

fn scalar_value(check: &Check<'_>, kind: Kind, from_path: bool, value: &Value) -> Result<Scalar> {
    match kind {
        Kind::Text => text_of(check, from_path, value).map(Scalar::Text),
        Kind::Bool => match value {
            Value::Bool(flag) => Ok(Scalar::Bool(*flag)),
            _ => Err(check.refuse("the value must be a boolean")),
        },
        Kind::Integer => match value {
            Value::Number(number) => integer_of(number)
                .map(Scalar::Integer)
                .ok_or_else(|| check.refuse("the value must be a whole number")),
            _ => Err(check.refuse("the value must be a whole number")),
        },
        Kind::DateTime => match value {
            Value::String(text) => parse_datetime(text)
                .map(Scalar::DateTime)
                .ok_or_else(|| check.refuse("the value must be an ISO 8601 datetime")),
            _ => Err(check.refuse("the value must be an ISO 8601 datetime")),
        },
        Kind::Json | Kind::JsonArray => Err(check.refuse("not comparable")),
    }
}

fn scalar_expr(engine: Engine, scalar: Scalar) -> SimpleExpr {
    match scalar {
        Scalar::Text(text) => sql::text_order(engine, bind(text)),
        Scalar::Bool(flag) => bind(flag),
        Scalar::Integer(integer) => bind(integer),
        Scalar::DateTime(at) => sql::datetime_value(engine, at),
    }
}

/// The years a datetime value may fall in: what both engines store (PostgreSQL's range
/// starts in 4713 BC, SQLite's `julianday` text in year 0).
const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

fn in_range(at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    use chrono::Datelike;
    YEARS.contains(&at.year()).then_some(at)
}

/// An ISO 8601 point in time between the years 1 and 9999: with an offset
/// (`2024-05-01T12:00:00+09:00`, `…Z`), without one (read as UTC), or a bare date (midnight
/// UTC).
pub(super) fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    parse_any_datetime(text).and_then(in_range)
}

fn parse_any_datetime(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.len() > 64 {
        return None;
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Some(at.and_utc());
        }
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
    ] {
        if let Ok(at) = DateTime::parse_from_str(text, format) {
            return Some(at.with_timezone(&Utc));
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|at| at.and_utc())
}

/// `now`, `now-7d`, `now+1h`: units `s m h d w`; the result between the years 1 and 9999.
pub(super) fn parse_timediff(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    parse_any_timediff(text, now).and_then(in_range)
}

fn parse_any_timediff(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let rest = text.trim().strip_prefix("now")?;
    if rest.is_empty() {
        return Some(now);
    }
    let (sign, rest) = match rest.split_at(1) {
        ("+", rest) => (1, rest),
        ("-", rest) => (-1, rest),
        _ => return None,
    };
    let unit = rest.chars().last()?;
    let amount: i64 = rest[..rest.len() - unit.len_utf8()].parse().ok()?;
    if !(0..=1_000_000).contains(&amount) {
        return None;
    }
    let span = match unit {
        's' => Duration::seconds(amount),
        'm' => Duration::minutes(amount),
        'h' => Duration::hours(amount),
        'd' => Duration::days(amount),
        'w' => Duration::weeks(amount),
        _ => return None,
    };
    if sign > 0 {
        now.checked_add_signed(span)
    } else {
        now.checked_sub_signed(span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_parse_in_the_usual_forms() {
        let noon = "2024-05-01T12:00:00Z".parse::<DateTime<Utc>>().unwrap();
        for text in [
            "2024-05-01T12:00:00Z",
            "2024-05-01T12:00:00.000Z",
            "2024-05-01T21:00:00+09:00",
            "2024-05-01T12:00:00",
            "2024-05-01 12:00:00",
            "2024-05-01T12:00",
        ] {
            assert_eq!(parse_datetime(text), Some(noon), "{text}");
        }
        assert_eq!(
            parse_datetime("2024-05-01"),
            Some("2024-05-01T00:00:00Z".parse().unwrap())
        );
        for bad in ["", "yesterday", "2024-13-01", "2024-05-01T25:00:00Z"] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn timediffs_move_from_now() {
        let now = "2024-05-01T12:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(parse_timediff("now", now), Some(now));
        assert_eq!(parse_timediff("now-7d", now), Some(now - Duration::days(7)));
        assert_eq!(
            parse_timediff("now+1h", now),
            Some(now + Duration::hours(1))
        );
        assert_eq!(
            parse_timediff("now-2w", now),
            Some(now - Duration::weeks(2))
        );
        assert_eq!(
            parse_timediff("now-30s", now),
            Some(now - Duration::seconds(30))
        );
        assert_eq!(
            parse_timediff("now+5m", now),
            Some(now + Duration::minutes(5))
        );
        for bad in [
            "",
            "now-",
            "now-d",
            "now-7y",
            "now*7d",
            "then-7d",
            "now-99999999d",
            "now--1d",
        ] {
            assert_eq!(parse_timediff(bad, now), None, "{bad}");
        }
    }
}
