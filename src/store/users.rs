//! Users.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use tracing::instrument;

use super::{
    Connection,
    entities::{role_binding, user},
    on_unique,
};
use crate::domain::{
    AuthType, Mfa, MfaState, NewUser, ResourceGroup, RoleType, Tags, User, UserState,
};
use crate::error::{Error, Result};

/// Default lifetime of a user's refresh tokens, in seconds.
pub const DEFAULT_REFRESH_TIMEOUT: i32 = 10_800;

/// Adds a user to a domain; a taken `user_id` is ALREADY_EXISTS.
#[instrument(skip(conn, new, password_hash), fields(user_id = new.user_id.as_str()))]
pub async fn insert(
    conn: &impl Connection,
    domain_id: &str,
    new: &NewUser,
    password_hash: Option<String>,
    state: UserState,
) -> Result<()> {
    let now = Utc::now();
    let row = user::ActiveModel {
        domain_id: Set(domain_id.to_owned()),
        user_id: Set(new.user_id.as_str().to_owned()),
        name: Set(new
            .name
            .as_ref()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default()),
        state: Set(state.as_str().to_owned()),
        email: Set(new
            .email
            .as_ref()
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default()),
        email_verified: Set(false),
        auth_type: Set(new.auth_type.as_str().to_owned()),
        password_changed_at: Set(None),
        password_hash: Set(password_hash),
        mfa: Set(None),
        language: Set(new
            .language
            .as_ref()
            .map_or("en", |l| l.as_str())
            .to_owned()),
        timezone: Set(new
            .timezone
            .as_ref()
            .map_or("UTC", |t| t.as_str())
            .to_owned()),
        required_actions: Set(serde_json::json!([])),
        refresh_timeout: Set(DEFAULT_REFRESH_TIMEOUT),
        tags: Set(new.tags.to_json()),
        created_at: Set(now),
        last_accessed_at: Set(None),
    };
    user::Entity::insert(row)
        .exec_without_returning(conn)
        .await
        .map_err(|err| on_unique(err, "user_id", new.user_id.as_str()))?;
    Ok(())
}

/// The user, with its domain-wide role binding, if it exists.
#[instrument(skip(conn))]
pub async fn get(conn: &impl Connection, domain_id: &str, user_id: &str) -> Result<Option<User>> {
    let Some(row) = user::Entity::find_by_id((domain_id.to_owned(), user_id.to_owned()))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let domain_binding = role_binding::Entity::find()
        .filter(role_binding::Column::DomainId.eq(domain_id))
        .filter(role_binding::Column::UserId.eq(user_id))
        .filter(role_binding::Column::ResourceGroup.eq(ResourceGroup::Domain.as_str()))
        .one(conn)
        .await?;
    let domain_role = domain_binding
        .map(|b| Ok::<_, Error>((b.role_id, RoleType::parse(&b.role_type)?)))
        .transpose()?;
    from_row(row, domain_role).map(Some)
}

/// The changes a profile update makes; `None` leaves a column as it is.
#[derive(Debug, Default)]
pub struct UserChanges {
    /// New display name.
    pub name: Option<String>,
    /// New e-mail address.
    pub email: Option<String>,
    /// New verification flag.
    pub email_verified: Option<bool>,
    /// New language code.
    pub language: Option<String>,
    /// New time zone.
    pub timezone: Option<String>,
    /// New tags.
    pub tags: Option<Tags>,
    /// New bcrypt hash; sets `password_changed_at` to `changed_at`.
    pub password_hash: Option<(String, DateTime<Utc>)>,
    /// New list of required actions.
    pub required_actions: Option<Vec<String>>,
    /// New state.
    pub state: Option<UserState>,
    /// A sign-in at this time.
    pub last_accessed_at: Option<DateTime<Utc>>,
}

/// Applies `changes` to one user; a user that is gone is NOT_FOUND.
#[instrument(skip(conn, changes))]
pub async fn update(
    conn: &impl Connection,
    domain_id: &str,
    user_id: &str,
    changes: UserChanges,
) -> Result<()> {
    let UserChanges {
        name,
        email,
        email_verified,
        language,
        timezone,
        tags,
        password_hash,
        required_actions,
        state,
        last_accessed_at,
    } = changes;
    let mut row = <user::ActiveModel as Default>::default();
    if let Some(name) = name {
        row.name = Set(name);
    }
    if let Some(email) = email {
        row.email = Set(email);
    }
    if let Some(verified) = email_verified {
        row.email_verified = Set(verified);
    }
    if let Some(language) = language {
        row.language = Set(language);
    }
    if let Some(timezone) = timezone {
        row.timezone = Set(timezone);
    }
    if let Some(tags) = tags {
        row.tags = Set(tags.to_json());
    }
    if let Some((hash, changed_at)) = password_hash {
        row.password_hash = Set(Some(hash));
        row.password_changed_at = Set(Some(changed_at));
    }
    if let Some(actions) = required_actions {
        row.required_actions = Set(serde_json::json!(actions));
    }
    if let Some(state) = state {
        row.state = Set(state.as_str().to_owned());
    }
    if let Some(at) = last_accessed_at {
        row.last_accessed_at = Set(Some(at));
    }
    if !row.is_changed() {
        return Ok(());
    }
    let result = user::Entity::update_many()
        .set(row)
        .filter(user::Column::DomainId.eq(domain_id))
        .filter(user::Column::UserId.eq(user_id))
        .exec(conn)
        .await?;
    if result.rows_affected == 0 {
        return Err(Error::not_found("user_id", user_id));
    }
    Ok(())
}

fn from_row(row: user::Model, domain_role: Option<(String, RoleType)>) -> Result<User> {
    let mfa = row
        .mfa
        .map(|value| -> Result<Mfa> {
            let state = value
                .get("state")
                .and_then(|v| v.as_str())
                .unwrap_or("DISABLED");
            Ok(Mfa {
                state: MfaState::parse(state)?,
                mfa_type: value
                    .get("mfa_type")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned(),
                options: Tags::from_json(value.get("options").cloned().unwrap_or_default()),
            })
        })
        .transpose()?;
    let required_actions = row
        .required_actions
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok(User {
        state: UserState::parse(&row.state)?,
        auth_type: AuthType::parse(&row.auth_type)?,
        domain_id: row.domain_id,
        user_id: row.user_id,
        name: row.name,
        email: row.email,
        email_verified: row.email_verified,
        password_hash: row.password_hash,
        password_changed_at: row.password_changed_at,
        domain_role,
        mfa,
        language: row.language,
        timezone: row.timezone,
        required_actions,
        refresh_timeout: row.refresh_timeout,
        tags: Tags::from_json(row.tags),
        created_at: row.created_at,
        last_accessed_at: row.last_accessed_at,
    })
}
