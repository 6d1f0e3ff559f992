//! SQL fragments that each engine spells its own way. Everything a caller supplies reaches
//! these as bound values; the only text spliced in is constant or an identifier that the
//! builder quotes.

use sea_orm::sea_query::{Alias, Expr, Func, SimpleExpr};

use super::Engine;

/// `"table"."column"`, quoted by the builder.
pub(super) fn column(table: &str, name: &str) -> SimpleExpr {
    Expr::col((Alias::new(table), Alias::new(name))).into()
}

/// A function call `name(args…)`; `name` is always a constant of this module's callers.
pub(super) fn call(name: &'static str, args: Vec<SimpleExpr>) -> SimpleExpr {
    Func::cust(Alias::new(name)).args(args).into()
}

/// A bound value.
pub(super) fn bind(value: impl Into<sea_orm::sea_query::Value>) -> SimpleExpr {
    Expr::val(value).into()
}

/// A custom expression: each `{}` in `template` becomes one of `args`, in order. The
/// template is always a constant (or assembled from constants), never caller text.
pub(super) fn custom(engine: Engine, template: &str, args: Vec<SimpleExpr>) -> SimpleExpr {
    debug_assert_eq!(template.matches("{}").count(), args.len());
    // sea-query's own placeholder marks an argument; on PostgreSQL a `$` followed by a
    // digit or a word would be read as a numbered one, so no template puts either after `{}`.
    let mark = match engine {
        Engine::Sqlite => "?",
        Engine::Postgres => "$",
    };
    Expr::cust_with_exprs(template.replace("{}", mark), args)
}

/// A comparison-ready form of a text expression: byte order on both engines (SQLite's
/// BINARY collation; PostgreSQL's "C"), whatever the database's locale.
pub(super) fn text_order(engine: Engine, expr: SimpleExpr) -> SimpleExpr {
    match engine {
        Engine::Sqlite => expr,
        Engine::Postgres => custom(engine, "({} COLLATE \"C\")", vec![expr]),
    }
}

/// `expr` with ASCII letters folded to lower case and nothing else changed: SQLite's
/// `lower()` folds ASCII only, and PostgreSQL's does the same under the "C" collation, so
/// case-insensitive matching agrees on both engines.
pub(super) fn ascii_lower(engine: Engine, expr: SimpleExpr) -> SimpleExpr {
    match engine {
        Engine::Sqlite => call("lower", vec![expr]),
        Engine::Postgres => custom(engine, "lower({} COLLATE \"C\")", vec![expr]),
    }
}

/// Whether `needle` (already folded) occurs in `haystack`: a plain substring test, so `%`,
/// `_` and backslashes in the needle mean themselves.
pub(super) fn contains(engine: Engine, haystack: SimpleExpr, needle: String) -> SimpleExpr {
    let template = match engine {
        Engine::Sqlite => "(instr({}, {}) > 0)",
        Engine::Postgres => "(strpos({}, {}) > 0)",
    };
    custom(engine, template, vec![haystack, bind(needle)])
}

/// The SQLite JSON path of `segments`, each a quoted object label. Segments never hold
/// `"` or `\` (`keys::resolve` refuses them), so quoting cannot be escaped from.
fn sqlite_json_path(segments: &[String]) -> String {
    let mut path = String::from("$");
    for segment in segments {
        path.push_str(".\"");
        path.push_str(segment);
        path.push('"');
    }
    path
}

/// The value at `segments` inside the JSON object `json`, as text: strings as they are,
/// numbers and booleans as their JSON text, JSON null and missing members as NULL. That is
/// PostgreSQL's `jsonb_extract_path_text`; SQLite is made to agree.
pub(super) fn json_text(engine: Engine, json: SimpleExpr, segments: &[String]) -> SimpleExpr {
    match engine {
        Engine::Sqlite => {
            let path = sqlite_json_path(segments);
            custom(
                engine,
                "(CASE json_type({}, {}) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' \
                 ELSE CAST(json_extract({}, {}) AS TEXT) END)",
                vec![json.clone(), bind(path.clone()), json, bind(path)],
            )
        }
        Engine::Postgres => {
            let mut args = vec![json];
            args.extend(segments.iter().map(|segment| bind(segment.clone())));
            call("jsonb_extract_path_text", args)
        }
    }
}

/// Whether the JSON array of text `array` has an element equal to one of `values`.
pub(super) fn array_has_any(engine: Engine, array: SimpleExpr, values: Vec<String>) -> SimpleExpr {
    let marks = vec!["{}"; values.len()].join(", ");
    let template = match engine {
        Engine::Sqlite => {
            format!("EXISTS (SELECT 1 FROM json_each({{}}) AS e WHERE e.value IN ({marks}))")
        }
        Engine::Postgres => format!(
            "EXISTS (SELECT 1 FROM jsonb_array_elements_text({{}}) AS e(v) WHERE e.v IN ({marks}))"
        ),
    };
    let mut args = vec![array];
    args.extend(values.into_iter().map(bind));
    custom(engine, &template, args)
}

/// A point in time made comparable: SQLite keeps datetimes as text whose fractional digits
/// vary, so both sides go through `julianday()` (millisecond precision); PostgreSQL
/// compares `timestamptz` natively.
pub(super) fn datetime_order(engine: Engine, expr: SimpleExpr) -> SimpleExpr {
    match engine {
        Engine::Sqlite => call("julianday", vec![expr]),
        Engine::Postgres => expr,
    }
}

/// A bound point in time, comparable with `datetime_order` of a column.
pub(super) fn datetime_value(engine: Engine, at: chrono::DateTime<chrono::Utc>) -> SimpleExpr {
    match engine {
        Engine::Sqlite => call(
            "julianday",
            vec![bind(
                at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false),
            )],
        ),
        Engine::Postgres => bind(at),
    }
}

/// A point in time as canonical text, `2024-05-01T12:30:00.000Z` (UTC, milliseconds), which
/// sorts as the times do; statistics carry datetimes in this form.
pub(super) fn datetime_text(engine: Engine, expr: SimpleExpr) -> SimpleExpr {
    match engine {
        Engine::Sqlite => custom(engine, "strftime('%Y-%m-%dT%H:%M:%fZ', {})", vec![expr]),
        Engine::Postgres => custom(
            engine,
            "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
            vec![expr],
        ),
    }
}
