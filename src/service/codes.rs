//! Sending one-time codes and checking them: the rules every code follows, whatever it
//! confirms (see `domain::codes` and `store::codes`).

use crate::context::Context;
use crate::domain::{Code, CodeId, CodePurpose, Email, MAX_CODE_ATTEMPTS, OneTimeCode, User};
use crate::error::{Error, Result};
use crate::mail::{Mail, Template};
use crate::store::{self, codes::Submission};

/// Codes a user may be sent per purpose within `MAIL_WINDOW`: enough for any honest use,
/// few enough that nobody can turn the service into a mail cannon (at another address, or
/// at a victim whose password they know).
pub const MAILS_PER_WINDOW: i32 = 10;
/// The window `MAILS_PER_WINDOW` counts in.
pub const MAIL_WINDOW: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// What a refused submission says, whatever was wrong with it, so nothing is learnt from it.
pub const WRONG_CODE: &str = "wrong, used or expired code";

/// Sends a new code for `purpose` to `address` and stores its hash, replacing the user's
/// earlier code for the purpose. Wrong tries against an earlier code that is still live
/// carry over, and while such a code has had all its tries no new one is sent. If the mail
/// cannot be sent, the new code is void at once.
pub async fn send(ctx: &Context, user: &User, purpose: CodePurpose, address: &Email) -> Result<()> {
    let now = ctx.clock.now();
    let ttl = lifetime(ctx, purpose);
    let previous = carried_over(ctx, user, purpose, now, ttl).await?;
    within_mail_limit(ctx, user, purpose, now).await?;
    let code = Code::generate()?;
    let row = OneTimeCode {
        code_id: CodeId::generate(),
        domain_id: user.domain_id.clone(),
        user_id: user.user_id.clone(),
        purpose: purpose.slot(),
        code_hash: ctx.codes.key.hash(
            &user.domain_id,
            &user.user_id,
            purpose,
            address.as_str(),
            &code,
        ),
        payload: Some(serde_json::json!({ "address": address.as_str() })),
        attempts: 0,
        expires_at: now + ttl,
        consumed_at: None,
        created_at: now,
    };
    store::codes::replace(&ctx.store, &row, previous.is_some()).await?;
    let minutes = u32::try_from(ttl.num_minutes().max(1)).unwrap_or(u32::MAX);
    let mail = Mail {
        to: address.clone(),
        name: user.name.as_str().to_owned(),
        language: user.language.as_str().to_owned(),
        template: template(purpose, code.expose().to_owned(), minutes),
    };
    if let Err(error) = ctx.mailer.send(&mail).await {
        store::codes::void(&ctx.store, &row.code_id).await?;
        return Err(error);
    }
    Ok(())
}

/// How long a code for `purpose` lives.
fn lifetime(ctx: &Context, purpose: CodePurpose) -> chrono::TimeDelta {
    match purpose {
        CodePurpose::VerifyEmail => ctx.codes.email_ttl,
        CodePurpose::EnableMfa
        | CodePurpose::DisableMfa
        | CodePurpose::SignIn
        | CodePurpose::SignInFromNewAddress => ctx.codes.mfa_ttl,
    }
}

/// The user's code for `purpose` before the new one, if its tries carry over; refused
/// while that code has had all its tries.
async fn carried_over(
    ctx: &Context,
    user: &User,
    purpose: CodePurpose,
    now: chrono::DateTime<chrono::Utc>,
    ttl: chrono::TimeDelta,
) -> Result<Option<OneTimeCode>> {
    // The code before, if it is live, or was voided (its mail failed) within a code's
    // lifetime: its tries carry over, so neither a resend nor a failing mail buys guesses.
    let previous = store::codes::get(&ctx.store, &user.domain_id, &user.user_id, purpose.slot())
        .await?
        .filter(|previous| {
            previous.is_live(now)
                || (previous.consumed_at.is_none()
                    && previous.is_void()
                    && previous.created_at + ttl > now)
        });
    if let Some(previous) = &previous
        && previous.attempts >= MAX_CODE_ATTEMPTS
    {
        let ends = previous.expires_at.max(previous.created_at + ttl);
        return Err(Error::Throttled {
            what: "too many wrong codes; request a new code when this one has expired",
            retry_after_secs: (ends - now).num_seconds().max(1),
        });
    }
    Ok(previous)
}

/// Counts one more mail for `purpose`, refused once `MAILS_PER_WINDOW` were sent within
/// `MAIL_WINDOW`.
async fn within_mail_limit(
    ctx: &Context,
    user: &User,
    purpose: CodePurpose,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let mails = purpose.mails();
    if store::codes::count_mail(
        &ctx.store,
        &user.domain_id,
        &user.user_id,
        mails,
        now,
        MAIL_WINDOW,
        MAILS_PER_WINDOW,
    )
    .await?
    {
        return Ok(());
    }
    let window_ends = store::codes::get(&ctx.store, &user.domain_id, &user.user_id, mails)
        .await?
        .map_or(now + MAIL_WINDOW, |count| count.expires_at);
    Err(Error::Throttled {
        what: "too many codes sent for this purpose",
        retry_after_secs: (window_ends - now).num_seconds().max(1),
    })
}

/// The mail that carries a code for `purpose`.
fn template(purpose: CodePurpose, code: String, minutes: u32) -> Template {
    match purpose {
        CodePurpose::VerifyEmail => Template::VerifyEmailCode { code, minutes },
        CodePurpose::EnableMfa
        | CodePurpose::DisableMfa
        | CodePurpose::SignIn
        | CodePurpose::SignInFromNewAddress => Template::MfaCode { code, minutes },
    }
}

/// Checks a submitted code against the user's live code for `purpose`: the submission is
/// counted first (a code allows `MAX_CODE_ATTEMPTS` tries in all), then compared with the
/// hash of what was sent to `address` (`None`: the address the code went to). Returns the
/// matching code, not yet used: the caller uses it (`store::codes::consume`) in the
/// transaction that applies it. `key` names the request field in errors.
pub async fn check(
    ctx: &Context,
    user: &User,
    purpose: CodePurpose,
    address: Option<&str>,
    submitted: &Code,
    key: &'static str,
) -> Result<OneTimeCode> {
    let now = ctx.clock.now();
    let counted = store::codes::count_submission(
        &ctx.store,
        &user.domain_id,
        &user.user_id,
        purpose.slot(),
        now,
    )
    .await?;
    let code = match counted {
        Submission::Counted(code) => code,
        Submission::Exhausted(code) => return Err(exhausted(ctx, &code)),
        Submission::NoLiveCode => return Err(Error::invalid(key, WRONG_CODE)),
    };
    let sent_to = sent_to(&code);
    let address = address.unwrap_or(&sent_to);
    let matches = ctx.codes.key.matches(
        &code.code_hash,
        &user.domain_id,
        &user.user_id,
        purpose,
        address,
        submitted,
    );
    if !matches {
        return Err(Error::invalid(key, WRONG_CODE));
    }
    Ok(code)
}

/// The address a code was sent to.
pub fn sent_to(code: &OneTimeCode) -> String {
    code.payload
        .as_ref()
        .and_then(|payload| payload.get("address"))
        .and_then(|address| address.as_str())
        .unwrap_or_default()
        .to_owned()
}

fn exhausted(ctx: &Context, code: &OneTimeCode) -> Error {
    let wait = (code.expires_at - ctx.clock.now()).num_seconds().max(1);
    Error::Throttled {
        what: "too many wrong codes; request a new code when this one has expired",
        retry_after_secs: wait,
    }
}
