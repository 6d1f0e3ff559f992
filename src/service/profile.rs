//! What a signed-in user can do to its own account (UserProfile).

use std::net::IpAddr;

use super::{codes, reset};
use crate::auth::Principal;
use crate::context::Context;
use crate::domain::{
    AuthType, Code, CodePurpose, CodeSlot, Email, Language, Mfa, MfaState, MfaType, Name,
    OneTimeCode, OtpSecret, Password, RequiredAction, Tags, Timezone, User,
};
use crate::error::{Error, Result};
use crate::store::{
    self,
    users::{Sessions, UserChanges},
};

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
    apply(ctx, caller, update, SamePassword::Invalid).await
}

/// `update_password`: a new password for the caller. The current password is required
/// unless the caller must change its password (UPDATE_PASSWORD) or holds a reset link's
/// token, and it is checked as a sign-in from `client` would be: a wrong one counts as a
/// failed sign-in of the user, and the sign-in throttle applies. The same password again is
/// refused. As any password change, it clears UPDATE_PASSWORD and ends every token issued
/// before it, the caller's included.
pub async fn update_password(
    ctx: &Context,
    caller: &Principal,
    new_password: Password,
    current_password: Option<String>,
    client: Option<IpAddr>,
) -> Result<User> {
    let user = caller.user();
    if user.auth_type != AuthType::Local {
        return Err(Error::invalid(
            "new_password",
            "EXTERNAL users sign in elsewhere and have no password here",
        ));
    }
    let exempt = caller.reset_token().is_some() || user.must_update_password();
    if !exempt {
        let current = current_password.ok_or_else(|| Error::required("current_password"))?;
        super::tokens::check_current_password(ctx, user, &current, client).await?;
    }
    let update = ProfileUpdate {
        password: Some(new_password),
        ..ProfileUpdate::default()
    };
    apply(ctx, caller, update, SamePassword::NotChanged).await
}

/// What a new password equal to the current one is answered with.
#[derive(Debug, Clone, Copy)]
enum SamePassword {
    /// `update`: INVALID_ARGUMENT on `password`.
    Invalid,
    /// `update_password`: ERROR_PASSWORD_NOT_CHANGED, as the reference.
    NotChanged,
}

async fn apply(
    ctx: &Context,
    caller: &Principal,
    update: ProfileUpdate,
    same: SamePassword,
) -> Result<User> {
    let ProfileUpdate {
        password,
        name,
        email,
        language,
        timezone,
        tags,
    } = update;
    let user = caller.user();
    // A reset link that is no longer live is refused before anything else is said.
    let reset_link = match caller.reset_token() {
        Some(jti) => Some(live_reset_link(ctx, user, jti).await?),
        None => None,
    };
    if caller.reset_token().is_some()
        && (name.is_some()
            || email.is_some()
            || language.is_some()
            || timezone.is_some()
            || tags.is_some())
    {
        return Err(Error::permission_denied(
            "a password reset token allows only a new password",
        ));
    }
    if caller.reset_token().is_some() && password.is_none() {
        return Err(Error::required("password"));
    }
    let mut changes = UserChanges {
        name,
        language,
        timezone,
        tags,
        ..UserChanges::default()
    };
    if let Some(email) = email.filter(|e| !same_address(e, user.email.as_ref())) {
        changes.email = Some(Some(email));
        changes.email_verified = Some(false);
    }
    if let Some(password) = password {
        changes.password_hash = Some((
            new_password_hash(ctx, user, &password, same).await?,
            ctx.clock.now(),
        ));
        changes.required_actions = Some(
            user.required_actions
                .iter()
                .filter(|action| **action != RequiredAction::UpdatePassword)
                .copied()
                .collect(),
        );
    }
    // Conditional on the stamp the caller's token was checked against: if the password
    // changed or the user was disabled or re-created meanwhile, the token is dead and so is
    // this update. A reset token is used up by the same transaction.
    let tx = ctx.store.begin().await?;
    if let Some(link) = reset_link
        && !store::codes::consume(&tx, &link.code_id, ctx.clock.now()).await?
    {
        return Err(dead_reset_link());
    }
    if !store::users::update(&tx, &user.domain_id, &user.user_id, &user.stamp, changes).await? {
        return Err(account_changed());
    }
    tx.commit().await?;
    reread(ctx, user).await
}

/// The user's live reset link whose token has `jti`.
async fn live_reset_link(ctx: &Context, user: &User, jti: &str) -> Result<OneTimeCode> {
    let now = ctx.clock.now();
    store::codes::get(
        &ctx.store,
        &user.domain_id,
        &user.user_id,
        CodeSlot::ResetLink,
    )
    .await?
    .filter(|link| link.is_live(now) && link.code_hash == reset::token_hash(jti))
    .ok_or_else(dead_reset_link)
}

fn dead_reset_link() -> Error {
    Error::authentication("the reset link was used, replaced or has expired")
}

async fn new_password_hash(
    ctx: &Context,
    user: &User,
    password: &Password,
    same: SamePassword,
) -> Result<String> {
    if user.auth_type != AuthType::Local {
        return Err(Error::invalid(
            "password",
            "EXTERNAL users sign in elsewhere and have no password here",
        ));
    }
    let current = user.password_hash.as_deref();
    if current.is_some() && ctx.hasher.verify(password.expose(), current).await? {
        return Err(match same {
            SamePassword::Invalid => {
                Error::invalid("password", "must differ from the current password")
            }
            SamePassword::NotChanged => Error::PasswordNotChanged,
        });
    }
    ctx.hasher.hash(password).await
}

/// Sends an e-mail verification code to the caller's address, or to a new address given
/// here, which then becomes the caller's address, unverified. Nothing about the account
/// changes unless the code was sent.
pub async fn verify_email(ctx: &Context, caller: &Principal, email: Option<Email>) -> Result<()> {
    let user = caller.user();
    let new = email.filter(|email| !same_address(email, user.email.as_ref()));
    let address = match (&new, &user.email) {
        (Some(email), _) | (None, Some(email)) => email.clone(),
        (None, None) => return Err(Error::required("email")),
    };
    codes::send(ctx, user, CodePurpose::VerifyEmail, &address).await?;
    if let Some(email) = new {
        let changes = UserChanges {
            email: Some(Some(email)),
            email_verified: Some(false),
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
            return Err(account_changed());
        }
    }
    Ok(())
}

/// Whether a new e-mail address is the user's current one, as far as a change of address
/// goes.
fn same_address(new: &Email, current: Option<&Email>) -> bool {
    current.is_some_and(|current| new.as_str().eq_ignore_ascii_case(current.as_str()))
}

/// Marks the caller's e-mail address verified with the code sent to it. A code sent to an
/// address the user no longer has is void.
pub async fn confirm_email(ctx: &Context, caller: &Principal, code: Code) -> Result<User> {
    let user = caller.user();
    let Some(email) = &user.email else {
        return Err(Error::invalid("verify_code", codes::WRONG_CODE));
    };
    let checked = codes::check(
        ctx,
        user,
        CodePurpose::VerifyEmail,
        Some(email.as_str()),
        &code,
        "verify_code",
    )
    .await?;
    let now = ctx.clock.now();
    let tx = ctx.store.begin().await?;
    if !store::codes::consume(&tx, &checked.code_id, now).await? {
        return Err(Error::invalid("verify_code", codes::WRONG_CODE));
    }
    if !store::users::mark_email_verified(&tx, &user.domain_id, &user.user_id, &user.stamp, email)
        .await?
    {
        return Err(account_changed());
    }
    tx.commit().await?;
    reread(ctx, user).await
}

/// What `enable_mfa` of type OTP shows once: the secret and its `otpauth://` URI.
pub struct OtpEnrollment {
    /// The secret in base32.
    pub secret: String,
    /// The `otpauth://totp/...` URI for authenticator apps.
    pub uri: String,
}

/// Records MFA settings, not yet on, to be confirmed with a code (`confirm_mfa`): for
/// EMAIL a code is mailed to `email`; for OTP a new TOTP secret is made and returned, once.
pub async fn enable_mfa(
    ctx: &Context,
    caller: &Principal,
    mfa_type: &str,
    email: Option<Email>,
) -> Result<(User, Option<OtpEnrollment>)> {
    let user = caller.user();
    mfa_allowed(user)?;
    if mfa_on(user) {
        return Err(Error::precondition(
            "MFA is already enabled; disable it first",
        ));
    }
    let mfa_type = match mfa_type {
        "" => return Err(Error::required("mfa_type")),
        text => {
            MfaType::parse(text).map_err(|_| Error::invalid("mfa_type", "must be EMAIL or OTP"))?
        }
    };
    let (pending, enrollment) = match mfa_type {
        MfaType::Email => {
            let email = email.ok_or_else(|| Error::required("options.email"))?;
            let mut options = serde_json::Map::new();
            options.insert("email".into(), email.as_str().into());
            // The settings are recorded only once their code is on its way.
            codes::send(ctx, user, CodePurpose::EnableMfa, &email).await?;
            let pending = Mfa {
                state: MfaState::Disabled,
                mfa_type: MfaType::Email,
                options: Tags::from_json(serde_json::Value::Object(options)),
                sealed_secret: None,
            };
            (pending, None)
        }
        MfaType::Otp => {
            let secret = OtpSecret::generate()?;
            let enrollment = OtpEnrollment {
                secret: secret.base32()?,
                uri: secret.uri(user.user_id.as_str())?,
            };
            let pending = Mfa {
                state: MfaState::Disabled,
                mfa_type: MfaType::Otp,
                options: Tags::default(),
                sealed_secret: Some(ctx.codes.key.seal(secret.expose())?),
            };
            (pending, Some(enrollment))
        }
    };
    if !store::users::set_mfa(
        &ctx.store,
        &user.domain_id,
        &user.user_id,
        &user.stamp,
        &pending,
        Sessions::Keep,
    )
    .await?
    {
        return Err(account_changed());
    }
    Ok((reread(ctx, user).await?, enrollment))
}

/// Starts turning MFA off, to be confirmed with a code (`confirm_mfa`): for EMAIL a code is
/// mailed to the MFA address; for OTP the caller's authenticator gives it.
pub async fn disable_mfa(ctx: &Context, caller: &Principal) -> Result<User> {
    let user = caller.user();
    mfa_allowed(user)?;
    if !mfa_on(user) {
        return Err(Error::precondition("MFA is not enabled"));
    }
    refuse_if_enforced(user)?;
    if !uses_otp(user) {
        codes::send(ctx, user, CodePurpose::DisableMfa, &mfa_address(user)?).await?;
    }
    reread(ctx, user).await
}

/// Refuses to turn MFA off for a user an administrator enforces it for (ENFORCE_MFA).
fn refuse_if_enforced(user: &User) -> Result<()> {
    if user.mfa_enforced() {
        return Err(Error::precondition(
            "MFA is enforced for this user (ENFORCE_MFA); only an administrator can lift that",
        ));
    }
    Ok(())
}

/// Confirms the pending MFA change with its code: turns MFA on after `enable_mfa`, off after
/// `disable_mfa`.
pub async fn confirm_mfa(ctx: &Context, caller: &Principal, code: Code) -> Result<User> {
    let user = caller.user();
    mfa_allowed(user)?;
    let pending = user
        .mfa
        .as_ref()
        .filter(|mfa| !mfa.options.as_map().is_empty() || mfa.sealed_secret.is_some());
    let Some(mfa) = pending else {
        return Err(Error::precondition(
            "no MFA change is pending; call enable_mfa or disable_mfa first",
        ));
    };
    let (purpose, changed) = if mfa_on(user) {
        refuse_if_enforced(user)?;
        // Off: the address or secret is forgotten with the rest of the settings.
        let off = Mfa {
            state: MfaState::Disabled,
            mfa_type: mfa.mfa_type,
            options: Tags::default(),
            sealed_secret: None,
        };
        (CodePurpose::DisableMfa, off)
    } else {
        let on = Mfa {
            state: MfaState::Enabled,
            ..mfa.clone()
        };
        (CodePurpose::EnableMfa, on)
    };
    check_second_factor(ctx, user, purpose, &code)
        .await
        .map_err(|error| match error {
            Error::Authentication(_) => Error::invalid("verify_code", codes::WRONG_CODE),
            other => other,
        })?;
    if !store::users::set_mfa(
        &ctx.store,
        &user.domain_id,
        &user.user_id,
        &user.stamp,
        &changed,
        // A session from before MFA was turned on (or off) must not outlive the change.
        Sessions::End,
    )
    .await?
    {
        return Err(account_changed());
    }
    reread(ctx, user).await
}

/// Checks and uses a second-factor code of `user` for `purpose`: a mailed code (EMAIL) or a
/// TOTP code (OTP), each usable once (each use is one conditional statement). A wrong, used or expired code is
/// UNAUTHENTICATED; too many tries are RESOURCE_EXHAUSTED.
pub async fn check_second_factor(
    ctx: &Context,
    user: &User,
    purpose: CodePurpose,
    code: &Code,
) -> Result<()> {
    let wrong = || Error::authentication("wrong, used or expired verify_code");
    if uses_otp(user) {
        let tries = match purpose {
            CodePurpose::SignInFromNewAddress => CodeSlot::OtpTriesFromNewAddress,
            _ => CodeSlot::OtpTries,
        };
        return check_otp(ctx, user, code, tries)
            .await
            .and_then(|ok| if ok { Ok(()) } else { Err(wrong()) });
    }
    let address = mfa_address(user)?;
    let checked = codes::check(
        ctx,
        user,
        purpose,
        Some(address.as_str()),
        code,
        "verify_code",
    )
    .await
    .map_err(|error| match error {
        Error::InvalidParameter { .. } => wrong(),
        other => other,
    })?;
    if !store::codes::consume(&ctx.store, &checked.code_id, ctx.clock.now()).await? {
        return Err(wrong());
    }
    Ok(())
}

/// Tries of TOTP codes a user may make per `OTP_TRY_WINDOW`.
const OTP_TRIES: i32 = 5;
/// The window `OTP_TRIES` counts in.
const OTP_TRY_WINDOW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// Whether `code` is a current TOTP code of the user's secret not used before. Tries are
/// counted before the comparison, `OTP_TRIES` per `OTP_TRY_WINDOW`; a success ends the run.
async fn check_otp(ctx: &Context, user: &User, code: &Code, tries: CodeSlot) -> Result<bool> {
    let now = ctx.clock.now();
    if !store::codes::count_mail(
        &ctx.store,
        &user.domain_id,
        &user.user_id,
        tries,
        now,
        OTP_TRY_WINDOW,
        OTP_TRIES,
    )
    .await?
    {
        return Err(Error::Throttled {
            what: "too many codes tried",
            retry_after_secs: OTP_TRY_WINDOW.num_seconds(),
        });
    }
    let sealed = user
        .mfa
        .as_ref()
        .and_then(|mfa| mfa.sealed_secret.as_deref())
        .ok_or_else(|| {
            Error::internal(format!("user {} has OTP without a secret", user.user_id))
        })?;
    let secret = OtpSecret::from_bytes(ctx.codes.key.open(sealed)?);
    let seconds = u64::try_from(now.timestamp()).unwrap_or_default();
    let Some(step) = secret.matching_step(code, seconds)? else {
        return Ok(false);
    };
    let step = i32::try_from(step).map_err(Error::internal)?;
    let fresh =
        store::codes::use_otp_step(&ctx.store, &user.domain_id, &user.user_id, step, now).await?;
    if fresh {
        // A success ends the run of tries.
        store::codes::forget(&ctx.store, &user.domain_id, &user.user_id, tries).await?;
    }
    Ok(fresh)
}

/// Whether the user's MFA (on or pending) is TOTP.
pub fn uses_otp(user: &User) -> bool {
    user.mfa
        .as_ref()
        .is_some_and(|mfa| mfa.mfa_type == MfaType::Otp)
}

/// Whether sign-in needs a code for `user`.
pub fn mfa_on(user: &User) -> bool {
    user.mfa
        .as_ref()
        .is_some_and(|mfa| mfa.state == MfaState::Enabled)
}

/// The address MFA codes go to.
pub fn mfa_address(user: &User) -> Result<Email> {
    let address = user
        .mfa
        .as_ref()
        .and_then(|mfa| mfa.options.as_map().get("email"))
        .and_then(|email| email.as_str())
        .unwrap_or_default();
    Email::parse(address)
        .map_err(|_| Error::internal(format!("user {} has MFA without an address", user.user_id)))
}

fn mfa_allowed(user: &User) -> Result<()> {
    if user.auth_type != AuthType::Local {
        return Err(Error::precondition(
            "EXTERNAL users sign in elsewhere and cannot use MFA here",
        ));
    }
    Ok(())
}

fn account_changed() -> Error {
    Error::authentication("the account changed since the token was checked; sign in again")
}

async fn reread(ctx: &Context, user: &User) -> Result<User> {
    store::users::get(&ctx.store, &user.domain_id, &user.user_id)
        .await?
        .ok_or_else(|| Error::not_found("user_id", user.user_id.as_str()))
}
