//! The first schema: domains, keys, users, roles, workspaces and groups, bindings, codes.

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000001_initial"
    }
}

fn c(name: &'static str) -> Alias {
    Alias::new(name)
}

fn cascade(
    from: &'static str,
    cols: &[&'static str],
    to: &'static str,
) -> ForeignKeyCreateStatement {
    let mut fk = ForeignKey::create();
    fk.from_tbl(c(from))
        .to_tbl(c(to))
        .on_delete(ForeignKeyAction::Cascade);
    for col in cols {
        fk.from_col(c(col)).to_col(c(col));
    }
    fk
}

fn index(
    table: &'static str,
    name: &'static str,
    cols: &[&'static str],
    unique: bool,
) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(c(table));
    for col in cols {
        index.col(c(col));
    }
    if unique {
        index.unique();
    }
    index
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(c("domains"))
                    .col(string(c("domain_id")).primary_key())
                    .col(string_uniq(c("name")))
                    .col(string(c("state")))
                    .col(json_binary(c("tags")))
                    .col(timestamp_with_time_zone(c("created_at")))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(c("signing_keys"))
                    .col(string(c("kid")).primary_key())
                    .col(string(c("domain_id")))
                    .col(string(c("purpose")))
                    .col(text(c("private_pem")))
                    .col(json_binary(c("public_jwk")))
                    .col(timestamp_with_time_zone(c("created_at")))
                    .foreign_key(&mut cascade("signing_keys", &["domain_id"], "domains"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(c("users"))
                    .col(string(c("domain_id")))
                    .col(string(c("user_id")))
                    .col(string(c("name")))
                    .col(string(c("state")))
                    .col(string(c("email")))
                    .col(boolean(c("email_verified")))
                    .col(string(c("auth_type")))
                    .col(string_null(c("password_hash")))
                    .col(timestamp_with_time_zone_null(c("password_changed_at")))
                    .col(json_binary_null(c("mfa")))
                    .col(string(c("language")))
                    .col(string(c("timezone")))
                    .col(json_binary(c("required_actions")))
                    .col(integer(c("refresh_timeout")))
                    .col(json_binary(c("tags")))
                    .col(timestamp_with_time_zone(c("created_at")))
                    .col(timestamp_with_time_zone_null(c("last_accessed_at")))
                    .primary_key(Index::create().col(c("domain_id")).col(c("user_id")))
                    .foreign_key(&mut cascade("users", &["domain_id"], "domains"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(c("roles"))
                    .col(string(c("domain_id")))
                    .col(string(c("role_id")))
                    .col(string(c("name")))
                    .col(string(c("role_type")))
                    .col(boolean(c("is_managed")))
                    .col(timestamp_with_time_zone(c("created_at")))
                    .primary_key(Index::create().col(c("domain_id")).col(c("role_id")))
                    .foreign_key(&mut cascade("roles", &["domain_id"], "domains"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(c("workspace_groups"))
                    .col(string(c("workspace_group_id")).primary_key())
                    .col(string(c("domain_id")))
                    .col(string(c("name")))
                    .col(json_binary(c("tags")))
                    .col(string(c("created_by")))
                    .col(string(c("updated_by")))
                    .col(timestamp_with_time_zone(c("created_at")))
                    .col(timestamp_with_time_zone(c("updated_at")))
                    .foreign_key(&mut cascade("workspace_groups", &["domain_id"], "domains"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(c("workspaces"))
                    .col(string(c("workspace_id")).primary_key())
                    .col(string(c("domain_id")))
                    .col(string(c("name")))
                    .col(string(c("state")))
                    .col(json_binary(c("tags")))
                    .col(string(c("created_by")))
                    .col(string_null(c("reference_id")))
                    .col(boolean(c("is_managed")))
                    .col(boolean(c("is_dormant")))
                    .col(timestamp_with_time_zone_null(c("dormant_updated_at")))
                    .col(timestamp_with_time_zone_null(c("last_synced_at")))
                    .col(string_null(c("workspace_group_id")))
                    .col(timestamp_with_time_zone(c("created_at")))
                    .foreign_key(&mut cascade("workspaces", &["domain_id"], "domains"))
                    .foreign_key(
                        ForeignKey::create()
                            .from(c("workspaces"), c("workspace_group_id"))
                            .to(c("workspace_groups"), c("workspace_group_id"))
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(c("workspace_group_users"))
                    .col(string(c("workspace_group_id")))
                    .col(string(c("user_id")))
                    .col(string(c("domain_id")))
                    .col(string(c("role_id")))
                    .col(string(c("role_type")))
                    .col(timestamp_with_time_zone(c("created_at")))
                    .primary_key(
                        Index::create()
                            .col(c("workspace_group_id"))
                            .col(c("user_id")),
                    )
                    .foreign_key(&mut cascade(
                        "workspace_group_users",
                        &["workspace_group_id"],
                        "workspace_groups",
                    ))
                    .foreign_key(&mut cascade(
                        "workspace_group_users",
                        &["domain_id", "user_id"],
                        "users",
                    ))
                    .foreign_key(&mut cascade(
                        "workspace_group_users",
                        &["domain_id", "role_id"],
                        "roles",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(c("role_bindings"))
                    .col(string(c("role_binding_id")).primary_key())
                    .col(string(c("domain_id")))
                    .col(string(c("user_id")))
                    .col(string(c("role_id")))
                    .col(string(c("role_type")))
                    .col(string(c("resource_group")))
                    .col(string(c("workspace_id")))
                    .col(string_null(c("workspace_group_id")))
                    .col(timestamp_with_time_zone(c("created_at")))
                    .foreign_key(&mut cascade(
                        "role_bindings",
                        &["domain_id", "user_id"],
                        "users",
                    ))
                    .foreign_key(&mut cascade(
                        "role_bindings",
                        &["domain_id", "role_id"],
                        "roles",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(c("codes"))
                    .col(string(c("code_id")).primary_key())
                    .col(string(c("domain_id")))
                    .col(string(c("user_id")))
                    .col(string(c("purpose")))
                    .col(string(c("code_hash")))
                    .col(json_binary_null(c("payload")))
                    .col(integer(c("attempts")))
                    .col(timestamp_with_time_zone(c("expires_at")))
                    .col(timestamp_with_time_zone_null(c("consumed_at")))
                    .col(timestamp_with_time_zone(c("created_at")))
                    .foreign_key(&mut cascade("codes", &["domain_id", "user_id"], "users"))
                    .to_owned(),
            )
            .await?;
        for statement in [
            index(
                "signing_keys",
                "ix_signing_keys_domain",
                &["domain_id", "purpose"],
                false,
            ),
            index(
                "workspaces",
                "ux_workspaces_domain_name",
                &["domain_id", "name"],
                true,
            ),
            index(
                "workspace_groups",
                "ux_workspace_groups_domain_name",
                &["domain_id", "name"],
                true,
            ),
            index(
                "role_bindings",
                "ux_role_bindings_user_workspace",
                &["domain_id", "user_id", "workspace_id"],
                true,
            ),
            index(
                "role_bindings",
                "ix_role_bindings_workspace",
                &["domain_id", "workspace_id"],
                false,
            ),
            index(
                "codes",
                "ix_codes_user_purpose",
                &["domain_id", "user_id", "purpose"],
                false,
            ),
        ] {
            manager.create_index(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "codes",
            "role_bindings",
            "workspace_group_users",
            "workspaces",
            "workspace_groups",
            "roles",
            "users",
            "signing_keys",
            "domains",
        ] {
            manager
                .drop_table(Table::drop().table(c(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
