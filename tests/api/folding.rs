//! Both engines answer alike on text that is not ASCII: `WorkspaceUser.list`'s keyword and
//! `contain` filters, `find`, and `stat` over tag members, against users named in German,
//! Turkish, Greek, Korean and emoji (some given in decomposed form), on SQLite and, when
//! the tests are given one, PostgreSQL, each answer held against the other engine's and
//! against a plain model of the rule: the reference's case-insensitive regular expression
//! of the literal value, which matches character by character under Unicode simple case
//! folding, on NFC text.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use regex_syntax::hir::{ClassUnicode, ClassUnicodeRange};
use serde_json::{Value, json};
use spaceid::pb::core::{Filter, Query, StatisticsAggregate, StatisticsQuery, filter};
use spaceid::pb::identity::{
    WorkspaceUserFindRequest, WorkspaceUserSearchQuery, WorkspaceUserStatQuery,
    grant_token_request::Scope,
};
use spaceid::testing::domain::{Email, Name, Tags};
use unicode_normalization::UnicodeNormalization;

use crate::helpers::*;

/// Whether `needle` occurs in `haystack` as a case-insensitive regular expression of the
/// literal needle finds it: both in NFC, then position by position, each character of the
/// needle matching any character of its simple case folding class, as `(?i)` makes it
/// (regex-syntax's tables, not the server's).
pub fn reference_contains(haystack: &str, needle: &str) -> bool {
    let haystack: Vec<char> = haystack.nfc().collect();
    let classes: Vec<ClassUnicode> = needle
        .nfc()
        .map(|c| {
            let mut class = ClassUnicode::new([ClassUnicodeRange::new(c, c)]);
            class.case_fold_simple();
            class
        })
        .collect();
    if classes.is_empty() {
        return true;
    }
    haystack.windows(classes.len()).any(|window| {
        window.iter().zip(&classes).all(|(c, class)| {
            class
                .ranges()
                .iter()
                .any(|range| (range.start()..=range.end()).contains(c))
        })
    })
}

const OWNER: &str = "owner@acme.test";
const OWNER_ROLE: &str = "managed-workspace-owner";
const MEMBER_ROLE: &str = "managed-workspace-member";

/// A user of the fixture, as given (names are stored in NFC, tags as they are).
struct Person {
    user_id: &'static str,
    name: &'static str,
    member: bool,
    tags: Value,
}

fn person(user_id: &'static str, name: &'static str, member: bool, tags: Value) -> Person {
    Person {
        user_id,
        name,
        member,
        tags,
    }
}

fn people() -> Vec<Person> {
    vec![
        person(
            "jorg@acme.test",
            "Jörg Müller",
            true,
            json!({"team": "Straße", "a": {"b": {"2": {"c": "Öffentlich"}}},
                   "obj": {"b": [1.0, "X"]}, "n": 0.30000000000000004}),
        ),
        person(
            "sofia@acme.test",
            "ΣΟΦΙΑ",
            true,
            json!({"team": "σοφία", "a": {"b": {"2": {"c": "ΣΊΣΥΦΟΣ"}}},
                   "obj": {"b": [1.0, "X"]}, "n": 2.0}),
        ),
        person(
            "ofis@acme.test",
            "İstanbul Ofisi",
            true,
            json!({"team": "İSTANBUL", "a": {"b": [0.0, 1.0, {"c": "Array Element"}]},
                   "obj": ["list"], "n": 0.5}),
        ),
        person(
            "kelvin@acme.test",
            "\u{212A}elvin ſtate",
            true,
            json!({"team": "K\u{212A}", "a": {"b": {"2": {"c": "o\u{308}ffentlich"}}}}),
        ),
        person(
            "korean@acme.test",
            "한국어 사용자",
            true,
            json!({"team": "팀 🙂", "obj": {"b": "한"}}),
        ),
        person("emoji@acme.test", "🙂 Smile Ⅻ", true, json!({"team": "🙂"})),
        person("ünï@acme.test", "Plain Name", true, json!({})),
        person(
            "strasse@acme.test",
            "STRASSE",
            true,
            json!({"team": "STRASSE"}),
        ),
        person("strasse2@acme.test", "STRAẞE", true, json!({"team": "ß"})),
        person(
            "dotless@acme.test",
            "ISPARTA ılık",
            true,
            json!({"team": "ılık"}),
        ),
        person("zwei@acme.test", "Jo\u{308}rg Zwei", true, json!({})),
        person(OWNER, "Test User", true, json!({})),
        person("admin@acme.test", "Test User", false, json!({})),
        person("jorg.find@acme.test", "JÖRG FIND", false, json!({})),
        person("unicode@acme.test", "Ünïcödé", false, json!({})),
        person("asa@acme.test", "A\u{30A}sa", false, json!({})),
        person("izmir@acme.test", "İzmir find", false, json!({})),
        person("sisyphus@acme.test", "ΣΊΣΥΦΟΣ", false, json!({})),
    ]
}

/// A user as stored: what the model searches.
#[derive(Debug, Clone)]
struct Stored {
    user_id: String,
    name: String,
    email: String,
    member: bool,
    tags: Value,
}

fn stored(person: &Person) -> Stored {
    Stored {
        user_id: person.user_id.to_owned(),
        name: Name::parse(person.name).unwrap().as_str().to_owned(),
        email: Email::parse(person.user_id)
            .map(|email| email.as_str().to_owned())
            .unwrap_or_default(),
        member: person.member,
        tags: person.tags.clone(),
    }
}

/// A server with the fixture: the domain `acme`, its workspace, the people, and a token of
/// the workspace's owner.
struct Engine {
    label: &'static str,
    app: TestApp,
    workspace_id: String,
    token: String,
}

async fn engine(label: &'static str, app: TestApp) -> Engine {
    let acme = app.domain("acme").await;
    let workspace_id = app.workspace(&acme, "One").await.workspace_id.into_string();
    for person in people() {
        if person.user_id == acme.admin_id {
            continue;
        }
        let password = (person.user_id == OWNER).then_some(PASSWORD);
        let mut new = new_user(person.user_id, password);
        new.name = Some(Name::parse(person.name).unwrap());
        new.email = Email::parse(person.user_id).ok();
        new.tags = Tags::parse(person.tags.as_object().unwrap().clone()).unwrap();
        spaceid::testing::service::admin::create_user(&app.ctx, &acme.id(), new)
            .await
            .unwrap();
        if person.member {
            let role = if person.user_id == OWNER {
                OWNER_ROLE
            } else {
                MEMBER_ROLE
            };
            app.bind(&acme, person.user_id, role, Some(&workspace_id))
                .await;
        }
    }
    let token = app
        .scoped_token(&acme.domain_id, OWNER, Scope::Workspace, &workspace_id)
        .await
        .unwrap()
        .access_token;
    Engine {
        label,
        app,
        workspace_id,
        token,
    }
}

/// SQLite always; PostgreSQL too when the tests are given a server.
async fn engines() -> Vec<Engine> {
    let mut engines = vec![engine("SQLite", TestApp::spawn_on_sqlite().await).await];
    if let Some(app) = TestApp::spawn_on_postgres_with("", &[]).await {
        engines.push(engine("PostgreSQL", app).await);
    }
    engines
}

/// One question asked of every engine and of the model.
#[derive(Debug, Clone)]
enum Probe {
    /// `list` with `query.keyword`.
    Keyword(String),
    /// `list` with one filter.
    Filter {
        key: &'static str,
        operator: &'static str,
        values: Vec<String>,
    },
    /// `find` with a keyword.
    Find(String),
    /// `stat`: members grouped by a key, counted.
    Group(&'static str),
}

/// What an engine or the model answers.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    /// User ids in order, and the total count.
    Users(Vec<String>, i64),
    /// Groups in order: the key's value (null for none) and the count.
    Groups(Vec<(Value, i64)>),
}

fn condition(key: &str, operator: &str, value: Value) -> Filter {
    let wrapped = to_struct(&json!({ "v": value }));
    Filter {
        key_alias: Some(filter::KeyAlias::K(key.to_owned())),
        value_alias: Some(filter::ValueAlias::V(wrapped.fields["v"].clone())),
        operator_alias: Some(filter::OperatorAlias::O(operator.to_owned())),
    }
}

fn filter_value(operator: &str, values: &[String]) -> Value {
    if operator.ends_with("_in") {
        json!(values)
    } else {
        json!(values[0])
    }
}

impl Engine {
    async fn ask(&self, probe: &Probe) -> Result<Answer, tonic::Status> {
        match probe {
            Probe::Keyword(keyword) => {
                self.list(Query {
                    keyword: keyword.clone(),
                    ..Default::default()
                })
                .await
            }
            Probe::Filter {
                key,
                operator,
                values,
            } => {
                let value = filter_value(operator, values);
                self.list(Query {
                    filter: vec![condition(key, operator, value)],
                    ..Default::default()
                })
                .await
            }
            Probe::Find(keyword) => self.find(keyword).await,
            Probe::Group(key) => self.group(key).await,
        }
    }

    async fn list(&self, query: Query) -> Result<Answer, tonic::Status> {
        let request = WorkspaceUserSearchQuery {
            query: Some(query),
            workspace_id: self.workspace_id.clone(),
            ..Default::default()
        };
        let info = self
            .app
            .workspace_user()
            .await
            .list(authed(request, &self.token))
            .await?
            .into_inner();
        let ids = info.results.iter().map(|u| u.user_id.clone()).collect();
        Ok(Answer::Users(ids, i64::from(info.total_count)))
    }

    async fn find(&self, keyword: &str) -> Result<Answer, tonic::Status> {
        let request = WorkspaceUserFindRequest {
            keyword: keyword.to_owned(),
            workspace_id: self.workspace_id.clone(),
            ..Default::default()
        };
        let info = self
            .app
            .workspace_user()
            .await
            .find(authed(request, &self.token))
            .await?
            .into_inner();
        let ids = info.results.iter().map(|u| u.user_id.clone()).collect();
        Ok(Answer::Users(ids, i64::from(info.total_count)))
    }

    async fn group(&self, key: &str) -> Result<Answer, tonic::Status> {
        let request = WorkspaceUserStatQuery {
            query: Some(StatisticsQuery {
                aggregate: vec![group_by(key)],
                ..Default::default()
            }),
            workspace_id: self.workspace_id.clone(),
        };
        let answer = self
            .app
            .workspace_user()
            .await
            .stat(authed(request, &self.token))
            .await?
            .into_inner();
        let results = json_of_struct(&answer)["results"].clone();
        let groups = results
            .as_array()
            .unwrap()
            .iter()
            .map(|row| (row["k"].clone(), row["count"].as_f64().unwrap() as i64))
            .collect();
        Ok(Answer::Groups(groups))
    }
}

fn group_by(key: &str) -> StatisticsAggregate {
    count_by(key, "k")
}

fn json_of_struct(value: &prost_types::Struct) -> Value {
    fn convert(value: &prost_types::Value) -> Value {
        use prost_types::value::Kind;
        match &value.kind {
            Some(Kind::NumberValue(n)) => json!(n),
            Some(Kind::StringValue(s)) => json!(s),
            Some(Kind::BoolValue(b)) => json!(b),
            Some(Kind::ListValue(list)) => list.values.iter().map(convert).collect(),
            Some(Kind::StructValue(s)) => json_of_struct(s),
            Some(Kind::NullValue(_)) | None => Value::Null,
        }
    }
    Value::Object(
        value
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), convert(v)))
            .collect(),
    )
}

/// The model: the rule, written plainly.
struct Model {
    users: Vec<Stored>,
}

impl Model {
    fn new() -> Self {
        let mut users: Vec<Stored> = people().iter().map(stored).collect();
        users.sort_by(|a, b| a.user_id.cmp(&b.user_id));
        Self { users }
    }

    /// A key's text: a field, or a member of `tags` (each segment an object member) that
    /// holds a string, a number or a boolean.
    fn text(user: &Stored, key: &str) -> Option<String> {
        let Some(path) = key.strip_prefix("tags.") else {
            return Some(match key {
                "user_id" => user.user_id.clone(),
                "name" => user.name.clone(),
                "email" => user.email.clone(),
                other => unreachable!("{other}"),
            });
        };
        let mut at = &user.tags;
        for segment in path.split('.') {
            at = at.as_object()?.get(segment)?;
        }
        match at {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            Value::Bool(flag) => Some(flag.to_string()),
            Value::Null | Value::Array(_) | Value::Object(_) => None,
        }
    }

    fn holds(user: &Stored, key: &str, operator: &str, values: &[String]) -> bool {
        let text = Self::text(user, key);
        // A list for the `_in` operators; one value for the others.
        let values = if operator.ends_with("_in") {
            values
        } else {
            &values[..1]
        };
        let found = text
            .as_ref()
            .is_some_and(|text| values.iter().any(|needle| reference_contains(text, needle)));
        match operator {
            "eq" => text.as_ref() == values.first(),
            "contain" | "contain_in" => found,
            "not_contain" | "not_contain_in" => text.is_none() || !found,
            other => unreachable!("{other}"),
        }
    }

    fn users(&self, member: bool, test: impl Fn(&Stored) -> bool) -> Answer {
        let ids: Vec<String> = self
            .users
            .iter()
            .filter(|user| user.member == member && test(user))
            .map(|user| user.user_id.clone())
            .collect();
        let count = ids.len() as i64;
        Answer::Users(ids, count)
    }

    fn answer(&self, probe: &Probe) -> Answer {
        let any_of = |user: &Stored, keys: &[&str], needle: &str| {
            keys.iter()
                .any(|key| Self::holds(user, key, "contain", &[needle.to_owned()]))
        };
        match probe {
            Probe::Keyword(needle) => self.users(true, |user| {
                any_of(user, &["user_id", "name", "email"], needle)
            }),
            Probe::Filter {
                key,
                operator,
                values,
            } => self.users(true, |user| Self::holds(user, key, operator, values)),
            Probe::Find(needle) => {
                self.users(false, |user| any_of(user, &["user_id", "name"], needle))
            }
            Probe::Group(key) => {
                let mut groups: BTreeMap<Option<String>, i64> = BTreeMap::new();
                for user in self.users.iter().filter(|user| user.member) {
                    *groups.entry(Self::text(user, key)).or_default() += 1;
                }
                Answer::Groups(
                    groups
                        .into_iter()
                        .map(|(value, count)| (json!(value), count))
                        .collect(),
                )
            }
        }
    }
}

/// Every text of the fixture, which needles are cut from.
fn texts() -> Vec<String> {
    let mut texts = Vec::new();
    for person in people() {
        texts.push(person.user_id.to_owned());
        texts.push(person.name.to_owned());
        if let Some(Value::String(team)) = person.tags.get("team") {
            texts.push(team.clone());
        }
    }
    texts.extend(["Öffentlich", "ΣΊΣΥΦΟΣ", "Array Element"].map(String::from));
    texts
}

/// A piece of a fixture text in some case and form, or a few tricky characters.
fn needle() -> impl Strategy<Value = String> {
    let piece = (
        proptest::sample::select(texts()),
        any::<proptest::sample::Index>(),
        1..6usize,
        0..5u8,
    )
        .prop_map(|(text, start, length, form)| {
            let chars: Vec<char> = text.chars().collect();
            let start = start.index(chars.len());
            let piece: String = chars[start..(start + length).min(chars.len())]
                .iter()
                .collect();
            match form {
                0 => piece.to_uppercase(),
                1 => piece.to_lowercase(),
                2 => piece.nfd().collect(),
                3 => piece
                    .chars()
                    .enumerate()
                    .flat_map(|(index, c)| {
                        let flipped: Vec<char> = if index % 2 == 0 {
                            c.to_uppercase().collect()
                        } else {
                            c.to_lowercase().collect()
                        };
                        flipped
                    })
                    .collect(),
                _ => piece,
            }
        });
    let tricky = proptest::collection::vec(
        proptest::sample::select(
            &[
                "ς", "σ", "Σ", "İ", "i", "I", "ı", "ß", "ẞ", "SS", "\u{212A}", "k", "ſ", "s",
                "o\u{308}", "Ö", "한", "🙂", "ⅻ", "2.0", "0.3",
            ][..],
        ),
        1..3,
    )
    .prop_map(|parts| parts.concat());
    prop_oneof![4 => piece, 1 => tricky]
}

fn probe() -> impl Strategy<Value = Probe> {
    let filter = (
        proptest::sample::select(
            &[
                "name",
                "user_id",
                "email",
                "tags.team",
                "tags.a.b.2.c",
                "tags.obj",
                "tags.n",
            ][..],
        ),
        proptest::sample::select(
            &[
                "contain",
                "not_contain",
                "contain_in",
                "not_contain_in",
                "eq",
            ][..],
        ),
        proptest::collection::vec(needle(), 1..3),
    )
        .prop_map(|(key, operator, values)| Probe::Filter {
            key,
            operator,
            values,
        });
    let group = proptest::sample::select(
        &[
            "tags.team",
            "tags.obj",
            "tags.a.b",
            "tags.a.b.2.c",
            "tags.n",
            "name",
        ][..],
    )
    .prop_map(Probe::Group);
    prop_oneof![
        3 => needle().prop_map(Probe::Keyword),
        3 => filter,
        2 => needle().prop_map(Probe::Find),
        1 => group,
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn both_engines_answer_non_ascii_searches_as_the_reference_regex_would() {
    let runtime = runtime();
    let engines = runtime.block_on(engines());
    let model = Model::new();
    let mut runner = TestRunner::new(Config {
        cases: 96,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&probe(), |probe| {
        let want = model.answer(&probe);
        for engine in &engines {
            let got = runtime
                .block_on(engine.ask(&probe))
                .map_err(|status| TestCaseError::fail(format!("{}: {status}", engine.label)))?;
            prop_assert_eq!(&got, &want, "{} answered {:?}", engine.label, probe);
        }
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}

#[test]
fn what_an_outside_probe_found_is_answered_alike() {
    let runtime = runtime();
    let engines = runtime.block_on(engines());
    let users = |ids: &[&str]| {
        let ids: Vec<String> = ids.iter().map(|id| (*id).to_owned()).collect();
        let count = ids.len() as i64;
        Answer::Users(ids, count)
    };
    let keyword = |text: &str| Probe::Keyword(text.to_owned());
    let find = |text: &str| Probe::Find(text.to_owned());
    let tag = |key: &'static str, operator: &'static str, value: &str| Probe::Filter {
        key,
        operator,
        values: vec![value.to_owned()],
    };
    let cases = [
        (
            keyword("JÖRG"),
            users(&["jorg@acme.test", "zwei@acme.test"]),
        ),
        (
            keyword("jörg"),
            users(&["jorg@acme.test", "zwei@acme.test"]),
        ),
        (keyword("jo\u{308}rg m"), users(&["jorg@acme.test"])),
        (keyword("σοφια"), users(&["sofia@acme.test"])),
        (keyword("kelvin ſtate"), users(&["kelvin@acme.test"])),
        (keyword("straße"), users(&["strasse2@acme.test"])),
        (keyword("ISTANBUL"), users(&[])),
        (keyword("İSTANBUL"), users(&["ofis@acme.test"])),
        (keyword("ÜNÏ@"), users(&["ünï@acme.test"])),
        (find("ünïcödé"), users(&["unicode@acme.test"])),
        (find("JÖRG FIND"), users(&["jorg.find@acme.test"])),
        (find("Åsa"), users(&["asa@acme.test"])),
        (find("İzmir find"), users(&["izmir@acme.test"])),
        (find("ΣΊΣΥΦΟΣ"), users(&["sisyphus@acme.test"])),
        (find("σίσυφος"), users(&["sisyphus@acme.test"])),
        (
            find("o\u{308}"),
            users(&["jorg.find@acme.test", "unicode@acme.test"]),
        ),
        (
            tag("tags.a.b.2.c", "contain", "ÖFFENTLICH"),
            users(&["jorg@acme.test", "kelvin@acme.test"]),
        ),
        (tag("tags.a.b.2.c", "eq", "Array Element"), users(&[])),
        (tag("tags.obj", "contain", "b"), users(&[])),
        (
            tag("tags.n", "eq", "0.30000000000000004"),
            users(&["jorg@acme.test"]),
        ),
    ];
    for engine in &engines {
        for (probe, want) in &cases {
            let got = runtime.block_on(engine.ask(probe)).unwrap();
            assert_eq!(&got, want, "{}: {probe:?}", engine.label);
        }
        let groups = runtime
            .block_on(engine.ask(&Probe::Group("tags.obj")))
            .unwrap();
        assert_eq!(
            groups,
            Answer::Groups(vec![(Value::Null, 12)]),
            "{}",
            engine.label
        );
    }
}
