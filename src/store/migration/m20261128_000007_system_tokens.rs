//! System tokens: the root key pair(s) that sign them, and a row per issued token, so a
//! revocation reaches every replica through the database.
//!
//! The root keys have a table of their own rather than a purpose in `signing_keys`: those
//! rows belong to a domain (a foreign key) and every process loads them into the keyring
//! whose access keys `Domain.get_public_key` publishes. Kept apart, a root key can never be
//! published or taken for a domain's key, whatever a query forgets to filter.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261128_000007_system_tokens"
    }
}

fn c(name: &'static str) -> Alias {
    Alias::new(name)
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(c("system_keys"))
                    .col(string(c("kid")).primary_key())
                    .col(text(c("private_pem")))
                    .col(json_binary(c("public_jwk")))
                    .col(timestamp_with_time_zone(c("created_at")))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(c("system_tokens"))
                    .col(string(c("jti")).primary_key())
                    .col(string(c("name")))
                    .col(string(c("kid")))
                    .col(timestamp_with_time_zone(c("created_at")))
                    .col(timestamp_with_time_zone(c("expires_at")))
                    .col(timestamp_with_time_zone_null(c("revoked_at")))
                    .foreign_key(
                        ForeignKey::create()
                            .from_tbl(c("system_tokens"))
                            .from_col(c("kid"))
                            .to_tbl(c("system_keys"))
                            .to_col(c("kid")),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["system_tokens", "system_keys"] {
            manager
                .drop_table(Table::drop().table(c(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
