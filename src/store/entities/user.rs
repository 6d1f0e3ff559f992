//! `users`: one row per user, keyed by `(domain_id, user_id)`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub domain_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    pub name: String,
    pub state: String,
    pub email: String,
    pub email_verified: bool,
    pub auth_type: String,
    pub password_hash: Option<String>,
    pub password_changed_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub mfa: Option<Json>,
    pub language: String,
    pub timezone: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub required_actions: Json,
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
