//! Failed sign-ins in a row, per account name as typed (known or not), so throttling holds
//! across every replica that shares the database.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261124_000003_sign_in_throttles"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("sign_in_throttles"))
                    .col(string(Alias::new("domain_id")))
                    .col(string(Alias::new("user_key")))
                    .col(integer(Alias::new("failures")))
                    .col(timestamp_with_time_zone(Alias::new("next_attempt_at")))
                    .primary_key(
                        Index::create()
                            .col(Alias::new("domain_id"))
                            .col(Alias::new("user_key")),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(Alias::new("sign_in_throttles"))
                    .to_owned(),
            )
            .await
    }
}
