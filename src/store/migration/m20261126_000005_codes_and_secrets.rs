//! One-time codes: at most one row per user and purpose, enforced by a unique index (a
//! resend replaces the code in place, keeping its count of wrong tries). And the server's
//! own secrets (the key one-time codes are hashed with), shared by every replica.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000005_codes_and_secrets"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // No call made codes before this migration; any row is a leftover with no use.
        manager
            .exec_stmt(Query::delete().from_table(Alias::new("codes")).to_owned())
            .await?;
        if manager.has_index("codes", "ix_codes_user_purpose").await? {
            manager
                .drop_index(
                    Index::drop()
                        .name("ix_codes_user_purpose")
                        .table(Alias::new("codes"))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("ux_codes_user_purpose")
                    .table(Alias::new("codes"))
                    .col(Alias::new("domain_id"))
                    .col(Alias::new("user_id"))
                    .col(Alias::new("purpose"))
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .if_not_exists()
                    .table(Alias::new("server_secrets"))
                    .col(string(Alias::new("name")).primary_key())
                    .col(string(Alias::new("value")))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Alias::new("server_secrets")).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ux_codes_user_purpose")
                    .table(Alias::new("codes"))
                    .to_owned(),
            )
            .await
    }
}
