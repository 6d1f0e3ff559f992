//! The calls the bench makes: one unary RPC per scenario, built from the data set and the
//! owner's tokens, and the health check every other scenario is compared with.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use prost_types::{Struct, Value, value::Kind};
use tonic::{Request, Status, metadata::MetadataValue, transport::Channel};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use super::seed::{self, Dataset};
use crate::error::{Error, Result};
use crate::pb::core::{
    AggregateGroup, AggregateGroupField, AggregateGroupKey, Filter, Page, Query, Sort,
    StatisticsAggregate, StatisticsQuery, aggregate_group_field, aggregate_group_key, filter,
    statistics_aggregate::AggregateAlias,
};
use crate::pb::identity::{
    IssueTokenRequest, UpdateUserProfileRequest, UserProfileRequest, WorkspaceUserFindRequest,
    WorkspaceUserSearchQuery, WorkspaceUserStatQuery, issue_token_request,
    token_client::TokenClient, user_profile_client::UserProfileClient,
    workspace_user_client::WorkspaceUserClient,
};

/// Rows in a listed page.
const PAGE_SIZE: u32 = 50;
/// The `find` keyword: it matches `user000100` to `user000199` of the large workspace.
const FIND_KEYWORD: &str = "user0001";

/// One kind of call the bench measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scenario {
    /// `grpc.health.v1.Health/Check`: the baseline.
    Health,
    /// `UserProfile.get`.
    ProfileGet,
    /// `WorkspaceUser.list`, a page by `user_id`, in the small workspace.
    ListSmall,
    /// The same in the large workspace.
    ListLarge,
    /// `WorkspaceUser.list` with a filter, in the small workspace.
    ListSmallFiltered,
    /// The same in the large workspace.
    ListLargeFiltered,
    /// `WorkspaceUser.find` with a keyword, from the small workspace.
    Find,
    /// `WorkspaceUser.stat` grouping the large workspace by state.
    Stat,
    /// `Token.issue`: a password sign-in, a different member each call.
    TokenIssue,
    /// `UserProfile.get` while `PASSWORD_CHANGERS` members change their passwords over and
    /// over (each a sign-in and a `UserProfile.update`, two bcrypt computations).
    ProfileGetWhilePasswordsChange,
}

/// Members changing their passwords during `ProfileGetWhilePasswordsChange`, at most.
pub const PASSWORD_CHANGERS: usize = 16;
/// The password a changer switches to, and back from.
const OTHER_PASSWORD: &str = "Bench-Passw0rd-2";

impl Scenario {
    /// Every scenario, in the order they run.
    pub const ALL: [Scenario; 10] = [
        Self::Health,
        Self::ProfileGet,
        Self::ListSmall,
        Self::ListLarge,
        Self::ListSmallFiltered,
        Self::ListLargeFiltered,
        Self::Find,
        Self::Stat,
        Self::TokenIssue,
        Self::ProfileGetWhilePasswordsChange,
    ];

    /// The name `--scenarios` takes.
    pub fn key(self) -> &'static str {
        match self {
            Self::Health => "health",
            Self::ProfileGet => "profile-get",
            Self::ListSmall => "list-small",
            Self::ListLarge => "list-large",
            Self::ListSmallFiltered => "list-small-filtered",
            Self::ListLargeFiltered => "list-large-filtered",
            Self::Find => "find",
            Self::Stat => "stat",
            Self::TokenIssue => "token-issue",
            Self::ProfileGetWhilePasswordsChange => "get-while-pw-change",
        }
    }

    /// What the scenario calls, with the sizes it runs at.
    pub fn describe(self, data: &Dataset) -> String {
        let (small, large) = (data.small.members, data.large.members);
        match self {
            Self::Health => "grpc.health.v1.Health/Check (baseline)".into(),
            Self::ProfileGet => "UserProfile.get".into(),
            Self::ListSmall => {
                format!("WorkspaceUser.list, {PAGE_SIZE} by user_id + total_count, {small} members")
            }
            Self::ListLarge => {
                format!("WorkspaceUser.list, {PAGE_SIZE} by user_id + total_count, {large} members")
            }
            Self::ListSmallFiltered => {
                format!("WorkspaceUser.list, state = DISABLED, {small} members")
            }
            Self::ListLargeFiltered => {
                format!("WorkspaceUser.list, state = DISABLED, {large} members")
            }
            Self::Find => format!("WorkspaceUser.find \"{FIND_KEYWORD}\" outside {small} members"),
            Self::Stat => format!("WorkspaceUser.stat by state, {large} members"),
            Self::TokenIssue => "Token.issue (LOCAL, bcrypt)".into(),
            Self::ProfileGetWhilePasswordsChange => format!(
                "UserProfile.get while {} members change their passwords",
                password_changers(data).len()
            ),
        }
    }

    /// The scenarios a comma-separated list names (`None`: all), the baseline always first.
    pub fn parse_list(list: Option<&str>) -> Result<Vec<Scenario>> {
        let Some(list) = list else {
            return Ok(Self::ALL.to_vec());
        };
        let mut chosen = vec![Self::Health];
        for name in list
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            let scenario = Self::ALL
                .into_iter()
                .find(|scenario| scenario.key() == name)
                .ok_or_else(|| {
                    let known: Vec<_> = Self::ALL.iter().map(|s| s.key()).collect();
                    Error::invalid(
                        "scenarios",
                        format!("unknown scenario {name}; known: {}", known.join(", ")),
                    )
                })?;
            chosen.push(scenario);
        }
        chosen.sort();
        chosen.dedup();
        Ok(chosen)
    }
}

/// What every call needs: the data set and the owner's workspace tokens.
#[derive(Debug, Clone)]
pub struct Target {
    /// The data set.
    pub data: Dataset,
    /// The owner's access token in the large workspace.
    pub large_token: MetadataValue<tonic::metadata::Ascii>,
    /// The owner's access token in the small workspace.
    pub small_token: MetadataValue<tonic::metadata::Ascii>,
}

/// One client of each service on one connection.
#[derive(Debug, Clone)]
pub struct Clients {
    health: HealthClient<Channel>,
    profile: UserProfileClient<Channel>,
    members: WorkspaceUserClient<Channel>,
    token: TokenClient<Channel>,
}

impl Clients {
    /// Clients over `channel`.
    pub fn new(channel: Channel) -> Self {
        Self {
            health: HealthClient::new(channel.clone()),
            profile: UserProfileClient::new(channel.clone()),
            members: WorkspaceUserClient::new(channel.clone()),
            token: TokenClient::new(channel),
        }
    }

    /// Makes call number `n` of `scenario`.
    pub async fn call(
        &mut self,
        scenario: Scenario,
        target: &Target,
        n: u64,
    ) -> std::result::Result<(), Status> {
        let large = || target.large_token.clone();
        let small = || target.small_token.clone();
        match scenario {
            Scenario::Health => {
                let request = HealthCheckRequest {
                    service: String::new(),
                };
                self.health.check(request).await?;
            }
            Scenario::ProfileGet | Scenario::ProfileGetWhilePasswordsChange => {
                let request = UserProfileRequest::default();
                self.profile.get(authed(request, large())).await?;
            }
            Scenario::ListSmall => {
                self.members.list(authed(page(None), small())).await?;
            }
            Scenario::ListLarge => {
                self.members.list(authed(page(None), large())).await?;
            }
            Scenario::ListSmallFiltered => {
                let request = page(Some(disabled()));
                self.members.list(authed(request, small())).await?;
            }
            Scenario::ListLargeFiltered => {
                let request = page(Some(disabled()));
                self.members.list(authed(request, large())).await?;
            }
            Scenario::Find => {
                let request = WorkspaceUserFindRequest {
                    keyword: FIND_KEYWORD.into(),
                    state: 0,
                    auth_type: 0,
                    page: Some(Page {
                        start: 1,
                        limit: PAGE_SIZE,
                    }),
                    workspace_id: String::new(),
                };
                self.members.find(authed(request, small())).await?;
            }
            Scenario::Stat => {
                let request = WorkspaceUserStatQuery {
                    query: Some(StatisticsQuery {
                        aggregate: vec![group_by_state()],
                        ..StatisticsQuery::default()
                    }),
                    workspace_id: String::new(),
                };
                self.members.stat(authed(request, large())).await?;
            }
            Scenario::TokenIssue => {
                let user_id = enabled_member(n, target.data.large.members.saturating_sub(1));
                let request = sign_in(target.data.domain_id.as_str(), &user_id);
                self.token.issue(request).await?;
            }
        }
        Ok(())
    }
}

/// The members that change their passwords: the enabled ones among the first of the small
/// workspace, which no other scenario signs in.
pub fn password_changers(data: &Dataset) -> Vec<String> {
    (0..data.small.members.saturating_sub(1))
        .filter(|&index| seed::member_state(index) == crate::domain::UserState::Enabled)
        .take(PASSWORD_CHANGERS)
        .map(seed::small_member_id)
        .collect()
}

/// Changes `user_id`'s password back and forth until `stop` is set, counting each change
/// in `changed` and each failed call in `errors`; leaves the bench password in place.
pub async fn change_passwords(
    mut clients: Clients,
    domain_id: String,
    user_id: String,
    stop: Arc<AtomicBool>,
    changed: Arc<AtomicU64>,
) -> BTreeMap<String, u64> {
    let mut errors = BTreeMap::new();
    let mut current = seed::PASSWORD;
    let mut first = true;
    loop {
        let done = stop.load(Ordering::Relaxed);
        if done && current == seed::PASSWORD {
            return errors;
        }
        let next = if current == seed::PASSWORD {
            OTHER_PASSWORD
        } else {
            seed::PASSWORD
        };
        let outcome = clients
            .change_password(&domain_id, &user_id, current, next)
            .await;
        match outcome {
            Ok(()) => {
                changed.fetch_add(1, Ordering::Relaxed);
                current = next;
            }
            // An earlier run stopped half-way and left the other password.
            Err(status) if first && status.code() == tonic::Code::Unauthenticated => {
                current = next;
            }
            Err(status) => {
                *errors
                    .entry(super::load::code_name(status.code()))
                    .or_default() += 1;
                if done {
                    return errors;
                }
            }
        }
        first = false;
    }
}

/// A LOCAL sign-in of `user_id` with the bench password.
pub fn sign_in(domain_id: &str, user_id: &str) -> IssueTokenRequest {
    sign_in_with(domain_id, user_id, seed::PASSWORD)
}

/// A LOCAL sign-in of `user_id` with `password`.
fn sign_in_with(domain_id: &str, user_id: &str, password: &str) -> IssueTokenRequest {
    let text = |text: &str| Value {
        kind: Some(Kind::StringValue(text.to_owned())),
    };
    let fields = BTreeMap::from([
        ("user_id".to_owned(), text(user_id)),
        ("password".to_owned(), text(password)),
    ]);
    IssueTokenRequest {
        credentials: Some(Struct { fields }),
        auth_type: issue_token_request::AuthType::Local as i32,
        timeout: 0,
        verify_code: String::new(),
        domain_id: domain_id.to_owned(),
    }
}

impl Clients {
    /// Signs `user_id` in with `current` and changes its password to `next`.
    async fn change_password(
        &mut self,
        domain_id: &str,
        user_id: &str,
        current: &str,
        next: &str,
    ) -> std::result::Result<(), Status> {
        let signed_in = self
            .token
            .issue(sign_in_with(domain_id, user_id, current))
            .await?
            .into_inner();
        let token: MetadataValue<tonic::metadata::Ascii> = signed_in
            .access_token
            .parse()
            .map_err(|_| Status::internal("the access token is not valid metadata"))?;
        let request = UpdateUserProfileRequest {
            password: next.to_owned(),
            ..UpdateUserProfileRequest::default()
        };
        self.profile.update(authed(request, token)).await?;
        Ok(())
    }
}

/// The `n`th enabled member of the large workspace, going round its `members` (the owner
/// when it has none). Each call signs in another user: sign-ins of one user from one
/// address are let through one at a time.
fn enabled_member(n: u64, members: u64) -> String {
    let enabled = members - members / 10;
    if enabled == 0 {
        return seed::OWNER_ID.to_owned();
    }
    // Nine in ten indexes are enabled: skip every tenth (see `seed::member_state`).
    let k = n % enabled;
    let index = k / 9 * 10 + k % 9;
    debug_assert_eq!(seed::member_state(index), crate::domain::UserState::Enabled);
    seed::large_member_id(index)
}

fn authed<T>(message: T, token: MetadataValue<tonic::metadata::Ascii>) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("token", token);
    request
}

/// A page of `PAGE_SIZE` members by `user_id`, with the total count.
fn page(filter: Option<Filter>) -> WorkspaceUserSearchQuery {
    WorkspaceUserSearchQuery {
        query: Some(Query {
            filter: filter.into_iter().collect(),
            sort: vec![Sort {
                key: "user_id".into(),
                desc: false,
            }],
            page: Some(Page {
                start: 1,
                limit: PAGE_SIZE,
            }),
            ..Query::default()
        }),
        ..WorkspaceUserSearchQuery::default()
    }
}

fn disabled() -> Filter {
    Filter {
        key_alias: Some(filter::KeyAlias::K("state".into())),
        value_alias: Some(filter::ValueAlias::V(Value {
            kind: Some(Kind::StringValue("DISABLED".into())),
        })),
        operator_alias: Some(filter::OperatorAlias::O("eq".into())),
    }
}

fn group_by_state() -> StatisticsAggregate {
    StatisticsAggregate {
        aggregate_alias: Some(AggregateAlias::Group(AggregateGroup {
            keys: vec![AggregateGroupKey {
                key_alias: Some(aggregate_group_key::KeyAlias::Key("state".into())),
                name_alias: Some(aggregate_group_key::NameAlias::Name("state".into())),
                date_format: String::new(),
            }],
            fields: vec![AggregateGroupField {
                key_alias: None,
                name_alias: Some(aggregate_group_field::NameAlias::Name("count".into())),
                operator_alias: Some(aggregate_group_field::OperatorAlias::Operator(
                    "count".into(),
                )),
                fields: vec![],
                conditions: vec![],
            }],
        })),
    }
}
