//! The one error type of the service, and its single mapping to gRPC statuses.
//!
//! Every message starts with a SpaceONE error code (`ERROR_NOT_FOUND: ...`) because
//! SpaceONE clients and people read that prefix. Internal causes are logged here and
//! never sent to the caller.

use std::borrow::Cow;

use tonic::{Code, Status};

/// A field name or other short label named in an error.
pub type Label = Cow<'static, str>;

/// Everything that can go wrong in a call, from a bad field to a broken database.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A required request field was empty.
    #[error("required parameter {key} is missing")]
    RequiredParameter {
        /// The field's name.
        key: Label,
    },
    /// A request field had a value the service does not accept.
    #[error("invalid parameter {key}: {reason}")]
    InvalidParameter {
        /// The field's name.
        key: Label,
        /// Why the value is refused, in words a caller can act on.
        reason: String,
    },
    /// The resource does not exist, or the caller may not see it.
    #[error("{key} = {value} not found")]
    NotFound {
        /// The name of the identifying field.
        key: Label,
        /// The identifying value.
        value: String,
    },
    /// A resource with the same natural key already exists.
    #[error("{key} = {value} already exists")]
    AlreadyExists {
        /// The name of the unique field.
        key: Label,
        /// The duplicated value.
        value: String,
    },
    /// Credentials or a token were missing, malformed or wrong.
    #[error("authentication failed: {0}")]
    Authentication(Cow<'static, str>),
    /// The caller is known but may not do this.
    #[error("permission denied: {0}")]
    PermissionDenied(Cow<'static, str>),
    /// The request is well formed but the resource's state forbids it.
    #[error("precondition failed: {0}")]
    Precondition(Cow<'static, str>),
    /// Too many failed attempts in a row; the caller must wait before trying again.
    #[error("throttled for {retry_after_secs} s: {what}")]
    Throttled {
        /// What is throttled, in words a caller can act on.
        what: &'static str,
        /// Whole seconds until the next attempt is allowed.
        retry_after_secs: i64,
    },
    /// `update_password`: the current password given is not the user's.
    #[error("the current password is wrong")]
    PasswordNotMatched,
    /// `update_password`: the new password is the current one.
    #[error("the new password is the current one")]
    PasswordNotChanged,
    /// The user must change its password (UPDATE_PASSWORD) before it may do this.
    #[error("the password must be changed first")]
    UpdatePasswordRequired,
    /// The password was right, but the user has MFA on: a code was sent, and the sign-in
    /// must be repeated with it.
    #[error("MFA required")]
    MfaRequired,
    /// The server is at capacity for this kind of work; try again shortly.
    #[error("busy: {0}")]
    Busy(&'static str),
    /// Mail could not be handed to the SMTP server: it is down, did not answer in time, or
    /// refused the mail. The cause is logged where it happens and never shown.
    #[error("mail unavailable: {0}")]
    MailUnavailable(String),
    /// The call exists in the API but this server does not offer it (yet).
    #[error("{0} is not implemented")]
    NotImplemented(&'static str),
    /// A storage fault; logged, never shown. (`store` converts database errors, and turns
    /// those that are the caller's doing into the variants above.)
    #[error("storage error: {0}")]
    Storage(sea_orm::DbErr),
    /// Any other real fault; logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
    /// A setting the service cannot start with (the database URL, a listen address, a
    /// certificate file): one line that says what to change. Met at start-up, not in calls.
    #[error("{0}")]
    Config(String),
}

/// The result of anything in the service that can fail.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A required field was not given.
    pub fn required(key: impl Into<Label>) -> Self {
        Self::RequiredParameter { key: key.into() }
    }

    /// A field's value was refused, and why.
    pub fn invalid(key: impl Into<Label>, reason: impl Into<String>) -> Self {
        Self::InvalidParameter {
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// No resource with `key = value` is visible to the caller.
    pub fn not_found(key: impl Into<Label>, value: impl Into<String>) -> Self {
        Self::NotFound {
            key: key.into(),
            value: value.into(),
        }
    }

    /// A resource with `key = value` exists already.
    pub fn already_exists(key: impl Into<Label>, value: impl Into<String>) -> Self {
        Self::AlreadyExists {
            key: key.into(),
            value: value.into(),
        }
    }

    /// Sign-in or token verification failed.
    pub fn authentication(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::Authentication(reason.into())
    }

    /// The caller lacks the role for this call.
    pub fn permission_denied(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::PermissionDenied(reason.into())
    }

    /// The resource's state does not allow the call.
    pub fn precondition(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::Precondition(reason.into())
    }

    /// A fault that is not the caller's doing.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        let (code, message) = match &error {
            Error::RequiredParameter { key } => (
                Code::InvalidArgument,
                format!("ERROR_REQUIRED_PARAMETER: Required parameter. (key = {key})"),
            ),
            Error::InvalidParameter { key, reason } => (
                Code::InvalidArgument,
                format!(
                    "ERROR_INVALID_PARAMETER: Invalid parameter. (key = {key}, reason = {reason})"
                ),
            ),
            Error::NotFound { key, value } => (
                Code::NotFound,
                format!(
                    "ERROR_NOT_FOUND: Resource cannot be found or access is denied. ({key} = {value})"
                ),
            ),
            Error::AlreadyExists { key, value } => (
                Code::AlreadyExists,
                format!("ERROR_NOT_UNIQUE: Value already exists. ({key} = {value})"),
            ),
            Error::Authentication(reason) => (
                Code::Unauthenticated,
                format!("ERROR_AUTHENTICATE_FAILURE: Authenticate failure. (message = {reason})"),
            ),
            Error::PermissionDenied(reason) => (
                Code::PermissionDenied,
                format!("ERROR_PERMISSION_DENIED: Permission denied. ({reason})"),
            ),
            Error::Precondition(reason) => (
                Code::FailedPrecondition,
                format!("ERROR_INVALID_STATE: {reason}"),
            ),
            Error::Throttled {
                what,
                retry_after_secs,
            } => (
                Code::ResourceExhausted,
                format!("ERROR_TOO_MANY_ATTEMPTS: {what}; try again in {retry_after_secs} s."),
            ),
            Error::PasswordNotMatched => (
                Code::InvalidArgument,
                "ERROR_PASSWORD_NOT_MATCHED: The current password does not match. \
                 (key = current_password)"
                    .to_owned(),
            ),
            Error::PasswordNotChanged => (
                Code::InvalidArgument,
                "ERROR_PASSWORD_NOT_CHANGED: The new password is the current password. \
                 (key = new_password)"
                    .to_owned(),
            ),
            Error::UpdatePasswordRequired => (
                Code::FailedPrecondition,
                "ERROR_UPDATE_PASSWORD_REQUIRED: The password must be changed first \
                 (UserProfile.update with a new password)."
                    .to_owned(),
            ),
            Error::MfaRequired => (
                Code::Unauthenticated,
                "ERROR_MFA_REQUIRED: Multi-factor authentication is required: sign in again \
                 with auth_type MFA and the verify_code sent by e-mail (MFA type EMAIL) or \
                 shown by the authenticator app (OTP)."
                    .to_owned(),
            ),
            Error::Busy(what) => (
                Code::Unavailable,
                format!("ERROR_SERVER_BUSY: {what}; try again shortly."),
            ),
            Error::MailUnavailable(_) => (
                Code::Unavailable,
                "ERROR_MAIL_UNAVAILABLE: The e-mail could not be sent; try again later.".into(),
            ),
            Error::NotImplemented(method) => (
                Code::Unimplemented,
                format!("ERROR_NOT_IMPLEMENTED: {method} is not implemented by this server."),
            ),
            Error::Storage(cause) => {
                tracing::error!(error = %cause, "storage failure");
                (Code::Internal, internal_message())
            }
            Error::Internal(cause) => {
                tracing::error!(error = %cause, "internal failure");
                (Code::Internal, internal_message())
            }
            Error::Config(cause) => {
                tracing::error!(error = %cause, "configuration failure");
                (Code::Internal, internal_message())
            }
        };
        Status::new(code, message)
    }
}

fn internal_message() -> String {
    "ERROR_INTERNAL_API: The server met an internal error; the request was not completed.".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(error: Error) -> (Code, String) {
        let status = Status::from(error);
        (status.code(), status.message().to_owned())
    }

    #[test]
    fn client_mistakes_map_to_their_codes_with_spaceone_prefixes() {
        assert_eq!(
            status(Error::required("user_id")),
            (
                Code::InvalidArgument,
                "ERROR_REQUIRED_PARAMETER: Required parameter. (key = user_id)".into()
            )
        );
        let (code, message) = status(Error::invalid("timezone", "unknown time zone"));
        assert_eq!(code, Code::InvalidArgument);
        assert!(message.starts_with("ERROR_INVALID_PARAMETER:") && message.contains("timezone"));
        assert_eq!(
            status(Error::not_found("user_id", "x")),
            (
                Code::NotFound,
                "ERROR_NOT_FOUND: Resource cannot be found or access is denied. (user_id = x)"
                    .into()
            )
        );
        assert_eq!(
            status(Error::already_exists("user_id", "x")).0,
            Code::AlreadyExists
        );
        let (code, message) = status(Error::authentication("bad token"));
        assert_eq!(code, Code::Unauthenticated);
        assert!(message.starts_with("ERROR_AUTHENTICATE_FAILURE:"));
        let (code, message) = status(Error::permission_denied("needs DOMAIN_ADMIN"));
        assert_eq!(code, Code::PermissionDenied);
        assert!(message.starts_with("ERROR_PERMISSION_DENIED:"));
        assert_eq!(status(Error::precondition("x")).0, Code::FailedPrecondition);
        let (code, message) = status(Error::Throttled {
            what: "too many failed sign-ins",
            retry_after_secs: 8,
        });
        assert_eq!(code, Code::ResourceExhausted);
        assert!(message.starts_with("ERROR_TOO_MANY_ATTEMPTS:") && message.contains("8 s"));
        let (code, message) = status(Error::PasswordNotMatched);
        assert_eq!(code, Code::InvalidArgument);
        assert!(
            message.starts_with("ERROR_PASSWORD_NOT_MATCHED:")
                && message.contains("current_password")
        );
        let (code, message) = status(Error::PasswordNotChanged);
        assert_eq!(code, Code::InvalidArgument);
        assert!(
            message.starts_with("ERROR_PASSWORD_NOT_CHANGED:") && message.contains("new_password")
        );
        let (code, message) = status(Error::UpdatePasswordRequired);
        assert_eq!(code, Code::FailedPrecondition);
        assert!(message.starts_with("ERROR_UPDATE_PASSWORD_REQUIRED:"));
        let (code, message) = status(Error::MfaRequired);
        assert_eq!(code, Code::Unauthenticated);
        assert!(message.starts_with("ERROR_MFA_REQUIRED:"));
        let (code, message) = status(Error::Busy("every password check is in use"));
        assert_eq!(code, Code::Unavailable);
        assert!(message.starts_with("ERROR_SERVER_BUSY:"));
        let (code, message) = status(Error::MailUnavailable(
            "permanent error (550): mailbox unavailable at mail.internal:25".into(),
        ));
        assert_eq!(code, Code::Unavailable);
        assert!(message.starts_with("ERROR_MAIL_UNAVAILABLE:"), "{message}");
        assert!(
            !message.contains("550") && !message.contains("mail.internal"),
            "{message}"
        );
        assert_eq!(
            status(Error::NotImplemented("UserProfile.verify_email")).0,
            Code::Unimplemented
        );
    }

    #[test]
    fn internal_faults_do_not_leak_their_cause() {
        let (code, message) = status(Error::Storage(sea_orm::DbErr::Custom(
            "SELECT secret FROM users".into(),
        )));
        assert_eq!(code, Code::Internal);
        assert!(!message.contains("SELECT"), "{message}");
        let (code, message) = status(Error::internal("/home/x/.ssh/id_rsa unreadable"));
        assert_eq!(code, Code::Internal);
        assert!(!message.contains("id_rsa"), "{message}");
        let (code, message) = status(Error::Config("cannot read /etc/tls/key.pem".into()));
        assert_eq!(code, Code::Internal);
        assert!(!message.contains("key.pem"), "{message}");
    }
}
