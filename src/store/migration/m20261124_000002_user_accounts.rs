//! Accounts: every user row gets an `account_id` of its own (a re-created user is a new
//! account) and a `credential_version` that every password change, reset and disable
//! increments; tokens carry both. And `user_key`, the lower-cased user id, unique within a
//! domain, so two users cannot differ only by case.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::ConnectionTrait};

use crate::domain::{CredentialStamp, account_key};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261124_000002_user_accounts"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite runs migrations outside a transaction and adds one column per ALTER TABLE,
        // so each step checks whether an interrupted earlier run already made it.
        for column in [
            string(Alias::new("account_id")).default("").to_owned(),
            big_integer(Alias::new("credential_version"))
                .default(0)
                .to_owned(),
            string(Alias::new("user_key")).default("").to_owned(),
        ] {
            let name = column.get_column_name();
            if !manager.has_column("users", &name).await? {
                manager
                    .alter_table(
                        Table::alter()
                            .table(Alias::new("users"))
                            .add_column(column)
                            .to_owned(),
                    )
                    .await?;
            }
        }
        backfill(manager).await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("users_domain_user_key")
                    .table(Alias::new("users"))
                    .col(Alias::new("domain_id"))
                    .col(Alias::new("user_key"))
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("users_domain_user_key")
                    .table(Alias::new("users"))
                    .to_owned(),
            )
            .await?;
        for column in ["user_key", "credential_version", "account_id"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("users"))
                        .drop_column(Alias::new(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// Gives every existing user an account id of its own and the uniqueness key the service
/// computes (`account_key`: NFKC, lower-cased), refusing to go on while two user ids of one
/// domain would share a key.
async fn backfill(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = manager.get_database_backend();
    let select = Query::select()
        .columns([
            Alias::new("domain_id"),
            Alias::new("user_id"),
            Alias::new("account_id"),
        ])
        .from(Alias::new("users"))
        .to_owned();
    let mut rows = Vec::new();
    for row in db.query_all(backend.build(&select)).await? {
        let domain_id: String = row.try_get("", "domain_id")?;
        let user_id: String = row.try_get("", "user_id")?;
        let account_id: String = row.try_get("", "account_id")?;
        rows.push((domain_id, user_id, account_id));
    }
    let mut seen = std::collections::HashMap::new();
    for (domain_id, user_id, _) in &rows {
        let key = (domain_id.clone(), account_key(user_id));
        if let Some(other) = seen.insert(key, user_id.clone()) {
            return Err(DbErr::Migration(format!(
                "users '{other}' and '{user_id}' of domain {domain_id} differ only by case or \
                 compatibility form; delete or rename one of them (spaceid user delete), then \
                 start again"
            )));
        }
    }
    for (domain_id, user_id, account_id) in rows {
        let account_id = if account_id.is_empty() {
            CredentialStamp::new_account().account_id
        } else {
            account_id
        };
        let update = Query::update()
            .table(Alias::new("users"))
            .value(Alias::new("account_id"), account_id)
            .value(Alias::new("user_key"), account_key(&user_id))
            .and_where(Expr::col(Alias::new("domain_id")).eq(domain_id))
            .and_where(Expr::col(Alias::new("user_id")).eq(user_id))
            .to_owned();
        db.execute(backend.build(&update)).await?;
    }
    Ok(())
}
