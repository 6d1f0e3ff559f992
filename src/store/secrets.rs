//! The server's own secrets, one row each, shared by every replica on the database.

use sea_orm::{ActiveValue::Set, EntityTrait};
use tracing::instrument;

use super::{Executor, conn, entities::server_secret as secret};
use crate::error::Result;

/// The secret called `name`, made with `make` and stored the first time it is asked for.
/// Of replicas asking at once, the first to store it wins and all read its value.
#[instrument(skip(db, make))]
pub async fn get_or_create(
    db: &impl Executor,
    name: &str,
    make: impl FnOnce() -> String,
) -> Result<String> {
    let row = secret::ActiveModel {
        name: Set(name.to_owned()),
        value: Set(make()),
    };
    secret::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(secret::Column::Name)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn(db))
        .await?;
    let stored = secret::Entity::find_by_id(name.to_owned())
        .one(conn(db))
        .await?
        .ok_or_else(|| crate::error::Error::internal(format!("secret {name} was not stored")))?;
    Ok(stored.value)
}
