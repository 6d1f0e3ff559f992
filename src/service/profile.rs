//! What a signed-in user can do to its own account (UserProfile).

use crate::auth::Principal;
use crate::context::Context;
use crate::domain::{AuthType, Email, Language, Name, Password, Tags, Timezone, User};
use crate::error::{Error, Result};
use crate::store::{self, users::UserChanges};

/// A profile update: only the fields that are set change.
#[derive(Debug, Default)]
pub struct ProfileUpdate {
    /// A new password; must differ from the current one.
    pub password: Option<Password>,
    /// A new display name.
    pub name: Option<Name>,
    /// A new e-mail address; a different one is unverified again.
    pub email: Option<Email>,
    /// A new language.
    pub language: Option<Language>,
    /// A new time zone.
    pub timezone: Option<Timezone>,
    /// New tags, replacing the old ones.
    pub tags: Option<Tags>,
}

/// The caller's own record.
pub fn get(caller: &Principal) -> &User {
    caller.user()
}

/// Applies an update to the caller's own record and returns the result. A password change
/// clears UPDATE_PASSWORD and ends every token issued before it, the caller's included.
pub async fn update(ctx: &Context, caller: &Principal, update: ProfileUpdate) -> Result<User> {
    let ProfileUpdate {
        password,
        name,
        email,
        language,
        timezone,
        tags,
    } = update;
    let user = caller.user();
    let mut changes = UserChanges {
        name: name.map(|n| n.as_str().to_owned()),
        language: language.map(|l| l.as_str().to_owned()),
        timezone: timezone.map(|t| t.as_str().to_owned()),
        tags,
        ..UserChanges::default()
    };
    if let Some(email) = email.filter(|e| e.as_str() != user.email) {
        changes.email = Some(email.as_str().to_owned());
        changes.email_verified = Some(false);
    }
    if let Some(password) = password {
        changes.password_hash = Some((
            new_password_hash(ctx, user, &password).await?,
            ctx.clock.now(),
        ));
        changes.required_actions = Some(
            user.required_actions
                .iter()
                .filter(|action| *action != User::UPDATE_PASSWORD)
                .cloned()
                .collect(),
        );
    }
    // Conditional on the stamp the caller's token was checked against: if the password
    // changed or the user was disabled or re-created meanwhile, the token is dead and so is
    // this update.
    if !store::users::update(
        &ctx.store,
        &user.domain_id,
        &user.user_id,
        &user.stamp,
        changes,
    )
    .await?
    {
        return Err(Error::authentication(
            "the account changed since the token was checked; sign in again",
        ));
    }
    store::users::get(&ctx.store, &user.domain_id, &user.user_id)
        .await?
        .ok_or_else(|| Error::not_found("user_id", user.user_id.as_str()))
}

async fn new_password_hash(ctx: &Context, user: &User, password: &Password) -> Result<String> {
    if user.auth_type != AuthType::Local {
        return Err(Error::invalid(
            "password",
            "EXTERNAL users sign in elsewhere and have no password here",
        ));
    }
    let current = user.password_hash.as_deref();
    if current.is_some() && ctx.hasher.verify(password.expose(), current).await? {
        return Err(Error::invalid(
            "password",
            "must differ from the current password",
        ));
    }
    ctx.hasher.hash(password).await
}
