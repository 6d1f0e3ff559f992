//! Conversions between wire messages and domain values, kept in one place.

use prost_types::{ListValue, Struct, Value, value::Kind};

use crate::config::ApiGeneration;
use crate::domain::{
    AuthType, Member, Mfa, MfaState, RequiredAction, ResourceGroup, RoleBinding, RoleType, Tags,
    User, UserState, UserSummary, WorkspaceGroupMember, WorkspaceState, WorkspaceWithRole,
    format_time,
};
use crate::error::{Error, Label, Result};
use crate::pb::current::identity as current;
use crate::pb::identity as pb;
use crate::service::workspaces::MyWorkspaceGroup;

/// A `Struct` as a JSON object; `field` names it in errors (numbers must be finite).
pub fn json_from_struct(
    value: Struct,
    field: &'static str,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    value
        .fields
        .into_iter()
        .map(|(key, value)| Ok((key, json_from_value(value, field)?)))
        .collect()
}

/// A `Value` as JSON; `field` names it in errors.
pub fn json_from_value(value: Value, field: &'static str) -> Result<serde_json::Value> {
    use serde_json::Value as Json;
    Ok(match value.kind {
        None | Some(Kind::NullValue(_)) => Json::Null,
        Some(Kind::BoolValue(b)) => Json::Bool(b),
        Some(Kind::NumberValue(n)) => serde_json::Number::from_f64(n)
            .map(Json::Number)
            .ok_or_else(|| Error::invalid(field, "numbers must be finite"))?,
        Some(Kind::StringValue(s)) => Json::String(s),
        Some(Kind::ListValue(list)) => Json::Array(
            list.values
                .into_iter()
                .map(|v| json_from_value(v, field))
                .collect::<Result<_>>()?,
        ),
        Some(Kind::StructValue(s)) => Json::Object(json_from_struct(s, field)?),
    })
}

/// A JSON object as a `Struct`.
pub fn struct_from_json(map: &serde_json::Map<String, serde_json::Value>) -> Struct {
    Struct {
        fields: map
            .iter()
            .map(|(key, value)| (key.clone(), value_from_json(value)))
            .collect(),
    }
}

fn value_from_json(value: &serde_json::Value) -> Value {
    use serde_json::Value as Json;
    let kind = match value {
        Json::Null => Kind::NullValue(0),
        Json::Bool(b) => Kind::BoolValue(*b),
        Json::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        Json::String(s) => Kind::StringValue(s.clone()),
        Json::Array(items) => Kind::ListValue(ListValue {
            values: items.iter().map(value_from_json).collect(),
        }),
        Json::Object(map) => Kind::StructValue(struct_from_json(map)),
    };
    Value { kind: Some(kind) }
}

/// Tags from a request's `Struct`.
pub fn tags_from_struct(value: Struct) -> Result<Tags> {
    json_from_struct(value, "tags").and_then(Tags::parse)
}

/// A string field of a `Struct` such as `credentials`; absent reads as empty.
pub fn struct_string(
    map: &serde_json::Map<String, serde_json::Value>,
    key: &'static str,
    label: impl Into<Label>,
) -> Result<String> {
    match map.get(key) {
        None | Some(serde_json::Value::Null) => Ok(String::new()),
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(Error::invalid(label, "must be a string")),
    }
}

/// `Some(value)` for a non-empty string field: proto3 strings cannot tell unset from empty,
/// so empty means "not given".
pub fn given(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

/// A user as `UserInfo`, its required actions as `generation` knows them.
pub fn user_info(user: &User, generation: ApiGeneration) -> pb::UserInfo {
    let (role_id, role_type) = match &user.domain_role {
        Some((role_id, _)) if user.is_domain_admin() => (
            role_id.as_str().to_owned(),
            pb::user_info::RoleType::DomainAdmin,
        ),
        _ => (String::new(), pb::user_info::RoleType::User),
    };
    pb::UserInfo {
        user_id: user.user_id.as_str().to_owned(),
        name: user.name.as_str().to_owned(),
        state: match user.state {
            UserState::Enabled => pb::user_info::State::Enabled,
            UserState::Disabled => pb::user_info::State::Disabled,
            UserState::Pending => pb::user_info::State::Pending,
        } as i32,
        email: user
            .email
            .as_ref()
            .map(|email| email.as_str().to_owned())
            .unwrap_or_default(),
        email_verified: user.email_verified,
        auth_type: auth_type(user.auth_type) as i32,
        role_id,
        role_type: role_type as i32,
        mfa: user.mfa.as_ref().map(mfa_info),
        language: user.language.as_str().to_owned(),
        timezone: user.timezone.as_str().to_owned(),
        required_actions: required_actions(&user.required_actions, generation),
        refresh_timeout: user.refresh_timeout,
        tags: Some(struct_from_json(user.tags.as_map())),
        domain_id: user.domain_id.as_str().to_owned(),
        created_at: format_time(user.created_at),
        last_accessed_at: user.last_accessed_at.map(format_time).unwrap_or_default(),
    }
}

/// MFA settings as `Mfa` (never the secret).
fn mfa_info(mfa: &Mfa) -> pb::Mfa {
    pb::Mfa {
        state: match mfa.state {
            MfaState::Enabled => pb::mfa::State::Enabled,
            MfaState::Disabled => pb::mfa::State::Disabled,
        } as i32,
        mfa_type: mfa.mfa_type.as_str().to_owned(),
        options: Some(struct_from_json(mfa.options.as_map())),
    }
}

/// A workspace member as `WorkspaceUserInfo`; with `only`, the user's other fields are left
/// empty (`user_id` and the binding always come).
pub fn member_info(member: &Member, only: Option<&[String]>) -> pb::WorkspaceUserInfo {
    let user = &member.user;
    let mut info = pb::WorkspaceUserInfo {
        user_id: user.user_id.as_str().to_owned(),
        name: user.name.as_str().to_owned(),
        state: match user.state {
            UserState::Enabled => pb::workspace_user_info::State::Enabled,
            UserState::Disabled => pb::workspace_user_info::State::Disabled,
            UserState::Pending => pb::workspace_user_info::State::Pending,
        } as i32,
        email: user
            .email
            .as_ref()
            .map(|email| email.as_str().to_owned())
            .unwrap_or_default(),
        auth_type: auth_type(user.auth_type) as i32,
        role_type: if user.domain_admin {
            pb::workspace_user_info::RoleType::DomainAdmin
        } else {
            pb::workspace_user_info::RoleType::User
        } as i32,
        language: user.language.as_str().to_owned(),
        timezone: user.timezone.as_str().to_owned(),
        api_key_count: 0,
        tags: Some(struct_from_json(user.tags.as_map())),
        role_binding_info: Some(role_binding_info(&member.binding)),
        email_verified: user.email_verified,
        domain_id: user.domain_id.as_str().to_owned(),
        created_at: format_time(user.created_at),
        last_accessed_at: user.last_accessed_at.map(format_time).unwrap_or_default(),
    };
    if let Some(keys) = only {
        keep_only(&mut info, keys);
    }
    info
}

/// Empties the fields of `info` that `keys` (a query's `only`) does not name; `user_id` and
/// the binding always stay.
fn keep_only(info: &mut pb::WorkspaceUserInfo, keys: &[String]) {
    let wanted = |key: &str| keys.iter().any(|k| k == key);
    let pb::WorkspaceUserInfo {
        user_id: _,
        name,
        state,
        email,
        auth_type,
        role_type,
        language,
        timezone,
        api_key_count: _,
        tags,
        role_binding_info: _,
        email_verified,
        domain_id,
        created_at,
        last_accessed_at,
    } = info;
    let clear = |key: &str, reset: &mut dyn FnMut()| {
        if !wanted(key) {
            reset();
        }
    };
    clear("name", &mut || name.clear());
    clear("state", &mut || *state = 0);
    clear("email", &mut || email.clear());
    clear("auth_type", &mut || *auth_type = 0);
    clear("role_type", &mut || *role_type = 0);
    clear("language", &mut || language.clear());
    clear("timezone", &mut || timezone.clear());
    clear("tags", &mut || *tags = None);
    clear("email_verified", &mut || *email_verified = false);
    clear("domain_id", &mut || domain_id.clear());
    clear("created_at", &mut || created_at.clear());
    clear("last_accessed_at", &mut || last_accessed_at.clear());
}

/// A workspace with the caller's role there, as `MyWorkspaceInfo`.
pub fn my_workspace_info(entry: &WorkspaceWithRole) -> pb::MyWorkspaceInfo {
    use pb::my_workspace_info::{RoleType as WireRole, State};
    let WorkspaceWithRole {
        workspace,
        role_id,
        role_name,
        role_type,
    } = entry;
    pb::MyWorkspaceInfo {
        workspace_id: workspace.workspace_id.as_str().to_owned(),
        name: workspace.name.as_str().to_owned(),
        state: match workspace.state {
            WorkspaceState::Enabled => State::Enabled,
            WorkspaceState::Disabled => State::Disabled,
        } as i32,
        role_name: role_name.clone(),
        role_type: match role_type {
            RoleType::DomainAdmin => WireRole::DomainAdmin,
            RoleType::WorkspaceOwner => WireRole::WorkspaceOwner,
            RoleType::WorkspaceMember => WireRole::WorkspaceMember,
        } as i32,
        tags: Some(struct_from_json(workspace.tags.as_map())),
        created_by: workspace.created_by.clone(),
        reference_id: workspace.reference_id.clone().unwrap_or_default(),
        is_managed: workspace.is_managed,
        is_dormant: workspace.is_dormant,
        domain_id: workspace.domain_id.as_str().to_owned(),
        role_id: role_id.as_str().to_owned(),
        created_at: format_time(workspace.created_at),
        last_synced_at: workspace
            .last_synced_at
            .map(format_time)
            .unwrap_or_default(),
        dormant_updated_at: workspace
            .dormant_updated_at
            .map(format_time)
            .unwrap_or_default(),
    }
}

/// A workspace group with its members and the caller's binding, as `MyWorkspaceGroupInfo`.
pub fn my_workspace_group_info(entry: &MyWorkspaceGroup) -> pb::MyWorkspaceGroupInfo {
    let MyWorkspaceGroup {
        group,
        users,
        role_binding,
    } = entry;
    pb::MyWorkspaceGroupInfo {
        workspace_group_id: group.workspace_group_id.as_str().to_owned(),
        name: group.name.as_str().to_owned(),
        users: users.iter().map(user_workspace_group).collect(),
        tags: Some(struct_from_json(group.tags.as_map())),
        role_binding_info: role_binding.as_ref().map(role_binding_info),
        created_by: group.created_by.clone(),
        updated_by: group.updated_by.clone(),
        domain_id: group.domain_id.as_str().to_owned(),
        created_at: format_time(group.created_at),
        updated_at: format_time(group.updated_at),
    }
}

/// A member of a workspace group, as `UserWorkspaceGroup` (whose enums are strings).
fn user_workspace_group(member: &WorkspaceGroupMember) -> pb::UserWorkspaceGroup {
    pb::UserWorkspaceGroup {
        user_id: member.user_id.as_str().to_owned(),
        role_id: member.role_id.as_str().to_owned(),
        role_type: member.role_type.as_str().to_owned(),
        user_name: member.user_name.as_str().to_owned(),
        state: member.state.as_str().to_owned(),
    }
}

/// A role binding as `RoleBindingInfo`.
pub fn role_binding_info(binding: &RoleBinding) -> pb::RoleBindingInfo {
    use pb::role_binding_info::{ResourceGroup as WireGroup, RoleType as WireRole};
    pb::RoleBindingInfo {
        role_binding_id: binding.role_binding_id.as_str().to_owned(),
        role_type: match binding.role_type {
            RoleType::DomainAdmin => WireRole::DomainAdmin,
            RoleType::WorkspaceOwner => WireRole::WorkspaceOwner,
            RoleType::WorkspaceMember => WireRole::WorkspaceMember,
        } as i32,
        resource_group: match binding.resource_group {
            ResourceGroup::Domain => WireGroup::Domain,
            ResourceGroup::Workspace => WireGroup::Workspace,
        } as i32,
        domain_id: binding.domain_id.as_str().to_owned(),
        workspace_group_id: binding
            .workspace_group_id
            .as_ref()
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default(),
        workspace_id: binding.workspace_id.as_str().to_owned(),
        role_id: binding.role_id.as_str().to_owned(),
        user_id: binding.user_id.as_str().to_owned(),
        created_at: format_time(binding.created_at),
    }
}

/// A user as the seeds' `find` shows it.
pub fn user_summary_info(user: &UserSummary) -> pb::UserSummaryInfo {
    let UserSummary {
        user_id,
        name,
        state,
        auth_type: _,
    } = user;
    pb::UserSummaryInfo {
        user_id: user_id.as_str().to_owned(),
        name: name.as_str().to_owned(),
        state: summary_state(*state) as i32,
    }
}

/// A user as the current generation's `find` shows it: with its `auth_type`.
pub fn current_user_summary_info(user: &UserSummary) -> current::UserSummaryInfo {
    let UserSummary {
        user_id,
        name,
        state,
        auth_type: kind,
    } = user;
    current::UserSummaryInfo {
        user_id: user_id.as_str().to_owned(),
        name: name.as_str().to_owned(),
        state: summary_state(*state) as i32,
        auth_type: auth_type(*kind) as i32,
    }
}

/// A summary's state (both generations number it alike).
fn summary_state(state: UserState) -> pb::user_summary_info::State {
    use pb::user_summary_info::State;
    match state {
        UserState::Enabled => State::Enabled,
        UserState::Disabled => State::Disabled,
        UserState::Pending => State::Pending,
    }
}

/// Required actions as `generation` numbers them; the seeds' has no ENFORCE_MFA, so its
/// clients are not shown it (`Token.issue` and `grant` still hold the user to it).
fn required_actions(actions: &[RequiredAction], generation: ApiGeneration) -> Vec<i32> {
    actions
        .iter()
        .filter_map(|action| match generation {
            ApiGeneration::Seeds => match action {
                RequiredAction::UpdatePassword => Some(pb::UserRequiredAction::UpdatePassword),
                RequiredAction::EnforceMfa => None,
            }
            .map(|action| action as i32),
            ApiGeneration::Current => Some(current::UserRequiredAction::from(*action) as i32),
        })
        .collect()
}

impl From<RequiredAction> for current::UserRequiredAction {
    fn from(action: RequiredAction) -> Self {
        match action {
            RequiredAction::UpdatePassword => Self::UpdatePassword,
            RequiredAction::EnforceMfa => Self::EnforceMfa,
        }
    }
}

/// A wire enum from its number; a number the enum does not have is INVALID_ARGUMENT naming
/// `field`.
pub fn wire_enum<E: TryFrom<i32>>(value: i32, field: &'static str) -> Result<E> {
    E::try_from(value).map_err(|_| Error::invalid(field, format!("unknown value {value}")))
}

impl From<current::workspace_user_find_request::State> for Option<UserState> {
    fn from(state: current::workspace_user_find_request::State) -> Self {
        use current::workspace_user_find_request::State;
        match state {
            State::None => None,
            State::Enabled => Some(UserState::Enabled),
            State::Disabled => Some(UserState::Disabled),
            State::Pending => Some(UserState::Pending),
        }
    }
}

impl From<pb::workspace_user_search_query::State> for Option<UserState> {
    fn from(state: pb::workspace_user_search_query::State) -> Self {
        use pb::workspace_user_search_query::State;
        match state {
            State::None => None,
            State::Enabled => Some(UserState::Enabled),
            State::Disabled => Some(UserState::Disabled),
            State::Pending => Some(UserState::Pending),
        }
    }
}

impl From<pb::AuthType> for Option<AuthType> {
    fn from(auth_type: pb::AuthType) -> Self {
        match auth_type {
            pb::AuthType::NoneBackend => None,
            pb::AuthType::Local => Some(AuthType::Local),
            pb::AuthType::External => Some(AuthType::External),
        }
    }
}

/// The wire `AuthType` of a user.
pub fn auth_type(auth_type: AuthType) -> pb::AuthType {
    match auth_type {
        AuthType::Local => pb::AuthType::Local,
        AuthType::External => pb::AuthType::External,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structs_round_trip_through_json() {
        let json = serde_json::json!({
            "team": "cloudforet", "level": 3.5, "on": true, "none": null,
            "list": [1.0, "two", {"three": 3.0}], "nested": {"a": {"b": "c"}}
        });
        let map = json.as_object().unwrap();
        let back = json_from_struct(struct_from_json(map), "tags").unwrap();
        assert_eq!(serde_json::Value::Object(back), json);
    }

    #[test]
    fn non_finite_numbers_are_refused_by_name() {
        let value = Value {
            kind: Some(Kind::NumberValue(f64::NAN)),
        };
        let err = json_from_value(value, "tags").unwrap_err();
        assert!(matches!(err, Error::InvalidParameter { ref key, .. } if key == "tags"));
    }
}
