//! `heartbeat`: one row that the readiness check updates, so it finds out whether the
//! database takes writes (a read-only file or standby, a full disk, a lock held elsewhere)
//! without touching any row a call reads.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261129_000008_heartbeat"
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
                    .table(c("heartbeat"))
                    .col(integer(c("id")).primary_key())
                    .col(big_integer(c("beats")))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(c("heartbeat"))
                    .columns([c("id"), c("beats")])
                    .values_panic([1.into(), 0i64.into()])
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(c("heartbeat")).to_owned())
            .await
    }
}
