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
/// `lower()` folds ASCII only, and PostgreSQL's does the same under the "C" collation. On
/// text that is ASCII by construction (states, codes) that is `fold::fold_text`, alike on
/// both engines; other text is searched in a column folded by the service.
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

/// PostgreSQL's `json -> 'a' -> 'b'`: each segment bound as text, so it names an object
/// member even when it looks like a number (`jsonb -> text` never indexes an array, as
/// `jsonb_extract_path` would). `last` is the operator before the last segment (`->` or
/// `->>`).
fn postgres_json_chain(segments: &[String], last: &str) -> (String, Vec<SimpleExpr>) {
    let mut template = String::from("{}");
    let mut args = Vec::with_capacity(segments.len());
    for (index, segment) in segments.iter().enumerate() {
        let operator = if index + 1 == segments.len() {
            last
        } else {
            "->"
        };
        template.push_str(&format!(" {operator} {{}}"));
        args.push(bind(segment.clone()));
    }
    (template, args)
}

/// The value at `segments` inside the JSON object `json`, as text, the same on both
/// engines: every segment names an object member (`tags.a.2` reads the member `"2"`, never
/// an array element); a string reads as itself, a number as its JSON text, a boolean as
/// `true` or `false`; a missing member, JSON null, an object or an array reads as NULL
/// (each engine would print an object its own way).
pub(super) fn json_text(engine: Engine, json: SimpleExpr, segments: &[String]) -> SimpleExpr {
    match engine {
        Engine::Sqlite => {
            let path = sqlite_json_path(segments);
            let mut args = Vec::new();
            for _ in 0..4 {
                args.extend([json.clone(), bind(path.clone())]);
            }
            // A number as the text it is stored as (`->`), as PostgreSQL prints it, not as
            // SQLite would print the float it reads (0.30000000000000004 would be 0.3).
            custom(
                engine,
                "(CASE json_type({}, {}) WHEN 'text' THEN json_extract({}, {}) \
                 WHEN 'integer' THEN ({} -> {}) WHEN 'real' THEN ({} -> {}) \
                 WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' END)",
                args,
            )
        }
        Engine::Postgres => {
            let (member, mut args) = postgres_json_chain(segments, "->");
            let (text, text_args) = postgres_json_chain(segments, "->>");
            args.insert(0, json.clone());
            args.push(json);
            args.extend(text_args);
            custom(
                engine,
                &format!(
                    "(CASE WHEN jsonb_typeof({member}) IN ('object', 'array') THEN NULL \
                     ELSE ({text}) END)"
                ),
                args,
            )
        }
    }
}

/// Whether the JSON object `json` has a member at `segments` that is not JSON null,
/// whatever its type (`exists`, and `eq`/`not` with a null value, on a path).
pub(super) fn json_present(engine: Engine, json: SimpleExpr, segments: &[String]) -> SimpleExpr {
    match engine {
        Engine::Sqlite => custom(
            engine,
            "(COALESCE(json_type({}, {}), 'null') <> 'null')",
            vec![json, bind(sqlite_json_path(segments))],
        ),
        Engine::Postgres => {
            let (member, mut args) = postgres_json_chain(segments, "->");
            args.insert(0, json);
            custom(
                engine,
                &format!("(COALESCE(jsonb_typeof({member}), 'null') <> 'null')"),
                args,
            )
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
