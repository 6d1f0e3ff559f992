//! Client addresses an account has signed in from, so that failures counted against the
//! account from elsewhere do not hold up its owner's usual address.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000004_familiar_addresses"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("familiar_addresses"))
                    .col(string(Alias::new("domain_id")))
                    .col(string(Alias::new("address_key")))
                    .col(timestamp_with_time_zone(Alias::new("last_sign_in_at")))
                    .primary_key(
                        Index::create()
                            .col(Alias::new("domain_id"))
                            .col(Alias::new("address_key")),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(Alias::new("familiar_addresses"))
                    .to_owned(),
            )
            .await
    }
}
