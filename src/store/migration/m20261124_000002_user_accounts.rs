//! Accounts: every user row gets an `account_id` of its own (a re-created user is a new
//! account) and a `credential_version` that every password change, reset and disable
//! increments; tokens carry both. And `user_key`, the lower-cased user id, unique within a
//! domain, so two users cannot differ only by case.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261124_000002_user_accounts"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("users"))
                    .add_column(string(Alias::new("account_id")).default(""))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("users"))
                    .add_column(big_integer(Alias::new("credential_version")).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("users"))
                    .add_column(string(Alias::new("user_key")).default(""))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared("UPDATE users SET user_key = lower(user_id)")
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("users_domain_user_key")
                    .table(Alias::new("users"))
                    .col(Alias::new("domain_id"))
                    .col(Alias::new("user_key"))
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Rows written before this migration get random account ids of the same shape as
        // new ones (32 lowercase hex characters).
        let backfill = match manager.get_database_backend() {
            DatabaseBackend::Sqlite => {
                "UPDATE users SET account_id = lower(hex(randomblob(16))) WHERE account_id = ''"
            }
            _ => {
                "UPDATE users SET account_id = replace(gen_random_uuid()::text, '-', '') \
                 WHERE account_id = ''"
            }
        };
        manager
            .get_connection()
            .execute_unprepared(backfill)
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
