//! The query compiler against a real database: checks that refuse bad queries, known
//! answers, and property tests that compare the SQL with an in-memory evaluator, on SQLite
//! always and on PostgreSQL when `SPACEID_TEST_POSTGRES_URL` names a server.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use sea_orm::sea_query::{
    Alias, Asterisk, ColumnDef, Query, SelectStatement, Table, Value as SqlValue,
};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Map, Value, json};
use spaceid::testing::error::Error;
use spaceid::testing::query::{
    Condition, Engine, Field, GroupField, GroupKey, Kind, MAX_CONDITIONS, MAX_LIST_VALUES,
    MAX_PAGE_LIMIT, MAX_SORT_KEYS, MAX_STAGES, Page, ProjectField, Resource, Search, SortKey,
    Stage, Stat, compile_search, compile_stat, fold_json, fold_text,
};

const FIELDS: &[Field] = &[
    Field {
        key: "id",
        kind: Kind::Text,
        folded: Some("id_folded"),
    },
    Field {
        key: "name",
        kind: Kind::Text,
        folded: Some("name_folded"),
    },
    Field {
        key: "state",
        kind: Kind::Text,
        folded: None,
    },
    Field {
        key: "active",
        kind: Kind::Bool,
        folded: None,
    },
    Field {
        key: "score",
        kind: Kind::Integer,
        folded: None,
    },
    Field {
        key: "created_at",
        kind: Kind::DateTime,
        folded: None,
    },
    Field {
        key: "tags",
        kind: Kind::Json,
        folded: Some("tags_folded"),
    },
    Field {
        key: "required_actions",
        kind: Kind::JsonArray,
        folded: None,
    },
];

/// The test resource: `query_items` without its `password` column (and its folded
/// columns, which no key names).
static ITEMS: Resource = Resource {
    fields: FIELDS,
    keyword_fields: &["id", "name"],
    tiebreak: "id",
    minimal_fields: &["id", "name"],
};

const TABLE: &str = "query_items";

fn base() -> SelectStatement {
    Query::select()
        .column(Asterisk)
        .from(Alias::new(TABLE))
        .to_owned()
}

/// One row of `query_items`.
#[derive(Debug, Clone)]
struct Item {
    id: String,
    name: Option<String>,
    state: Option<String>,
    active: Option<bool>,
    score: Option<i64>,
    created_at: Option<DateTime<Utc>>,
    tags: Option<Map<String, Value>>,
    required_actions: Option<Vec<String>>,
    password: Option<String>,
}

impl Item {
    fn new(id: &str) -> Self {
        Self {
            id: id.into(),
            name: None,
            state: None,
            active: None,
            score: None,
            created_at: None,
            tags: None,
            required_actions: None,
            password: Some("hunter2".into()),
        }
    }
}

/// A fresh database with an empty `query_items` table.
struct TestDb {
    engine: Engine,
    db: DatabaseConnection,
    _dir: tempfile::TempDir,
}

impl TestDb {
    async fn open(engine: Engine) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = match engine {
            Engine::Sqlite => format!("sqlite://{}?mode=rwc", dir.path().join("q.db").display()),
            Engine::Postgres => {
                crate::helpers::fresh_postgres_database(&postgres_url().unwrap()).await
            }
        };
        let db = Database::connect(&url).await.expect("connect");
        let create = Table::create()
            .table(Alias::new(TABLE))
            .col(
                ColumnDef::new(Alias::new("id"))
                    .string()
                    .not_null()
                    .primary_key(),
            )
            .col(ColumnDef::new(Alias::new("name")).string().null())
            .col(ColumnDef::new(Alias::new("state")).string().null())
            .col(ColumnDef::new(Alias::new("active")).boolean().null())
            .col(ColumnDef::new(Alias::new("score")).big_integer().null())
            .col(
                ColumnDef::new(Alias::new("created_at"))
                    .timestamp_with_time_zone()
                    .null(),
            )
            .col(ColumnDef::new(Alias::new("tags")).json_binary().null())
            .col(
                ColumnDef::new(Alias::new("required_actions"))
                    .json_binary()
                    .null(),
            )
            .col(ColumnDef::new(Alias::new("password")).string().null())
            .col(ColumnDef::new(Alias::new("id_folded")).string().not_null())
            .col(ColumnDef::new(Alias::new("name_folded")).string().null())
            .col(
                ColumnDef::new(Alias::new("tags_folded"))
                    .json_binary()
                    .null(),
            )
            .to_owned();
        let backend = db.get_database_backend();
        db.execute(backend.build(&create))
            .await
            .expect("create table");
        Self {
            engine,
            db,
            _dir: dir,
        }
    }

    async fn replace(&self, items: &[Item]) {
        let backend = self.db.get_database_backend();
        let delete = Query::delete().from_table(Alias::new(TABLE)).to_owned();
        self.db.execute(backend.build(&delete)).await.unwrap();
        if items.is_empty() {
            return;
        }
        let mut insert = Query::insert();
        insert.into_table(Alias::new(TABLE)).columns(
            [
                "id",
                "name",
                "state",
                "active",
                "score",
                "created_at",
                "tags",
                "required_actions",
                "password",
                "id_folded",
                "name_folded",
                "tags_folded",
            ]
            .map(Alias::new),
        );
        for item in items {
            let values: Vec<SqlValue> = vec![
                item.id.clone().into(),
                item.name.clone().into(),
                item.state.clone().into(),
                item.active.into(),
                item.score.into(),
                item.created_at.into(),
                item.tags.clone().map(Value::Object).into(),
                item.required_actions
                    .clone()
                    .map(|actions| json!(actions))
                    .into(),
                item.password.clone().into(),
                fold_text(&item.id).into(),
                item.name.as_deref().map(fold_text).into(),
                item.tags
                    .clone()
                    .map(|tags| fold_json(&Value::Object(tags)))
                    .into(),
            ];
            insert.values_panic(values.into_iter().map(Into::into));
        }
        self.db.execute(backend.build(&insert)).await.unwrap();
    }

    async fn search(&self, search: &Search) -> Result<(Vec<String>, i64), Error> {
        let compiled = compile_search(&ITEMS, base(), search, self.engine)?;
        let backend = self.db.get_database_backend();
        let rows = self
            .db
            .query_all(backend.build(&compiled.rows))
            .await
            .unwrap_or_else(|error| panic!("{error}: {:?}", backend.build(&compiled.rows)));
        let ids = rows
            .iter()
            .map(|row| row.try_get::<String>("", "id").unwrap())
            .collect();
        let count = self
            .db
            .query_one(backend.build(&compiled.count))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "count")
            .unwrap();
        Ok((ids, count))
    }

    async fn stat(&self, stat: &Stat) -> Result<(Vec<Value>, Option<i64>), Error> {
        let compiled = compile_stat(&ITEMS, base(), stat, self.engine)?;
        let backend = self.db.get_database_backend();
        let rows = self
            .db
            .query_all(backend.build(&compiled.rows))
            .await
            .unwrap_or_else(|error| panic!("{error}: {:?}", backend.build(&compiled.rows)));
        let rows = rows
            .iter()
            .map(|row| serde_json::from_str(&row.try_get::<String>("", "row").unwrap()).unwrap())
            .collect();
        let count = match &compiled.count {
            Some(count) => Some(
                self.db
                    .query_one(backend.build(count))
                    .await
                    .unwrap()
                    .unwrap()
                    .try_get::<i64>("", "count")
                    .unwrap(),
            ),
            None => None,
        };
        Ok((rows, count))
    }
}

fn postgres_url() -> Option<String> {
    std::env::var("SPACEID_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

/// The engines to test on: SQLite always, PostgreSQL when configured.
fn engines() -> Vec<Engine> {
    let mut engines = vec![Engine::Sqlite];
    if postgres_url().is_some() {
        engines.push(Engine::Postgres);
    }
    engines
}

fn cond(key: &str, operator: &str, value: Value) -> Condition {
    Condition {
        key: key.into(),
        operator: operator.into(),
        value,
    }
}

fn filter(conditions: Vec<Condition>) -> Search {
    Search {
        filter: conditions,
        ..Search::default()
    }
}

/// The message of an INVALID_ARGUMENT, which must name `key`.
fn refused(result: Result<impl std::fmt::Debug, Error>, key: &str) -> String {
    match result {
        Err(error @ Error::InvalidParameter { .. }) => {
            let message = error.to_string();
            assert!(message.contains(key), "{message} does not name {key}");
            message
        }
        other => panic!("expected INVALID_ARGUMENT naming {key}, got {other:?}"),
    }
}

fn search_refused(search: Search, key: &str) -> String {
    let sqlite = refused(compile_search(&ITEMS, base(), &search, Engine::Sqlite), key);
    refused(
        compile_search(&ITEMS, base(), &search, Engine::Postgres),
        key,
    );
    sqlite
}

fn stat_refused(stat: Stat, key: &str) -> String {
    let sqlite = refused(compile_stat(&ITEMS, base(), &stat, Engine::Sqlite), key);
    refused(compile_stat(&ITEMS, base(), &stat, Engine::Postgres), key);
    sqlite
}

#[test]
fn unknown_keys_and_operators_are_refused() {
    let message = search_refused(
        filter(vec![cond("no_such_field", "eq", json!("x"))]),
        "query.filter",
    );
    assert!(message.contains("no_such_field"), "{message}");
    search_refused(
        Search {
            filter_or: vec![
                cond("name", "eq", json!("x")),
                cond("nope", "eq", json!("x")),
            ],
            ..Search::default()
        },
        "query.filter_or",
    );
    let message = search_refused(
        filter(vec![cond("name", "like", json!("x"))]),
        "query.filter",
    );
    assert!(message.contains("like"), "{message}");
    search_refused(
        filter(vec![cond("name.first", "eq", json!("x"))]),
        "query.filter",
    );
    search_refused(
        filter(vec![cond("tags.", "eq", json!("x"))]),
        "query.filter",
    );
    search_refused(filter(vec![cond("", "eq", json!("x"))]), "query.filter");
}

#[test]
fn values_of_the_wrong_type_are_refused() {
    for (key, operator, value) in [
        ("name", "eq", json!(3)),
        ("name", "in", json!("x")),
        ("name", "contain", json!(true)),
        ("active", "eq", json!("true")),
        ("active", "lt", json!(true)),
        ("score", "eq", json!("3")),
        ("score", "gt", json!(2.5)),
        ("score", "contain", json!("3")),
        ("created_at", "datetime_lt", json!("yesterday")),
        ("created_at", "timediff_gt", json!("now-7y")),
        ("created_at", "eq", json!(12)),
        ("name", "datetime_lt", json!("2024-01-01")),
        ("name", "exists", json!("yes")),
        ("tags", "eq", json!("x")),
        ("required_actions", "contain", json!("x")),
        ("required_actions", "eq", json!(1)),
        ("name", "regex", json!(1)),
        ("score", "regex", json!("1")),
        ("name", "lt", Value::Null),
    ] {
        let message = search_refused(filter(vec![cond(key, operator, value)]), "query.filter");
        assert!(message.contains(key), "{message}");
    }
    // A whole number sent as a double, as the wire's Struct does, is a whole number.
    compile_search(
        &ITEMS,
        base(),
        &filter(vec![cond("score", "eq", json!(3.0))]),
        Engine::Sqlite,
    )
    .unwrap();
}

#[test]
fn caps_are_enforced() {
    search_refused(
        Search {
            page: Some(Page {
                start: 1,
                limit: MAX_PAGE_LIMIT + 1,
            }),
            ..Search::default()
        },
        "page.limit",
    );
    search_refused(
        filter(vec![cond("name", "eq", json!("x")); MAX_CONDITIONS + 1]),
        "query.filter",
    );
    search_refused(
        filter(vec![cond(
            "name",
            "in",
            json!(vec!["x"; MAX_LIST_VALUES + 1]),
        )]),
        "query.filter",
    );
    search_refused(
        filter(vec![cond("name", "eq", json!("x".repeat(1001)))]),
        "query.filter",
    );
    search_refused(
        filter(vec![cond(
            &format!("tags.{}", "a".repeat(300)),
            "eq",
            json!("x"),
        )]),
        "query.filter",
    );
    search_refused(
        filter(vec![cond("name", "regex", json!("a".repeat(201)))]),
        "query.filter",
    );
    search_refused(
        Search {
            sort: vec![
                SortKey {
                    key: "name".into(),
                    desc: false
                };
                MAX_SORT_KEYS + 1
            ],
            ..Search::default()
        },
        "query.sort",
    );
    search_refused(
        Search {
            keyword: Some("k".repeat(1001)),
            ..Search::default()
        },
        "query.keyword",
    );
    stat_refused(
        Stat {
            aggregate: vec![Stage::Limit(1); MAX_STAGES + 1],
            ..Stat::default()
        },
        "query.aggregate",
    );
    stat_refused(Stat::default(), "query.aggregate");
}

#[test]
fn what_is_not_allow_listed_cannot_be_reached() {
    search_refused(
        filter(vec![cond("password", "eq", json!("hunter2"))]),
        "query.filter",
    );
    search_refused(
        filter(vec![cond("password", "exists", json!(true))]),
        "query.filter",
    );
    search_refused(
        Search {
            only: vec!["password".into()],
            ..Search::default()
        },
        "query.only",
    );
    search_refused(
        Search {
            sort: vec![SortKey {
                key: "name; DROP TABLE x".into(),
                desc: false,
            }],
            ..Search::default()
        },
        "query.sort",
    );
    search_refused(
        Search {
            sort: vec![SortKey {
                key: "password".into(),
                desc: false,
            }],
            ..Search::default()
        },
        "query.sort",
    );
    search_refused(
        Search {
            sort: vec![SortKey {
                key: "tags".into(),
                desc: false,
            }],
            ..Search::default()
        },
        "query.sort",
    );
    // Quotes and backslashes in JSON member names are refused; other characters are
    // bound values.
    search_refused(
        filter(vec![cond("tags.a\"b", "eq", json!("x"))]),
        "query.filter",
    );
    search_refused(
        filter(vec![cond("tags.a\\b", "eq", json!("x"))]),
        "query.filter",
    );
    stat_refused(
        Stat {
            distinct: Some("password".into()),
            ..Stat::default()
        },
        "query.distinct",
    );
    for name in ["a b", "x\"); DROP TABLE y; --", "1st", "", "é"] {
        stat_refused(
            Stat {
                aggregate: vec![Stage::Count { name: name.into() }],
                ..Stat::default()
            },
            "query.aggregate.count",
        );
    }
    stat_refused(
        Stat {
            aggregate: vec![Stage::Group {
                keys: vec![GroupKey {
                    key: "password".into(),
                    name: "p".into(),
                    date_format: None,
                }],
                fields: vec![],
            }],
            ..Stat::default()
        },
        "query.aggregate.group",
    );
    stat_refused(
        Stat {
            aggregate: vec![Stage::Project {
                fields: vec![ProjectField {
                    key: "password".into(),
                    name: "p".into(),
                }],
                exclude_keys: false,
            }],
            ..Stat::default()
        },
        "query.aggregate.project",
    );
}

#[test]
fn only_minimal_and_count_only_are_reported() {
    let compiled = compile_search(
        &ITEMS,
        base(),
        &Search {
            only: vec!["name".into(), "tags.team".into(), "tags".into()],
            count_only: true,
            ..Search::default()
        },
        Engine::Sqlite,
    )
    .unwrap();
    assert_eq!(
        compiled.only,
        Some(vec!["name".to_owned(), "tags".to_owned()])
    );
    assert!(compiled.count_only);
    assert!(!compiled.filtered);
    let compiled = compile_search(
        &ITEMS,
        base(),
        &Search {
            minimal: true,
            keyword: Some("x".into()),
            ..Search::default()
        },
        Engine::Sqlite,
    )
    .unwrap();
    assert_eq!(
        compiled.only,
        Some(vec!["id".to_owned(), "name".to_owned()])
    );
    assert!(compiled.filtered);
    let compiled = compile_search(&ITEMS, base(), &Search::default(), Engine::Postgres).unwrap();
    assert_eq!(compiled.only, None);
}

#[test]
fn values_are_bound_never_spliced() {
    let search = Search {
        filter: vec![
            cond("name", "eq", json!("' OR 1=1--")),
            cond("tags.a'b", "contain", json!("%_")),
        ],
        keyword: Some("\"; DROP TABLE query_items; --".into()),
        ..Search::default()
    };
    for (engine, builder) in [
        (Engine::Sqlite, sea_orm::DatabaseBackend::Sqlite),
        (Engine::Postgres, sea_orm::DatabaseBackend::Postgres),
    ] {
        let compiled = compile_search(&ITEMS, base(), &search, engine).unwrap();
        let sql = builder.build(&compiled.rows).sql;
        for fragment in ["OR 1=1", "a'b", "%_", "DROP"] {
            assert!(!sql.contains(fragment), "{fragment} spliced into {sql}");
        }
    }
}

fn item(id: &str, name: &str, state: &str) -> Item {
    Item {
        name: Some(name.into()),
        state: Some(state.into()),
        ..Item::new(id)
    }
}

#[tokio::test]
async fn hostile_values_match_literally() {
    for engine in engines() {
        let db = TestDb::open(engine).await;
        let mut quoted = item("q", "' OR 1=1--", "ENABLED");
        quoted.tags = Some(
            json!({"a'b": "x", "50%": "half"})
                .as_object()
                .unwrap()
                .clone(),
        );
        db.replace(&[
            item("a", "100% sure", "ENABLED"),
            item("b", "1000 sure", "ENABLED"),
            item("c", "a_b", "DISABLED"),
            item("d", "axb", "DISABLED"),
            item("e", "back\\slash", "DISABLED"),
            quoted,
        ])
        .await;
        let ids = |search: Search| {
            let db = &db;
            async move { db.search(&search).await.unwrap().0 }
        };
        assert_eq!(
            ids(filter(vec![cond("name", "contain", json!("%"))])).await,
            ["a"]
        );
        assert_eq!(
            ids(filter(vec![cond("name", "contain", json!("0%"))])).await,
            ["a"]
        );
        assert_eq!(
            ids(filter(vec![cond("name", "contain", json!("_"))])).await,
            ["c"]
        );
        assert_eq!(
            ids(filter(vec![cond("name", "contain", json!("\\"))])).await,
            ["e"]
        );
        assert_eq!(
            ids(filter(vec![cond("name", "eq", json!("' OR 1=1--"))])).await,
            ["q"]
        );
        assert_eq!(
            ids(filter(vec![cond("name", "eq", json!("x' OR '1'='1"))])).await,
            Vec::<String>::new()
        );
        assert_eq!(
            ids(filter(vec![cond("tags.a'b", "eq", json!("x"))])).await,
            ["q"]
        );
        assert_eq!(
            ids(filter(vec![cond("tags.50%", "exists", json!(true))])).await,
            ["q"]
        );
        assert_eq!(
            ids(filter(vec![cond("name", "regex", json!("^a_"))])).await,
            ["c"]
        );
        assert_eq!(
            ids(filter(vec![cond("name", "regex", json!("0% sure$"))])).await,
            ["a"]
        );
        assert_eq!(
            ids(Search {
                keyword: Some("A_".into()),
                ..Search::default()
            })
            .await,
            ["c"]
        );
        let (rows, count) = db.search(&Search::default()).await.unwrap();
        assert_eq!((rows.len(), count), (6, 6), "the table is intact");
    }
}

#[tokio::test]
async fn regex_beyond_literals_is_refused_on_sqlite_only() {
    let search = filter(vec![cond("name", "regex", json!("^(ab|cd)[0-9]+$"))]);
    search_refused(
        filter(vec![cond("name", "regex", json!("(a+)+$"))]),
        "query.filter",
    );
    refused(
        compile_search(&ITEMS, base(), &search, Engine::Sqlite),
        "query.filter",
    );
    compile_search(&ITEMS, base(), &search, Engine::Postgres).unwrap();
    if postgres_url().is_some() {
        let db = TestDb::open(Engine::Postgres).await;
        db.replace(&[
            item("a", "ab12", "X"),
            item("b", "cd", "X"),
            item("c", "xcd1", "X"),
        ])
        .await;
        assert_eq!(db.search(&search).await.unwrap().0, ["a"]);
    }
}

fn group(keys: &[(&str, &str, Option<&str>)], fields: &[(&str, &str, &str)]) -> Stage {
    Stage::Group {
        keys: keys
            .iter()
            .map(|(key, name, date_format)| GroupKey {
                key: (*key).into(),
                name: (*name).into(),
                date_format: date_format.map(Into::into),
            })
            .collect(),
        fields: fields
            .iter()
            .map(|(operator, key, name)| GroupField {
                key: (*key).into(),
                name: (*name).into(),
                operator: (*operator).into(),
            })
            .collect(),
    }
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn known_items() -> Vec<Item> {
    let rows = [
        (
            "u1",
            "Ann",
            "ENABLED",
            3,
            "2024-01-15T10:00:00.123Z",
            "red",
            &["A", "B"][..],
        ),
        (
            "u2",
            "Bob",
            "DISABLED",
            5,
            "2024-01-20T11:30:00Z",
            "blue",
            &["A"][..],
        ),
        (
            "u3",
            "Cid",
            "ENABLED",
            7,
            "2024-02-01T00:00:00Z",
            "red",
            &[][..],
        ),
        (
            "u4",
            "Dee",
            "ENABLED",
            1,
            "2024-02-03T23:59:59.999Z",
            "green",
            &["C", "A"][..],
        ),
        (
            "u5",
            "Eve",
            "PENDING",
            4,
            "2024-03-10T12:00:00Z",
            "red",
            &["B"][..],
        ),
    ];
    rows.iter()
        .map(|(id, name, state, score, created, team, actions)| Item {
            active: Some(*state == "ENABLED"),
            score: Some(*score),
            created_at: Some(at(created)),
            tags: Some(json!({"team": team}).as_object().unwrap().clone()),
            required_actions: Some(actions.iter().map(|a| (*a).to_owned()).collect()),
            ..item(id, name, state)
        })
        .collect()
}

#[tokio::test]
async fn statistics_give_known_answers() {
    for engine in engines() {
        let db = TestDb::open(engine).await;
        db.replace(&known_items()).await;
        let stat = |aggregate: Vec<Stage>| Stat {
            aggregate,
            ..Stat::default()
        };
        // The example of the behaviour spec.
        let (rows, _) = db
            .stat(&stat(vec![group(
                &[("state", "state", None)],
                &[("count", "", "count")],
            )]))
            .await
            .unwrap();
        assert_eq!(
            rows,
            [
                json!({"state": "DISABLED", "count": 1}),
                json!({"state": "ENABLED", "count": 3}),
                json!({"state": "PENDING", "count": 1}),
            ],
            "{engine:?}"
        );
        // Group, sort by count, limit.
        let (rows, _) = db
            .stat(&stat(vec![
                group(
                    &[("tags.team", "team", None)],
                    &[
                        ("count", "", "n"),
                        ("sum", "score", "total"),
                        ("average", "score", "mean"),
                        ("max", "name", "last_name"),
                        ("first", "name", "first_name"),
                        ("push", "score", "scores"),
                        ("add_to_set", "state", "states"),
                    ],
                ),
                Stage::Sort(vec![SortKey {
                    key: "n".into(),
                    desc: true,
                }]),
                Stage::Limit(2),
            ]))
            .await
            .unwrap();
        assert_eq!(
            rows,
            [
                json!({"team": "red", "n": 3, "total": 14, "mean": 4.666667, "last_name": "Eve",
                       "first_name": "Ann", "scores": [3, 7, 4], "states": ["ENABLED", "PENDING"]}),
                json!({"team": "blue", "n": 1, "total": 5, "mean": 5.0, "last_name": "Bob",
                       "first_name": "Bob", "scores": [5], "states": ["DISABLED"]}),
            ],
            "{engine:?}"
        );
        // Dates grouped by month; a count stage; a filter first.
        let (rows, _) = db
            .stat(&stat(vec![group(
                &[("created_at", "month", Some("%Y-%m"))],
                &[
                    ("count", "", "n"),
                    ("last", "created_at", "latest"),
                    ("min", "active", "all_active"),
                ],
            )]))
            .await
            .unwrap();
        assert_eq!(
            rows,
            [
                json!({"month": "2024-01", "n": 2, "latest": "2024-01-20T11:30:00.000Z", "all_active": false}),
                json!({"month": "2024-02", "n": 2, "latest": "2024-02-03T23:59:59.999Z", "all_active": true}),
                json!({"month": "2024-03", "n": 1, "latest": "2024-03-10T12:00:00.000Z", "all_active": false}),
            ],
            "{engine:?}"
        );
        let (rows, _) = db
            .stat(&Stat {
                filter: vec![cond("state", "eq", json!("ENABLED"))],
                aggregate: vec![Stage::Count {
                    name: "total".into(),
                }],
                ..Stat::default()
            })
            .await
            .unwrap();
        assert_eq!(rows, [json!({"total": 3})], "{engine:?}");
        // Unwind, then group, skip and project.
        let (rows, count) = db
            .stat(&Stat {
                aggregate: vec![
                    Stage::Unwind {
                        path: "required_actions".into(),
                    },
                    group(
                        &[("required_actions", "action", None)],
                        &[("push", "id", "users")],
                    ),
                    Stage::Skip(1),
                    Stage::Project {
                        fields: vec![ProjectField {
                            key: "users".into(),
                            name: "who".into(),
                        }],
                        exclude_keys: false,
                    },
                ],
                page: Some(Page { start: 2, limit: 1 }),
                ..Stat::default()
            })
            .await
            .unwrap();
        assert_eq!(rows, [json!({"action": "C", "who": ["u4"]})], "{engine:?}");
        assert_eq!(count, Some(2));
        // Distinct values, as bare JSON values.
        let (rows, _) = db
            .stat(&Stat {
                distinct: Some("required_actions".into()),
                ..Stat::default()
            })
            .await
            .unwrap();
        assert_eq!(rows, [json!("A"), json!("B"), json!("C")], "{engine:?}");
        let (rows, _) = db
            .stat(&Stat {
                distinct: Some("active".into()),
                ..Stat::default()
            })
            .await
            .unwrap();
        assert_eq!(rows, [json!(false), json!(true)], "{engine:?}");
    }
}

#[tokio::test]
async fn datetimes_compare_as_points_in_time() {
    for engine in engines() {
        let db = TestDb::open(engine).await;
        db.replace(&known_items()).await;
        if engine == Engine::Sqlite {
            // SQLite keeps datetimes as text with as many fractional digits as they need,
            // which is why the compiler compares them through julianday().
            let raw = db
                .db
                .query_all(sea_orm::Statement::from_string(
                    sea_orm::DatabaseBackend::Sqlite,
                    "SELECT created_at FROM query_items WHERE id IN ('u1', 'u2') ORDER BY id",
                ))
                .await
                .unwrap()
                .iter()
                .map(|row| row.try_get::<String>("", "created_at").unwrap())
                .collect::<Vec<_>>();
            assert_eq!(
                raw,
                ["2024-01-15T10:00:00.123+00:00", "2024-01-20T11:30:00+00:00"]
            );
        }
        let ids = |condition: Condition| {
            let db = &db;
            async move { db.search(&filter(vec![condition])).await.unwrap().0 }
        };
        assert_eq!(
            ids(cond(
                "created_at",
                "datetime_lt",
                json!("2024-01-20T20:30:00.001+09:00")
            ))
            .await,
            ["u1", "u2"]
        );
        assert_eq!(
            ids(cond(
                "created_at",
                "datetime_gt",
                json!("2024-02-03T23:59:59.998Z")
            ))
            .await,
            ["u4", "u5"]
        );
        assert_eq!(
            ids(cond("created_at", "eq", json!("2024-02-01"))).await,
            ["u3"]
        );
        assert_eq!(
            ids(cond("created_at", "timediff_lt", json!("now-1d")))
                .await
                .len(),
            5
        );
        assert_eq!(
            ids(cond("created_at", "timediff_gt", json!("now-1w")))
                .await
                .len(),
            0
        );
        let (sorted, _) = db
            .search(&Search {
                sort: vec![SortKey {
                    key: "created_at".into(),
                    desc: true,
                }],
                ..Search::default()
            })
            .await
            .unwrap();
        assert_eq!(sorted, ["u5", "u4", "u3", "u2", "u1"]);
    }
}

// Property tests: random data and queries, the SQL against an evaluator written here.

/// A value as the evaluator sees it. Within one key all values share a type, so the
/// order across types only has to put NULL first.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Null,
    Text(String),
    Bool(bool),
    Int(i64),
    Time(DateTime<Utc>),
    Json(Value),
}

fn compare(a: &V, b: &V) -> Ordering {
    match (a, b) {
        (V::Null, V::Null) => Ordering::Equal,
        (V::Null, _) => Ordering::Less,
        (_, V::Null) => Ordering::Greater,
        (V::Text(a), V::Text(b)) => a.cmp(b),
        (V::Bool(a), V::Bool(b)) => a.cmp(b),
        (V::Int(a), V::Int(b)) => a.cmp(b),
        (V::Time(a), V::Time(b)) => a.cmp(b),
        _ => Ordering::Equal,
    }
}

/// A member of a JSON object as text: a string, a number's JSON text, `true`/`false`;
/// NULL for JSON null, an object or an array.
fn json_text(value: &Value) -> V {
    match value {
        Value::String(text) => V::Text(text.clone()),
        Value::Bool(flag) => V::Text(flag.to_string()),
        Value::Number(number) => V::Text(number.to_string()),
        Value::Null | Value::Object(_) | Value::Array(_) => V::Null,
    }
}

/// The member at `path` (`team`, `nested.k`), each segment an object member: a number-like
/// segment names a member, never an array element.
fn member<'v>(tags: &'v Map<String, Value>, path: &str) -> Option<&'v Value> {
    let mut segments = path.split('.');
    let mut at = tags.get(segments.next()?)?;
    for segment in segments {
        at = at.as_object()?.get(segment)?;
    }
    Some(at)
}

/// Whether the key has a value: for a member of `tags`, one that is there and not JSON
/// null, whatever its type.
fn present(item: &Item, key: &str) -> bool {
    match key.strip_prefix("tags.") {
        Some(path) => item
            .tags
            .as_ref()
            .and_then(|tags| member(tags, path))
            .is_some_and(|value| !value.is_null()),
        None => value_of(item, key) != V::Null,
    }
}

fn value_of(item: &Item, key: &str) -> V {
    if let Some(path) = key.strip_prefix("tags.") {
        return item
            .tags
            .as_ref()
            .and_then(|tags| member(tags, path))
            .map_or(V::Null, json_text);
    }
    let or_null = |value: Option<V>| value.unwrap_or(V::Null);
    match key {
        "id" => V::Text(item.id.clone()),
        "name" => or_null(item.name.clone().map(V::Text)),
        "state" => or_null(item.state.clone().map(V::Text)),
        "active" => or_null(item.active.map(V::Bool)),
        "score" => or_null(item.score.map(V::Int)),
        "created_at" => or_null(item.created_at.map(V::Time)),
        "tags" => or_null(item.tags.clone().map(|tags| V::Json(Value::Object(tags)))),
        "required_actions" => or_null(item.required_actions.clone().map(|a| V::Json(json!(a)))),
        _ => unreachable!("{key}"),
    }
}

/// What a condition value means for a key, as the evaluator reads it.
fn expected(key: &str, value: &Value) -> V {
    match (key, value) {
        (_, Value::Null) => V::Null,
        ("created_at", Value::String(text)) => V::Time(parse_time(text)),
        (_, Value::String(text)) => V::Text(text.clone()),
        (_, Value::Bool(flag)) if key.starts_with("tags.") => V::Text(flag.to_string()),
        (_, Value::Bool(flag)) => V::Bool(*flag),
        (_, Value::Number(number)) if key.starts_with("tags.") => V::Text(number.to_string()),
        (_, Value::Number(number)) => V::Int(number.as_i64().unwrap()),
        _ => unreachable!(),
    }
}

fn parse_time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .unwrap_or_else(|_| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc()
        })
}

fn folded_contains(haystack: &V, needle: &str) -> bool {
    match haystack {
        V::Text(text) => crate::folding::reference_contains(text, needle),
        _ => false,
    }
}

fn regex_matches(value: &V, pattern: &str) -> bool {
    let V::Text(text) = value else { return false };
    let (start, rest) = match pattern.strip_prefix('^') {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    let (end, body) = match rest.strip_suffix('$') {
        Some(body) if !body.ends_with('\\') => (true, body),
        _ => (false, rest),
    };
    let literal = body.replace("\\.", ".").replace("\\%", "%");
    match (start, end) {
        (true, true) => *text == literal,
        (true, false) => text.starts_with(&literal),
        (false, true) => text.ends_with(&literal),
        (false, false) => text.contains(&literal),
    }
}

fn holds(item: &Item, condition: &Condition, now: DateTime<Utc>) -> bool {
    let Condition {
        key,
        operator,
        value,
    } = condition;
    let actual = value_of(item, key);
    if key == "required_actions" {
        let elements: Vec<String> = item.required_actions.clone().unwrap_or_default();
        let listed = |value: &Value| match value {
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect(),
            Value::String(one) => vec![one.clone()],
            _ => vec![],
        };
        let has_any = |wanted: Vec<String>| elements.iter().any(|e| wanted.contains(e));
        return match (operator.as_str(), value) {
            ("exists", Value::Bool(flag)) => (actual != V::Null) == *flag,
            ("eq", Value::Null) => actual == V::Null,
            ("not", Value::Null) => actual != V::Null,
            ("eq" | "in", value) => has_any(listed(value)),
            ("not" | "not_in", value) => !has_any(listed(value)),
            _ => unreachable!(),
        };
    }
    let texts = |value: &Value| -> Vec<String> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|v| match expected(key, v) {
                V::Text(text) => text,
                other => panic!("{other:?}"),
            })
            .collect()
    };
    let is_null = actual == V::Null;
    let present = present(item, key);
    let cmp = |wanted: V| {
        if is_null {
            None
        } else {
            Some(compare(&actual, &wanted))
        }
    };
    match operator.as_str() {
        "exists" => present == value.as_bool().unwrap(),
        "eq" | "" => match expected(key, value) {
            V::Null => !present,
            wanted => cmp(wanted) == Some(Ordering::Equal),
        },
        "not" => match expected(key, value) {
            V::Null => present,
            wanted => cmp(wanted) != Some(Ordering::Equal),
        },
        "lt" => cmp(expected(key, value)) == Some(Ordering::Less),
        "lte" => matches!(
            cmp(expected(key, value)),
            Some(Ordering::Less | Ordering::Equal)
        ),
        "gt" => cmp(expected(key, value)) == Some(Ordering::Greater),
        "gte" => matches!(
            cmp(expected(key, value)),
            Some(Ordering::Greater | Ordering::Equal)
        ),
        "datetime_lt" => cmp(expected(key, value)) == Some(Ordering::Less),
        "datetime_gte" => matches!(
            cmp(expected(key, value)),
            Some(Ordering::Greater | Ordering::Equal)
        ),
        "timediff_lt" | "timediff_gte" => {
            let text = value.as_str().unwrap();
            let days: i64 = text
                .trim_start_matches("now-")
                .trim_end_matches('d')
                .parse()
                .unwrap();
            let wanted = V::Time(now - Duration::days(days));
            let order = cmp(wanted);
            if operator == "timediff_lt" {
                order == Some(Ordering::Less)
            } else {
                matches!(order, Some(Ordering::Greater | Ordering::Equal))
            }
        }
        "contain" => folded_contains(&actual, value.as_str().unwrap()),
        "not_contain" => is_null || !folded_contains(&actual, value.as_str().unwrap()),
        "contain_in" => texts(value)
            .iter()
            .any(|needle| folded_contains(&actual, needle)),
        "not_contain_in" => {
            is_null
                || !texts(value)
                    .iter()
                    .any(|needle| folded_contains(&actual, needle))
        }
        "in" | "not_in" => {
            let items = value.as_array().unwrap();
            let member = items.iter().any(|item| match expected(key, item) {
                V::Null => is_null,
                wanted => cmp(wanted) == Some(Ordering::Equal),
            });
            member == (operator == "in")
        }
        "regex" => regex_matches(&actual, value.as_str().unwrap()),
        "regex_in" => value
            .as_array()
            .unwrap()
            .iter()
            .any(|pattern| regex_matches(&actual, pattern.as_str().unwrap())),
        other => unreachable!("{other}"),
    }
}

fn sort_items(items: &mut [Item], sort: &[SortKey]) {
    let mut keys: Vec<SortKey> = sort.to_vec();
    if keys.last().is_none_or(|last| last.key != "id") {
        keys.push(SortKey {
            key: "id".into(),
            desc: false,
        });
    }
    items.sort_by(|a, b| {
        for SortKey { key, desc } in &keys {
            let order = compare(&value_of(a, key), &value_of(b, key));
            let order = if *desc { order.reverse() } else { order };
            if order != Ordering::Equal {
                return order;
            }
        }
        Ordering::Equal
    });
}

fn filtered(
    items: &[Item],
    filter: &[Condition],
    filter_or: &[Condition],
    keyword: Option<&str>,
    now: DateTime<Utc>,
) -> Vec<Item> {
    items
        .iter()
        .filter(|item| filter.iter().all(|c| holds(item, c, now)))
        .filter(|item| filter_or.is_empty() || filter_or.iter().any(|c| holds(item, c, now)))
        .filter(|item| {
            keyword.is_none_or(|keyword| {
                keyword.is_empty()
                    || ["id", "name"]
                        .iter()
                        .any(|key| folded_contains(&value_of(item, key), keyword))
            })
        })
        .cloned()
        .collect()
}

fn evaluate_search(items: &[Item], search: &Search, now: DateTime<Utc>) -> (Vec<String>, i64) {
    let mut matched = filtered(
        items,
        &search.filter,
        &search.filter_or,
        search.keyword.as_deref(),
        now,
    );
    let count = matched.len() as i64;
    sort_items(&mut matched, &search.sort);
    let page = search.page.unwrap_or_default();
    let limit = if page.limit == 0 { 1000 } else { page.limit } as usize;
    let start = page.start.saturating_sub(1) as usize;
    let ids = matched
        .into_iter()
        .skip(start)
        .take(limit)
        .map(|item| item.id)
        .collect();
    (ids, count)
}

/// Fixed points in time the data and the conditions share, so that equality can hit.
fn time_pool() -> Vec<DateTime<Utc>> {
    let now = Utc::now().trunc_subsecs(3);
    (0..6)
        .map(|k| now - Duration::hours(37 * k) - Duration::milliseconds(1234 * k))
        .collect()
}

const WORDS: &[&str] = &[
    "", "a", "A", "ab", "Ab_", "%", "a%b", "_", "é", "É", "x'y", "\\", "zz", "a.b", "ß", "ẞ", "SS",
    "Ö", "o\u{308}", "Σ", "ς", "σ", "İ", "ı", "I", "i", "\u{212A}", "k", "한", "🙂",
];

fn text_strategy() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(WORDS), 0..3)
        .prop_map(|parts| parts.concat())
}

fn item_strategy(times: Vec<DateTime<Utc>>) -> impl Strategy<Value = Item> {
    let tags = proptest::option::of((
        proptest::option::of(proptest::sample::select(&["red", "blue", "Red", "5"][..])),
        proptest::option::of(-2i64..4),
        proptest::option::of(any::<bool>()),
        proptest::option::of(text_strategy()),
        proptest::option::of((
            proptest::sample::select(&[0.5, 0.30000000000000004, 2.0, -1.25][..]),
            proptest::option::of(text_strategy()),
        )),
    ))
    .prop_map(|tags| {
        tags.map(|(team, level, on, nested, more)| {
            let mut map = Map::new();
            if let Some(team) = team {
                map.insert("team".into(), json!(team));
            }
            if let Some(level) = level {
                map.insert("level".into(), json!(level));
            }
            if let Some(on) = on {
                map.insert("on".into(), json!(on));
            }
            if let Some(nested) = nested {
                map.insert("nested".into(), json!({"k": nested}));
                map.insert("a'b".into(), json!("q"));
            }
            // A number that is no integer, an array, and a member named like an index.
            if let Some((ratio, text)) = more {
                map.insert("ratio".into(), json!(ratio));
                map.insert("list".into(), json!(["x", {"k": text.clone()}, text]));
                if let Some(Value::Object(nested)) = map.get_mut("nested") {
                    nested.insert("2".into(), json!(text));
                }
            }
            map
        })
    });
    (
        proptest::option::of(text_strategy()),
        proptest::option::of(proptest::sample::select(
            &["ENABLED", "DISABLED", "PENDING"][..],
        )),
        proptest::option::of(any::<bool>()),
        proptest::option::of(-3i64..6),
        proptest::option::of(proptest::sample::select(times)),
        tags,
        proptest::option::of(proptest::collection::vec(
            proptest::sample::select(&["A", "B", "C"][..]),
            0..3,
        )),
    )
        .prop_map(
            |(name, state, active, score, created_at, tags, actions)| Item {
                id: String::new(),
                name,
                state: state.map(Into::into),
                active,
                score,
                created_at,
                tags,
                required_actions: actions.map(|a| a.into_iter().map(Into::into).collect()),
                password: Some("secret".into()),
            },
        )
}

fn items_strategy(times: Vec<DateTime<Utc>>) -> impl Strategy<Value = Vec<Item>> {
    proptest::collection::vec(item_strategy(times), 0..9).prop_map(|items| {
        items
            .into_iter()
            .enumerate()
            .map(|(index, item)| Item {
                // Unique, and not in index order, so the tiebreak is visible.
                id: format!("{}{index}", ["é", "b", "A", "a_"][index % 4]),
                ..item
            })
            .collect()
    })
}

fn literal_regex() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        proptest::sample::select(&["a", "b", "A", "a.", "%", "zz", ""][..]),
        any::<bool>(),
    )
        .prop_map(|(start, text, end)| {
            format!(
                "{}{}{}",
                if start { "^" } else { "" },
                text.replace('.', "\\."),
                if end { "$" } else { "" }
            )
        })
}

fn time_text(times: Vec<DateTime<Utc>>) -> impl Strategy<Value = String> {
    (proptest::sample::select(times), 0..3usize).prop_map(|(at, form)| match form {
        0 => at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        1 => at
            .with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).unwrap())
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
        _ => (at + Duration::milliseconds(1)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}

fn condition_strategy(times: Vec<DateTime<Utc>>) -> impl Strategy<Value = Condition> {
    let text_keys = &[
        "name",
        "state",
        "id",
        "tags.team",
        "tags.level",
        "tags.on",
        "tags.nested.k",
        "tags.a'b",
        "tags.none",
        "tags.nested",
        "tags.nested.2",
        "tags.list",
        "tags.list.0",
        "tags.ratio",
    ][..];
    let text_value = prop_oneof![
        text_strategy().prop_map(Value::from),
        proptest::sample::select(
            &[
                "ENABLED", "red", "Red", "5", "true", "1", "0.3", "2.0", "ÖZ", "σς"
            ][..]
        )
        .prop_map(Value::from),
    ];
    let text_list = proptest::collection::vec(text_value.clone(), 0..3).prop_map(Value::from);
    let text = (
        proptest::sample::select(text_keys),
        prop_oneof![
            (
                proptest::sample::select(
                    &[
                        "eq",
                        "not",
                        "lt",
                        "lte",
                        "gt",
                        "gte",
                        "contain",
                        "not_contain",
                        ""
                    ][..]
                ),
                text_value.clone()
            ),
            (
                proptest::sample::select(&["in", "not_in", "contain_in", "not_contain_in"][..]),
                text_list
            ),
            (Just("exists"), any::<bool>().prop_map(Value::from)),
            (
                proptest::sample::select(&["eq", "not"][..]),
                Just(Value::Null)
            ),
            (Just("regex"), literal_regex().prop_map(Value::from)),
            (
                Just("regex_in"),
                proptest::collection::vec(literal_regex(), 0..3).prop_map(Value::from)
            ),
        ],
    )
        .prop_map(|(key, (operator, value))| cond(key, operator, value));
    let bool_value = prop_oneof![any::<bool>().prop_map(Value::from), Just(Value::Null)];
    let boolean = prop_oneof![
        (
            proptest::sample::select(&["eq", "not", "exists"][..]),
            any::<bool>().prop_map(Value::from)
        ),
        (
            proptest::sample::select(&["in", "not_in"][..]),
            proptest::collection::vec(bool_value, 0..3).prop_map(Value::from)
        ),
    ]
    .prop_map(|(operator, value)| cond("active", operator, value));
    let int_value = prop_oneof![(-3i64..6).prop_map(Value::from), Just(Value::Null)];
    let integer = prop_oneof![
        (
            proptest::sample::select(&["eq", "not", "lt", "lte", "gt", "gte"][..]),
            (-3i64..6).prop_map(Value::from)
        ),
        (
            proptest::sample::select(&["in", "not_in"][..]),
            proptest::collection::vec(int_value, 0..4).prop_map(Value::from)
        ),
        (Just("exists"), any::<bool>().prop_map(Value::from)),
    ]
    .prop_map(|(operator, value)| cond("score", operator, value));
    let datetime = prop_oneof![
        (
            proptest::sample::select(
                &["eq", "not", "lt", "gte", "datetime_lt", "datetime_gte"][..]
            ),
            time_text(times.clone()).prop_map(Value::from)
        ),
        (
            proptest::sample::select(&["in", "not_in"][..]),
            proptest::collection::vec(time_text(times), 0..3).prop_map(Value::from)
        ),
        (
            proptest::sample::select(&["timediff_lt", "timediff_gte"][..]),
            (0i64..12).prop_map(|days| Value::from(format!("now-{days}d")))
        ),
    ]
    .prop_map(|(operator, value)| cond("created_at", operator, value));
    let actions = prop_oneof![
        (
            proptest::sample::select(&["eq", "not"][..]),
            proptest::sample::select(&["A", "B", "D"][..]).prop_map(Value::from)
        ),
        (
            proptest::sample::select(&["in", "not_in"][..]),
            proptest::collection::vec(
                proptest::sample::select(&["A", "C"][..]).prop_map(Value::from),
                0..3
            )
            .prop_map(Value::from)
        ),
        (Just("exists"), any::<bool>().prop_map(Value::from)),
    ]
    .prop_map(|(operator, value)| cond("required_actions", operator, value));
    prop_oneof![4 => text, 1 => boolean, 2 => integer, 2 => datetime, 1 => actions]
}

const SORTABLE: &[&str] = &[
    "name",
    "state",
    "active",
    "score",
    "created_at",
    "tags.team",
    "tags.level",
    "tags.ratio",
    "tags.nested",
    "id",
];

fn search_strategy(times: Vec<DateTime<Utc>>) -> impl Strategy<Value = Search> {
    (
        proptest::collection::vec(condition_strategy(times.clone()), 0..3),
        proptest::collection::vec(condition_strategy(times), 0..3),
        proptest::collection::vec(
            (proptest::sample::select(SORTABLE), any::<bool>()).prop_map(|(key, desc)| SortKey {
                key: key.into(),
                desc,
            }),
            0..3,
        ),
        proptest::option::of((0u64..5, 0u64..5).prop_map(|(start, limit)| Page { start, limit })),
        proptest::option::of(text_strategy()),
    )
        .prop_map(|(filter, filter_or, sort, page, keyword)| Search {
            filter,
            filter_or,
            sort,
            page,
            keyword,
            ..Search::default()
        })
}

/// Runs `property` on every engine, each with one database for all its cases.
fn check_property<S, F>(strategy: S, property: F)
where
    S: Strategy,
    F: Fn(&TestDb, S::Value) -> futures::future::BoxFuture<'_, Result<(), TestCaseError>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for engine in engines() {
        let db = runtime.block_on(TestDb::open(engine));
        let mut runner = TestRunner::new(Config {
            cases: 64,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&strategy, |value| runtime.block_on(property(&db, value)));
        if let Err(error) = result {
            panic!("{engine:?}: {error}");
        }
    }
}

#[test]
fn searches_agree_with_the_evaluator() {
    let times = time_pool();
    let strategy = (items_strategy(times.clone()), search_strategy(times));
    check_property(strategy, |db, (items, search)| {
        Box::pin(async move {
            db.replace(&items).await;
            let now = Utc::now();
            let got = db
                .search(&search)
                .await
                .map_err(|error| TestCaseError::fail(error.to_string()))?;
            let want = evaluate_search(&items, &search, now);
            prop_assert_eq!(got, want, "{:?}", search);
            Ok(())
        })
    });
}

// The statistics evaluator works on JSON rows, datetimes as canonical text.

type Row = BTreeMap<String, Value>;

fn canonical(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn start_rows(items: &[Item]) -> Vec<Row> {
    let mut items = items.to_vec();
    items.sort_by(|a, b| a.id.cmp(&b.id));
    items
        .iter()
        .map(|item| {
            let mut row = Row::new();
            row.insert("id".into(), json!(item.id));
            row.insert("name".into(), json!(item.name));
            row.insert("state".into(), json!(item.state));
            row.insert("active".into(), json!(item.active));
            row.insert("score".into(), json!(item.score));
            row.insert("created_at".into(), json!(item.created_at.map(canonical)));
            row.insert("tags".into(), json!(item.tags));
            row.insert("required_actions".into(), json!(item.required_actions));
            row
        })
        .collect()
}

fn read(row: &Row, key: &str) -> Value {
    if let Some(value) = row.get(key) {
        return value.clone();
    }
    let path = key.strip_prefix("tags.").unwrap();
    let text = row["tags"]
        .as_object()
        .and_then(|tags| member(tags, path))
        .map_or(V::Null, json_text);
    match text {
        V::Text(text) => json!(text),
        _ => Value::Null,
    }
}

fn json_order(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        (Value::Number(a), Value::Number(b)) => a.as_f64().unwrap().total_cmp(&b.as_f64().unwrap()),
        (Value::String(a), Value::String(b)) => a.cmp(b),
        _ => Ordering::Equal,
    }
}

fn aggregate(operator: &str, values: Vec<Value>) -> Value {
    let present: Vec<Value> = values.iter().filter(|v| !v.is_null()).cloned().collect();
    match operator {
        "count" => json!(values.len()),
        "sum" if present.is_empty() => Value::Null,
        "sum" => json!(present.iter().map(|v| v.as_i64().unwrap()).sum::<i64>()),
        "average" if present.is_empty() => Value::Null,
        "average" => {
            let mean =
                present.iter().map(|v| v.as_f64().unwrap()).sum::<f64>() / present.len() as f64;
            json!((mean * 1e6).round() / 1e6)
        }
        "max" => present
            .into_iter()
            .max_by(json_order)
            .unwrap_or(Value::Null),
        "min" => present
            .into_iter()
            .min_by(json_order)
            .unwrap_or(Value::Null),
        "first" => values.first().cloned().unwrap_or(Value::Null),
        "last" => values.last().cloned().unwrap_or(Value::Null),
        "push" => Value::Array(values),
        "add_to_set" => {
            let mut set = values;
            set.sort_by(json_order);
            set.dedup();
            Value::Array(set)
        }
        other => unreachable!("{other}"),
    }
}

fn evaluate_stage(rows: Vec<Row>, keys: &mut Vec<String>, stage: &Stage) -> Vec<Row> {
    match stage {
        Stage::Group {
            keys: group_keys,
            fields,
        } => {
            let mut groups: Vec<(Vec<Value>, Vec<Row>)> = Vec::new();
            for row in rows {
                let tuple: Vec<Value> = group_keys
                    .iter()
                    .map(|key| {
                        let value = read(&row, &key.key);
                        match (&key.date_format, &value) {
                            (Some(format), Value::String(text)) => {
                                json!(parse_time(text).format(format).to_string())
                            }
                            _ => value,
                        }
                    })
                    .collect();
                match groups.iter_mut().find(|(known, _)| *known == tuple) {
                    Some((_, members)) => members.push(row),
                    None => groups.push((tuple, vec![row])),
                }
            }
            groups.sort_by(|(a, _), (b, _)| {
                a.iter()
                    .zip(b)
                    .map(|(a, b)| json_order(a, b))
                    .find(|order| *order != Ordering::Equal)
                    .unwrap_or(Ordering::Equal)
            });
            *keys = group_keys.iter().map(|key| key.name.clone()).collect();
            groups
                .into_iter()
                .map(|(tuple, members)| {
                    let mut out = Row::new();
                    for (key, value) in group_keys.iter().zip(tuple) {
                        out.insert(key.name.clone(), value);
                    }
                    for field in fields {
                        let values = members.iter().map(|row| read(row, &field.key)).collect();
                        out.insert(field.name.clone(), aggregate(&field.operator, values));
                    }
                    out
                })
                .collect()
        }
        Stage::Count { name } => {
            keys.clear();
            vec![Row::from([(name.clone(), json!(rows.len()))])]
        }
        Stage::Sort(sort) => {
            let mut rows = rows;
            rows.sort_by(|a, b| {
                for SortKey { key, desc } in sort {
                    let order = json_order(&read(a, key), &read(b, key));
                    let order = if *desc { order.reverse() } else { order };
                    if order != Ordering::Equal {
                        return order;
                    }
                }
                Ordering::Equal
            });
            rows
        }
        Stage::Project {
            fields,
            exclude_keys,
        } => {
            if *exclude_keys {
                keys.clear();
            }
            rows.iter()
                .map(|row| {
                    let mut out = Row::new();
                    for key in keys.iter() {
                        out.insert(key.clone(), row[key].clone());
                    }
                    for field in fields {
                        out.insert(field.name.clone(), read(row, &field.key));
                    }
                    out
                })
                .collect()
        }
        Stage::Limit(limit) => rows.into_iter().take(*limit as usize).collect(),
        Stage::Skip(skip) => rows.into_iter().skip(*skip as usize).collect(),
        Stage::Unwind { path } => rows
            .into_iter()
            .flat_map(|row| {
                let elements = row[path].as_array().cloned().unwrap_or_default();
                elements.into_iter().map(move |element| {
                    let mut out = row.clone();
                    out.insert(path.clone(), element);
                    out
                })
            })
            .collect(),
    }
}

fn evaluate_stat(items: &[Item], stat: &Stat, now: DateTime<Utc>) -> (Vec<Value>, Option<i64>) {
    let matched = filtered(
        items,
        &stat.filter,
        &stat.filter_or,
        stat.keyword.as_deref(),
        now,
    );
    let mut rows = start_rows(&matched);
    let mut keys = Vec::new();
    for stage in &stat.aggregate {
        rows = evaluate_stage(rows, &mut keys, stage);
    }
    let total = rows.len() as i64;
    let rows: Vec<Value> = rows.into_iter().map(|row| json!(row)).collect();
    match stat.page {
        Some(page) => {
            let limit = if page.limit == 0 { 1000 } else { page.limit } as usize;
            let start = page.start.saturating_sub(1) as usize;
            (
                rows.into_iter().skip(start).take(limit).collect(),
                Some(total),
            )
        }
        None => (rows, None),
    }
}

/// Numbers equal when they are within rounding of each other (`2` and `2.0` alike).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => {
            (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-9
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(key, value)| b.get(key).is_some_and(|other| same(value, other)))
        }
        _ => a == b,
    }
}

/// A random pipeline over the test resource, with the names it outputs valid.
fn pipeline_strategy() -> impl Strategy<Value = Vec<Stage>> {
    let key = (
        proptest::sample::select(
            &[
                "state",
                "active",
                "tags.team",
                "tags.nested",
                "tags.ratio",
                "score",
                "created_at",
                "required_actions",
            ][..],
        ),
        any::<bool>(),
    )
        .prop_map(|(key, monthly)| {
            let date_format = (key == "created_at")
                .then(|| if monthly { "%Y-%m" } else { "%Y-%m-%d %H" }.to_owned());
            GroupKey {
                key: key.into(),
                name: format!("k_{}", key.replace('.', "_")),
                date_format,
            }
        });
    let field = (
        proptest::sample::select(
            &[
                "count",
                "sum",
                "average",
                "max",
                "min",
                "first",
                "last",
                "push",
                "add_to_set",
            ][..],
        ),
        proptest::sample::select(
            &[
                "score",
                "name",
                "created_at",
                "active",
                "state",
                "tags.level",
            ][..],
        ),
    )
        .prop_filter("sum and average need numbers", |(operator, key)| {
            !matches!(*operator, "sum" | "average") || *key == "score"
        })
        .prop_map(|(operator, key)| GroupField {
            key: key.into(),
            name: format!("{operator}_{}", key.replace('.', "_")),
            operator: operator.into(),
        });
    let group = (
        proptest::collection::vec(key, 0..3),
        proptest::collection::vec(field, 1..4),
    )
        .prop_map(|(mut keys, mut fields)| {
            keys.dedup_by(|a, b| a.name == b.name);
            keys.sort_by(|a, b| a.name.cmp(&b.name));
            keys.dedup_by(|a, b| a.name == b.name);
            fields.sort_by(|a, b| a.name.cmp(&b.name));
            fields.dedup_by(|a, b| a.name == b.name);
            Stage::Group { keys, fields }
        });
    let tail = prop_oneof![
        any::<bool>().prop_map(|desc| Stage::Sort(vec![SortKey {
            key: "first".into(),
            desc
        }])),
        (1u64..4).prop_map(Stage::Limit),
        (0u64..3).prop_map(Stage::Skip),
        Just(Stage::Project {
            fields: vec![ProjectField {
                key: "first".into(),
                name: "renamed".into()
            }],
            exclude_keys: false
        }),
        Just(Stage::Project {
            fields: vec![ProjectField {
                key: "first".into(),
                name: "only".into()
            }],
            exclude_keys: true
        }),
        Just(Stage::Count {
            name: "total".into()
        }),
    ];
    (
        any::<bool>(),
        proptest::option::of(proptest::collection::vec(
            (proptest::sample::select(SORTABLE), any::<bool>()).prop_map(|(key, desc)| SortKey {
                key: key.into(),
                desc,
            }),
            1..3,
        )),
        proptest::option::of((1u64..6).prop_map(Stage::Limit)),
        group,
        proptest::collection::vec(tail, 0..3),
    )
        .prop_map(|(unwind, sort, limit, group, tail)| {
            let mut stages = Vec::new();
            if unwind {
                stages.push(Stage::Unwind {
                    path: "required_actions".into(),
                });
            }
            if let Some(sort) = sort {
                stages.push(Stage::Sort(sort));
            }
            stages.extend(limit);
            // Grouping by the list field needs it unwound; otherwise drop that key.
            let group = match group {
                Stage::Group { keys, fields } => Stage::Group {
                    keys: keys
                        .into_iter()
                        .filter(|key| unwind || key.key != "required_actions")
                        .collect(),
                    fields,
                },
                other => other,
            };
            // The tail stages read `first`: make it the name of the group's first field
            // (sorting only when that holds a scalar).
            let (mut first, scalar) = match &group {
                Stage::Group { fields, .. } => (
                    fields[0].name.clone(),
                    !matches!(fields[0].operator.as_str(), "push" | "add_to_set"),
                ),
                _ => unreachable!(),
            };
            stages.push(group);
            let mut counted = false;
            for stage in tail {
                if counted {
                    break;
                }
                if matches!(stage, Stage::Sort(_)) && !scalar {
                    continue;
                }
                stages.push(match stage {
                    Stage::Sort(keys) => Stage::Sort(
                        keys.into_iter()
                            .map(|key| SortKey {
                                key: first.clone(),
                                desc: key.desc,
                            })
                            .collect(),
                    ),
                    Stage::Project {
                        fields,
                        exclude_keys,
                    } => {
                        let fields = fields
                            .into_iter()
                            .map(|field| ProjectField {
                                key: first.clone(),
                                name: field.name,
                            })
                            .collect::<Vec<_>>();
                        first = fields[0].name.clone();
                        Stage::Project {
                            fields,
                            exclude_keys,
                        }
                    }
                    Stage::Count { name } => {
                        counted = true;
                        Stage::Count { name }
                    }
                    other => other,
                });
            }
            stages
        })
}

#[test]
fn statistics_agree_with_the_evaluator() {
    let times = time_pool();
    let strategy = (
        items_strategy(times.clone()),
        proptest::collection::vec(condition_strategy(times), 0..2),
        pipeline_strategy(),
        proptest::option::of((0u64..4, 0u64..4).prop_map(|(start, limit)| Page { start, limit })),
    );
    check_property(strategy, |db, (items, filter, aggregate, page)| {
        Box::pin(async move {
            db.replace(&items).await;
            let stat = Stat {
                filter,
                aggregate,
                page,
                ..Stat::default()
            };
            let now = Utc::now();
            let (got, got_count) = db
                .stat(&stat)
                .await
                .map_err(|error| TestCaseError::fail(format!("{error}: {stat:?}")))?;
            let (want, want_count) = evaluate_stat(&items, &stat, now);
            prop_assert!(
                got.len() == want.len() && got.iter().zip(&want).all(|(a, b)| same(a, b)),
                "{:?}\n got {:?}\nwant {:?}",
                stat,
                got,
                want
            );
            prop_assert_eq!(got_count, want_count);
            Ok(())
        })
    });
}

#[test]
fn distinct_values_agree_with_the_evaluator() {
    let times = time_pool();
    let strategy = (
        items_strategy(times),
        proptest::sample::select(
            &[
                "name",
                "state",
                "active",
                "score",
                "created_at",
                "tags.team",
                "tags.level",
                "tags.nested",
                "tags.ratio",
                "required_actions",
            ][..],
        ),
    );
    check_property(strategy, |db, (items, key)| {
        Box::pin(async move {
            db.replace(&items).await;
            let stat = Stat {
                distinct: Some(key.into()),
                ..Stat::default()
            };
            let (got, _) = db
                .stat(&stat)
                .await
                .map_err(|error| TestCaseError::fail(error.to_string()))?;
            let mut want: Vec<Value> = Vec::new();
            for row in start_rows(&items) {
                let values = match read(&row, key) {
                    Value::Array(elements) => elements,
                    value => vec![value],
                };
                want.extend(values.into_iter().filter(|value| !value.is_null()));
            }
            want.sort_by(json_order);
            want.dedup();
            prop_assert_eq!(got, want, "{}", key);
            Ok(())
        })
    });
}
