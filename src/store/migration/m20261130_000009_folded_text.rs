//! Folded text for searches: `users` gets `user_id_folded`, `name_folded`, `email_folded`
//! and `tags_folded`, each its column as `keyword`, `find` and the `contain` operators
//! compare it (`query::fold_text` and `query::fold_json`: NFC, then Unicode simple case
//! folding). Neither database folds text that way, so the service computes them: here for
//! the users there are, in `store` on every write after. On PostgreSQL the trigram indexes
//! that answer `find` move from `lower(user_id)` and `lower(name)` to the folded columns.

use sea_orm::{DatabaseBackend, Statement};
use sea_orm_migration::{prelude::*, schema::*, sea_orm::ConnectionTrait};

use crate::query::{fold_json, fold_text};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000009_folded_text"
    }
}

/// Users folded per statement: 6 bound values each, far below either engine's limit.
const BATCH: usize = 500;

const TEXT_COLUMNS: [&str; 3] = ["user_id_folded", "name_folded", "email_folded"];

/// pg_trgm may be missing (it is optional, see `m20261127_000006_workspace_members`); then
/// `find` scans, as before.
const POSTGRES_TRIGRAMS_UP: [&str; 3] = [
    "DROP INDEX IF EXISTS ix_users_user_id_trgm",
    "DROP INDEX IF EXISTS ix_users_name_trgm",
    "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN \
     EXECUTE 'CREATE INDEX IF NOT EXISTS ix_users_user_id_folded_trgm ON users USING gin (user_id_folded gin_trgm_ops)'; \
     EXECUTE 'CREATE INDEX IF NOT EXISTS ix_users_name_folded_trgm ON users USING gin (name_folded gin_trgm_ops)'; \
     END IF; END $$",
];

const POSTGRES_TRIGRAMS_DOWN: [&str; 3] = [
    "DROP INDEX IF EXISTS ix_users_user_id_folded_trgm",
    "DROP INDEX IF EXISTS ix_users_name_folded_trgm",
    "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN \
     EXECUTE 'CREATE INDEX IF NOT EXISTS ix_users_user_id_trgm ON users USING gin (lower(user_id) gin_trgm_ops)'; \
     EXECUTE 'CREATE INDEX IF NOT EXISTS ix_users_name_trgm ON users USING gin (lower(name) gin_trgm_ops)'; \
     END IF; END $$",
];

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite runs migrations outside a transaction, so each column is added only if an
        // interrupted earlier run did not add it; the backfill redoes every row.
        let mut columns: Vec<ColumnDef> = TEXT_COLUMNS
            .iter()
            .map(|name| string(Alias::new(*name)).default("").to_owned())
            .collect();
        columns.push(
            json_binary(Alias::new("tags_folded"))
                .default("{}")
                .to_owned(),
        );
        for column in columns {
            if !manager
                .has_column("users", &column.get_column_name())
                .await?
            {
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
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            for statement in POSTGRES_TRIGRAMS_UP {
                manager
                    .get_connection()
                    .execute_unprepared(statement)
                    .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            for statement in POSTGRES_TRIGRAMS_DOWN {
                manager
                    .get_connection()
                    .execute_unprepared(statement)
                    .await?;
            }
        }
        for column in TEXT_COLUMNS.into_iter().chain(["tags_folded"]) {
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

/// One user's searchable columns as stored.
struct Stored {
    domain_id: String,
    user_id: String,
    name: String,
    email: String,
    tags: serde_json::Value,
}

/// Folds every user's columns, `BATCH` users at a time in key order, so that neither
/// memory nor a statement grows with the table.
async fn backfill(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = manager.get_database_backend();
    let mut after: Option<(String, String)> = None;
    loop {
        let rows = page(manager, after.as_ref()).await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = Some((last.domain_id.clone(), last.user_id.clone()));
        db.execute(update(backend, &rows)).await?;
        if rows.len() < BATCH {
            return Ok(());
        }
    }
}

/// The next `BATCH` users after the key `after`, in key order.
async fn page(
    manager: &SchemaManager<'_>,
    after: Option<&(String, String)>,
) -> Result<Vec<Stored>, DbErr> {
    let mut select = Query::select();
    select
        .columns(["domain_id", "user_id", "name", "email", "tags"].map(Alias::new))
        .from(Alias::new("users"))
        .order_by(Alias::new("domain_id"), Order::Asc)
        .order_by(Alias::new("user_id"), Order::Asc)
        .limit(BATCH as u64);
    if let Some((domain_id, user_id)) = after {
        select.cond_where(
            Cond::any()
                .add(Expr::col(Alias::new("domain_id")).gt(domain_id.as_str()))
                .add(
                    Cond::all()
                        .add(Expr::col(Alias::new("domain_id")).eq(domain_id.as_str()))
                        .add(Expr::col(Alias::new("user_id")).gt(user_id.as_str())),
                ),
        );
    }
    let db = manager.get_connection();
    let mut rows = Vec::new();
    for row in db
        .query_all(manager.get_database_backend().build(&select))
        .await?
    {
        rows.push(Stored {
            domain_id: row.try_get("", "domain_id")?,
            user_id: row.try_get("", "user_id")?,
            name: row.try_get("", "name")?,
            email: row.try_get("", "email")?,
            tags: row.try_get("", "tags")?,
        });
    }
    Ok(rows)
}

/// One UPDATE that writes the folded columns of `rows`, joined to a VALUES list (whose
/// columns both engines name `column1`, `column2`, ...).
fn update(backend: DatabaseBackend, rows: &[Stored]) -> Statement {
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(rows.len() * 6);
    let mut tuples = Vec::with_capacity(rows.len());
    for row in rows {
        let mut marks = Vec::with_capacity(6);
        for value in [
            row.domain_id.clone().into(),
            row.user_id.clone().into(),
            fold_text(&row.user_id).into(),
            fold_text(&row.name).into(),
            fold_text(&row.email).into(),
            sea_orm::Value::Json(Some(Box::new(fold_json(&row.tags)))),
        ] {
            values.push(value);
            marks.push(match backend {
                DatabaseBackend::Postgres => format!("${}", values.len()),
                _ => "?".to_owned(),
            });
        }
        tuples.push(format!("({})", marks.join(", ")));
    }
    let sql = format!(
        "UPDATE users SET user_id_folded = v.column3, name_folded = v.column4, \
         email_folded = v.column5, tags_folded = v.column6 FROM (VALUES {}) AS v \
         WHERE users.domain_id = v.column1 AND users.user_id = v.column2",
        tuples.join(", ")
    );
    Statement::from_sql_and_values(backend, sql, values)
}
