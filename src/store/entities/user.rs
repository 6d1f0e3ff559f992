//! `users`: one row per user, keyed by `(domain_id, user_id)`.

use sea_orm::entity::prelude::*;

use sea_orm::FromJsonQueryResult;
use serde::{Deserialize, Serialize};

use crate::domain::{AuthType, DomainId, MfaState, MfaType, RequiredAction, UserId, UserState};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub domain_id: DomainId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: UserId,
    pub name: String,
    pub state: UserState,
    pub email: String,
    pub email_verified: bool,
    pub auth_type: AuthType,
    pub password_hash: Option<String>,
    pub password_changed_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub mfa: Option<MfaColumn>,
    pub language: String,
    pub timezone: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub required_actions: RequiredActions,
    pub refresh_timeout: i32,
    #[sea_orm(column_type = "JsonBinary")]
    pub tags: Json,
    pub created_at: DateTimeUtc,
    pub last_accessed_at: Option<DateTimeUtc>,
    pub account_id: String,
    pub credential_version: i64,
    pub user_key: String,
    // `user_id`, `name`, `email` and `tags` as searches compare them (`query::fold_text`,
    // `query::fold_json`), written with them.
    pub user_id_folded: String,
    pub name_folded: String,
    pub email_folded: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub tags_folded: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The `mfa` column: a user's multi-factor settings, as JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, FromJsonQueryResult)]
pub struct MfaColumn {
    /// On or off.
    pub state: MfaState,
    /// EMAIL or OTP.
    pub mfa_type: MfaType,
    /// The method's settings, such as `{"email": ...}`.
    #[serde(default)]
    pub options: serde_json::Map<String, serde_json::Value>,
    /// The sealed TOTP secret of MFA type OTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// The `required_actions` column: a JSON array of action names.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize, FromJsonQueryResult)]
pub struct RequiredActions(pub Vec<RequiredAction>);
