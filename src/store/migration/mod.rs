//! Schema migrations, applied in order at start-up by `serve` and by every admin command.

use sea_orm_migration::prelude::*;

mod m20261123_000001_initial;
mod m20261124_000002_user_accounts;
mod m20261124_000003_sign_in_throttles;
mod m20261125_000004_familiar_addresses;
mod m20261126_000005_codes_and_secrets;
mod m20261127_000006_workspace_members;
mod m20261128_000007_system_tokens;
mod m20261129_000008_heartbeat;
mod m20261130_000009_folded_text;

/// All migrations of the service, oldest first.
pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_initial::Migration),
            Box::new(m20261124_000002_user_accounts::Migration),
            Box::new(m20261124_000003_sign_in_throttles::Migration),
            Box::new(m20261125_000004_familiar_addresses::Migration),
            Box::new(m20261126_000005_codes_and_secrets::Migration),
            Box::new(m20261127_000006_workspace_members::Migration),
            Box::new(m20261128_000007_system_tokens::Migration),
            Box::new(m20261129_000008_heartbeat::Migration),
            Box::new(m20261130_000009_folded_text::Migration),
        ]
    }
}
