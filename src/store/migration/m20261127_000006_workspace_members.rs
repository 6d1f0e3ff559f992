//! Workspace membership at scale: member counts kept by the database itself (so an
//! unfiltered count never scans a workspace), the index that pages members in `user_id`
//! order, and on PostgreSQL trigram indexes for case-insensitive substring searches.
//!
//! A membership binding is a role binding with a workspace role (WORKSPACE_OWNER or
//! WORKSPACE_MEMBER). `workspaces.member_count` counts those in the workspace,
//! `domains.shared_member_count` those bound to `*` (every workspace of the domain). Triggers
//! on `role_bindings` keep both, whatever deletes a binding: a call, a user's deletion (the
//! foreign keys cascade) or a workspace's.

use sea_orm::DatabaseBackend;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000006_workspace_members"
    }
}

const COUNT_COLUMNS: [&str; 2] = [
    "ALTER TABLE workspaces ADD COLUMN member_count BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE domains ADD COLUMN shared_member_count BIGINT NOT NULL DEFAULT 0",
];

const BACKFILL: [&str; 2] = [
    "UPDATE workspaces SET member_count = (SELECT COUNT(*) FROM role_bindings b \
     WHERE b.domain_id = workspaces.domain_id AND b.workspace_id = workspaces.workspace_id \
     AND b.role_type IN ('WORKSPACE_OWNER', 'WORKSPACE_MEMBER'))",
    "UPDATE domains SET shared_member_count = (SELECT COUNT(*) FROM role_bindings b \
     WHERE b.domain_id = domains.domain_id AND b.workspace_id = '*' \
     AND b.role_type IN ('WORKSPACE_OWNER', 'WORKSPACE_MEMBER'))",
];

const INDEXES: [&str; 3] = [
    "DROP INDEX IF EXISTS ix_role_bindings_workspace",
    "CREATE INDEX ix_role_bindings_members ON role_bindings \
     (domain_id, workspace_id, user_id, role_type)",
    "CREATE INDEX ix_users_domain_name ON users (domain_id, name)",
];

const SQLITE_TRIGGERS: [&str; 2] = [
    "CREATE TRIGGER tr_role_bindings_member_added AFTER INSERT ON role_bindings \
     WHEN NEW.role_type IN ('WORKSPACE_OWNER', 'WORKSPACE_MEMBER') BEGIN \
     UPDATE workspaces SET member_count = member_count + 1 \
     WHERE domain_id = NEW.domain_id AND workspace_id = NEW.workspace_id; \
     UPDATE domains SET shared_member_count = shared_member_count + 1 \
     WHERE domain_id = NEW.domain_id AND NEW.workspace_id = '*'; END",
    "CREATE TRIGGER tr_role_bindings_member_removed AFTER DELETE ON role_bindings \
     WHEN OLD.role_type IN ('WORKSPACE_OWNER', 'WORKSPACE_MEMBER') BEGIN \
     UPDATE workspaces SET member_count = member_count - 1 \
     WHERE domain_id = OLD.domain_id AND workspace_id = OLD.workspace_id; \
     UPDATE domains SET shared_member_count = shared_member_count - 1 \
     WHERE domain_id = OLD.domain_id AND OLD.workspace_id = '*'; END",
];

const POSTGRES_TRIGGERS: [&str; 2] = [
    "CREATE OR REPLACE FUNCTION spaceid_count_members() RETURNS trigger \
     LANGUAGE plpgsql AS $$ \
     DECLARE rb role_bindings; delta bigint; \
     BEGIN \
       IF TG_OP = 'INSERT' THEN rb := NEW; delta := 1; ELSE rb := OLD; delta := -1; END IF; \
       IF rb.role_type IN ('WORKSPACE_OWNER', 'WORKSPACE_MEMBER') THEN \
         IF rb.workspace_id = '*' THEN \
           UPDATE domains SET shared_member_count = shared_member_count + delta \
           WHERE domain_id = rb.domain_id; \
         ELSE \
           UPDATE workspaces SET member_count = member_count + delta \
           WHERE domain_id = rb.domain_id AND workspace_id = rb.workspace_id; \
         END IF; \
       END IF; \
       RETURN NULL; \
     END $$",
    "CREATE TRIGGER tr_role_bindings_members AFTER INSERT OR DELETE ON role_bindings \
     FOR EACH ROW EXECUTE FUNCTION spaceid_count_members()",
];

/// PostgreSQL pages members in byte order (`COLLATE "C"`, NULLS FIRST, as the query compiler
/// sorts on both engines) straight off this index, through both the workspace's and the
/// `*` bindings.
const POSTGRES_MEMBER_ORDER: &str = "CREATE INDEX ix_role_bindings_members_c ON role_bindings \
     (domain_id, user_id COLLATE \"C\" NULLS FIRST, workspace_id)";

/// pg_trgm is a trusted extension (PostgreSQL 13+): a database owner may create it. Where it
/// cannot be created, substring searches still work, by scanning. The indexes are on
/// `lower(...)`, the expression `find` searches: an index on the bare column would also
/// answer `=`, and the planner would then probe it for the join of bindings to users.
const POSTGRES_TRIGRAMS: [&str; 2] = [
    "DO $$ BEGIN CREATE EXTENSION IF NOT EXISTS pg_trgm; \
     EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'pg_trgm is not available: %', SQLERRM; END $$",
    "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN \
     EXECUTE 'CREATE INDEX IF NOT EXISTS ix_users_user_id_trgm ON users USING gin (lower(user_id) gin_trgm_ops)'; \
     EXECUTE 'CREATE INDEX IF NOT EXISTS ix_users_name_trgm ON users USING gin (lower(name) gin_trgm_ops)'; \
     END IF; END $$",
];

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let mut statements: Vec<&str> = Vec::new();
        statements.extend(COUNT_COLUMNS);
        statements.extend(BACKFILL);
        statements.extend(INDEXES);
        match backend {
            DatabaseBackend::Postgres => {
                statements.extend(POSTGRES_TRIGGERS);
                statements.push(POSTGRES_MEMBER_ORDER);
                statements.extend(POSTGRES_TRIGRAMS);
            }
            _ => statements.extend(SQLITE_TRIGGERS),
        }
        for statement in statements {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let statements: &[&str] = match manager.get_database_backend() {
            DatabaseBackend::Postgres => &[
                "DROP TRIGGER IF EXISTS tr_role_bindings_members ON role_bindings",
                "DROP FUNCTION IF EXISTS spaceid_count_members()",
                "DROP INDEX IF EXISTS ix_users_user_id_trgm",
                "DROP INDEX IF EXISTS ix_users_name_trgm",
                "DROP INDEX IF EXISTS ix_role_bindings_members_c",
            ],
            _ => &[
                "DROP TRIGGER IF EXISTS tr_role_bindings_member_added",
                "DROP TRIGGER IF EXISTS tr_role_bindings_member_removed",
            ],
        };
        for statement in statements.iter().chain(&[
            "DROP INDEX IF EXISTS ix_users_domain_name",
            "DROP INDEX IF EXISTS ix_role_bindings_members",
            "CREATE INDEX ix_role_bindings_workspace ON role_bindings (domain_id, workspace_id)",
            "ALTER TABLE workspaces DROP COLUMN member_count",
            "ALTER TABLE domains DROP COLUMN shared_member_count",
        ]) {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }
}
