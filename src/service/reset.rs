//! `reset_password`: a user who forgot its password gets a way back by e-mail, to the
//! verified address only. The call answers the same, at once, whoever is named: whether
//! anything is mailed is decided and done in the background, so neither the answer nor its
//! time tells an unknown user, an EXTERNAL user, a user without a verified address and an
//! eligible one apart.

use std::sync::Arc;

use chrono::TimeDelta;
use sha2::{Digest, Sha256};

use crate::auth::{Claims, TokenKind, jwt};
use crate::config::PasswordReset;
use crate::context::Context;
use crate::domain::{
    AuthType, CodeId, CodeSlot, DomainId, Email, OneTimeCode, Password, RequiredAction, User,
    UserId, UserState, normalized,
};
use crate::error::{Error, Result};
use crate::mail::{FirstSignIn, Mail, Template};
use crate::store::{self, users::UserChanges};

/// Reset mails a user may get per `MAIL_WINDOW`; further requests send nothing.
pub const MAILS_PER_WINDOW: i32 = 3;
/// The window `MAILS_PER_WINDOW` counts in.
pub const MAIL_WINDOW: TimeDelta = TimeDelta::hours(1);
/// The longest domain id looked up (ours are `domain-` and 12 hex characters).
const MAX_DOMAIN_ID_BYTES: usize = 64;

/// Starts a password reset for `user_id` of `domain_id`, if that user may reset here.
pub async fn reset_password(
    ctx: &Arc<Context>,
    domain_id: &DomainId,
    user_id: &UserId,
) -> Result<()> {
    if domain_id.is_empty() {
        return Err(Error::required("domain_id"));
    }
    if user_id.is_empty() {
        return Err(Error::required("user_id"));
    }
    if domain_id.as_str().len() > MAX_DOMAIN_ID_BYTES {
        return Err(Error::invalid("domain_id", "is not a domain id"));
    }
    if user_id.as_str().chars().count() > UserId::MAX_LEN {
        return Err(Error::invalid("user_id", "must be at most 255 characters"));
    }
    // Everything past the checks above is the same for every caller and happens after the
    // answer: the lookup too, since finding a user takes another time than finding none.
    let Ok(permit) = RESETS_IN_FLIGHT.clone().try_acquire_owned() else {
        tracing::warn!("password reset dropped: too many resets in progress");
        return Ok(());
    };
    let (ctx, domain_id) = (ctx.clone(), domain_id.clone());
    let user_id = UserId::new(normalized(user_id.as_str()));
    tokio::spawn(async move {
        let _permit = permit;
        let found = store::users::get(&ctx.store, &domain_id, &user_id).await;
        let result = match found {
            Ok(Some(user)) if eligible(&user) => deliver(&ctx, &user).await,
            Ok(_) => Ok(()),
            Err(error) => Err(error),
        };
        if let Err(error) = result {
            tracing::warn!(%error, "a password reset was not mailed");
        }
    });
    Ok(())
}

/// Resets being looked up or mailed at once; more requests are answered the same and
/// dropped, so a flood of requests cannot pile up work.
static RESETS_IN_FLIGHT: std::sync::LazyLock<Arc<tokio::sync::Semaphore>> =
    std::sync::LazyLock::new(|| Arc::new(tokio::sync::Semaphore::new(64)));

/// Whether `user` can reset its password here: LOCAL, not disabled, with a verified address.
fn eligible(user: &User) -> bool {
    user.auth_type == AuthType::Local
        && user.state != UserState::Disabled
        && user.email_verified
        && user.email.is_some()
}

/// Mails the reset the settings ask for, within the user's share of reset mails.
async fn deliver(ctx: &Context, user: &User) -> Result<()> {
    let now = ctx.clock.now();
    let address = address_of(user)?;
    if !store::codes::count_mail(
        &ctx.store,
        &user.domain_id,
        &user.user_id,
        CodeSlot::ResetLinkMails,
        now,
        MAIL_WINDOW,
        MAILS_PER_WINDOW,
    )
    .await?
    {
        tracing::info!("password reset not mailed: the user had its share this hour");
        return Ok(());
    }
    let mail = |template| Mail {
        to: address.clone(),
        name: user.name.as_str().to_owned(),
        language: user.language.as_str().to_owned(),
        template,
    };
    match ctx.codes.reset {
        PasswordReset::Link => {
            let link = new_link(ctx, user).await?;
            let template = Template::ResetPasswordLink {
                link: link.link.clone(),
                hours: link.hours,
            };
            if let Err(error) = ctx.mailer.send(&mail(template)).await {
                store::codes::void(&ctx.store, &link.code_id).await?;
                return Err(error);
            }
        }
        PasswordReset::TemporaryPassword => {
            let password = Password::temporary()?;
            let hash = ctx.hasher.hash(&password).await?;
            // In effect first, conditional on the account as read, then mailed: of resets
            // racing, only the one whose password took effect mails it. (If that mail
            // fails, the owner asks for another reset.)
            let mut required_actions = user.required_actions.clone();
            if !user.must_update_password() {
                required_actions.push(RequiredAction::UpdatePassword);
            }
            let changes = UserChanges {
                password_hash: Some((hash, now)),
                required_actions: Some(required_actions),
                ..UserChanges::default()
            };
            if !store::users::update(
                &ctx.store,
                &user.domain_id,
                &user.user_id,
                &user.stamp,
                changes,
            )
            .await?
            {
                tracing::info!("temporary password not mailed: the account changed meanwhile");
                return Ok(());
            }
            ctx.mailer
                .send(&mail(Template::TemporaryPassword {
                    password: password.expose().to_owned(),
                }))
                .await?;
        }
    }
    Ok(())
}

/// A single-use link to choose a password, recorded as the user's one live link.
struct ResetLink {
    link: String,
    hours: u32,
    code_id: CodeId,
}

/// Makes a reset link for `user`; a new one replaces the last.
async fn new_link(ctx: &Context, user: &User) -> Result<ResetLink> {
    let now = ctx.clock.now();
    let ttl = ctx.codes.reset_ttl;
    let keys = ctx.keys.signing_keys(&user.domain_id).await?;
    let claims = Claims::for_user(
        TokenKind::PasswordReset,
        user,
        ttl.num_seconds(),
        now.timestamp(),
    );
    let row = OneTimeCode {
        code_id: CodeId::generate_reset(),
        domain_id: user.domain_id.clone(),
        user_id: user.user_id.clone(),
        purpose: CodeSlot::ResetLink,
        code_hash: token_hash(&claims.jti),
        payload: None,
        attempts: 0,
        expires_at: now + ttl,
        consumed_at: None,
        created_at: now,
    };
    store::codes::replace(&ctx.store, &row, false).await?;
    let token = jwt::sign(&keys.refresh, &claims)?;
    Ok(ResetLink {
        link: format!("{}/reset-password?token={token}", ctx.codes.console_url),
        hours: u32::try_from((ttl.num_minutes() + 59) / 60).unwrap_or(24),
        code_id: row.code_id,
    })
}

/// Mails a new user its invitation: with `temporary`, the temporary password already in
/// effect; otherwise a single-use link to choose a password (valid `--reset-link-ttl`).
pub async fn invite(ctx: &Context, user: &User, temporary: Option<&Password>) -> Result<()> {
    let address = address_of(user)?;
    let (first_sign_in, link_code) = match temporary {
        Some(password) => (
            FirstSignIn::TemporaryPassword {
                password: password.expose().to_owned(),
            },
            None,
        ),
        None => {
            let link = new_link(ctx, user).await?;
            (
                FirstSignIn::Link {
                    link: link.link,
                    hours: link.hours,
                },
                Some(link.code_id),
            )
        }
    };
    let mail = Mail {
        to: address,
        name: user.name.as_str().to_owned(),
        language: user.language.as_str().to_owned(),
        template: Template::Invitation {
            user_id: user.user_id.as_str().to_owned(),
            first_sign_in,
        },
    };
    if let Err(error) = ctx.mailer.send(&mail).await {
        if let Some(code_id) = link_code {
            store::codes::void(&ctx.store, &code_id).await?;
        }
        return Err(error);
    }
    Ok(())
}

/// The address mail for `user` goes to; callers have checked that it has one.
fn address_of(user: &User) -> Result<Email> {
    user.email
        .clone()
        .ok_or_else(|| Error::internal(format!("user {} has no e-mail address", user.user_id)))
}

/// How a reset token's `jti` is stored: its SHA-256 (the jti is 128 random bits).
pub fn token_hash(jti: &str) -> String {
    Sha256::digest(jti.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
