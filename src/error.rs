//! The one error type of the service, and its single mapping to gRPC statuses.
//!
//! Every message starts with a SpaceONE error code (`ERROR_NOT_FOUND: ...`) because
//! SpaceONE clients and people read that prefix. `ErrorCode` is the one table of those codes
//! and their gRPC status codes; the edge takes from it the code of a status that tonic or a
//! library wrote without one. Internal causes are logged here and never sent to the caller.

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
    /// MFA is enforced for the user (ENFORCE_MFA) and not on yet: it must turn it on first.
    #[error("MFA must be turned on first")]
    MfaEnforced,
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

/// The SpaceONE error codes this service sends: the one table of their names and of the
/// gRPC status codes they go with. Every status message starts with its code's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorCode {
    /// A required field was empty.
    RequiredParameter,
    /// A field's value is refused (also: bytes that are not a valid request).
    InvalidParameter,
    /// No such resource, or the caller may not see it.
    NotFound,
    /// The natural key is taken.
    NotUnique,
    /// Credentials or a token did not pass.
    AuthenticateFailure,
    /// The caller may not do this.
    PermissionDenied,
    /// The resource's state forbids the call.
    InvalidState,
    /// Throttled after failed attempts, or over a per-client limit.
    TooManyAttempts,
    /// `update_password`: the current password is wrong.
    PasswordNotMatched,
    /// `update_password`: the new password is the current one.
    PasswordNotChanged,
    /// The password must be changed first.
    UpdatePasswordRequired,
    /// MFA is enforced and must be turned on first.
    MfaEnforced,
    /// A second factor is needed to sign in.
    MfaRequired,
    /// At capacity; try again shortly.
    ServerBusy,
    /// The e-mail could not be handed over.
    MailUnavailable,
    /// The call exists in the API but not in this server.
    NotImplemented,
    /// The call ran out of time or was cancelled.
    RequestTimeout,
    /// A fault of the server's; the cause is logged, not sent.
    InternalApi,
}

impl ErrorCode {
    /// The code's name and the gRPC status code it is sent with.
    const fn parts(self) -> (&'static str, Code) {
        match self {
            Self::RequiredParameter => ("ERROR_REQUIRED_PARAMETER", Code::InvalidArgument),
            Self::InvalidParameter => ("ERROR_INVALID_PARAMETER", Code::InvalidArgument),
            Self::NotFound => ("ERROR_NOT_FOUND", Code::NotFound),
            Self::NotUnique => ("ERROR_NOT_UNIQUE", Code::AlreadyExists),
            Self::AuthenticateFailure => ("ERROR_AUTHENTICATE_FAILURE", Code::Unauthenticated),
            Self::PermissionDenied => ("ERROR_PERMISSION_DENIED", Code::PermissionDenied),
            Self::InvalidState => ("ERROR_INVALID_STATE", Code::FailedPrecondition),
            Self::TooManyAttempts => ("ERROR_TOO_MANY_ATTEMPTS", Code::ResourceExhausted),
            Self::PasswordNotMatched => ("ERROR_PASSWORD_NOT_MATCHED", Code::InvalidArgument),
            Self::PasswordNotChanged => ("ERROR_PASSWORD_NOT_CHANGED", Code::InvalidArgument),
            Self::UpdatePasswordRequired => {
                ("ERROR_UPDATE_PASSWORD_REQUIRED", Code::FailedPrecondition)
            }
            Self::MfaEnforced => ("ERROR_MFA_ENFORCED", Code::FailedPrecondition),
            Self::MfaRequired => ("ERROR_MFA_REQUIRED", Code::Unauthenticated),
            Self::ServerBusy => ("ERROR_SERVER_BUSY", Code::Unavailable),
            Self::MailUnavailable => ("ERROR_MAIL_UNAVAILABLE", Code::Unavailable),
            Self::NotImplemented => ("ERROR_NOT_IMPLEMENTED", Code::Unimplemented),
            Self::RequestTimeout => ("ERROR_REQUEST_TIMEOUT", Code::DeadlineExceeded),
            Self::InternalApi => ("ERROR_INTERNAL_API", Code::Internal),
        }
    }

    /// The name a status message starts with: `ERROR_NOT_FOUND`, ...
    pub(crate) const fn name(self) -> &'static str {
        self.parts().0
    }

    /// The code of a status written without one (by tonic or a library, which name only a
    /// gRPC status code): the general one sent with that status code.
    pub(crate) fn of_status(code: Code) -> Self {
        match code {
            Code::InvalidArgument | Code::OutOfRange => Self::InvalidParameter,
            Code::NotFound => Self::NotFound,
            Code::AlreadyExists => Self::NotUnique,
            Code::Unauthenticated => Self::AuthenticateFailure,
            Code::PermissionDenied => Self::PermissionDenied,
            Code::FailedPrecondition => Self::InvalidState,
            Code::ResourceExhausted => Self::TooManyAttempts,
            Code::Unimplemented => Self::NotImplemented,
            Code::Unavailable => Self::ServerBusy,
            Code::Cancelled | Code::DeadlineExceeded => Self::RequestTimeout,
            Code::Ok | Code::Unknown | Code::Aborted | Code::Internal | Code::DataLoss => {
                Self::InternalApi
            }
        }
    }

    /// The status `NAME: detail`, with this code's gRPC status code.
    fn status(self, detail: impl std::fmt::Display) -> Status {
        let (name, code) = self.parts();
        Status::new(code, format!("{name}: {detail}"))
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        use ErrorCode as C;
        let (code, detail) = match &error {
            Error::RequiredParameter { key } => (
                C::RequiredParameter,
                format!("Required parameter. (key = {key})"),
            ),
            Error::InvalidParameter { key, reason } => (
                C::InvalidParameter,
                format!("Invalid parameter. (key = {key}, reason = {reason})"),
            ),
            Error::NotFound { key, value } => (
                C::NotFound,
                format!("Resource cannot be found or access is denied. ({key} = {value})"),
            ),
            Error::AlreadyExists { key, value } => (
                C::NotUnique,
                format!("Value already exists. ({key} = {value})"),
            ),
            Error::Authentication(reason) => (
                C::AuthenticateFailure,
                format!("Authenticate failure. (message = {reason})"),
            ),
            Error::PermissionDenied(reason) => (
                C::PermissionDenied,
                format!("Permission denied. ({reason})"),
            ),
            Error::Precondition(reason) => (C::InvalidState, reason.to_string()),
            Error::Throttled {
                what,
                retry_after_secs,
            } => (
                C::TooManyAttempts,
                format!("{what}; try again in {retry_after_secs} s."),
            ),
            Error::PasswordNotMatched => (
                C::PasswordNotMatched,
                "The current password does not match. (key = current_password)".to_owned(),
            ),
            Error::PasswordNotChanged => (
                C::PasswordNotChanged,
                "The new password is the current password. (key = new_password)".to_owned(),
            ),
            Error::UpdatePasswordRequired => (
                C::UpdatePasswordRequired,
                "The password must be changed first (UserProfile.update with a new password)."
                    .to_owned(),
            ),
            Error::MfaEnforced => (
                C::MfaEnforced,
                "Multi-factor authentication is enforced for this user and must be turned on \
                 first (UserProfile.enable_mfa, then confirm_mfa)."
                    .to_owned(),
            ),
            Error::MfaRequired => (
                C::MfaRequired,
                "Multi-factor authentication is required: sign in again with auth_type MFA \
                 and the verify_code sent by e-mail (MFA type EMAIL) or shown by the \
                 authenticator app (OTP)."
                    .to_owned(),
            ),
            Error::Busy(what) => (C::ServerBusy, format!("{what}; try again shortly.")),
            Error::MailUnavailable(_) => (
                C::MailUnavailable,
                "The e-mail could not be sent; try again later.".to_owned(),
            ),
            Error::NotImplemented(method) => (
                C::NotImplemented,
                format!("{method} is not implemented by this server."),
            ),
            Error::Storage(cause) => internal("storage failure", cause),
            Error::Internal(cause) => internal("internal failure", cause),
            Error::Config(cause) => internal("configuration failure", cause),
        };
        code.status(detail)
    }
}

/// Logs a fault's cause; the caller gets only the general INTERNAL message.
fn internal(what: &'static str, cause: &dyn std::fmt::Display) -> (ErrorCode, String) {
    tracing::error!(error = %cause, "{what}");
    (
        ErrorCode::InternalApi,
        "The server met an internal error; the request was not completed.".to_owned(),
    )
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
        let (code, message) = status(Error::MfaEnforced);
        assert_eq!(code, Code::FailedPrecondition);
        assert!(message.starts_with("ERROR_MFA_ENFORCED:") && message.contains("enable_mfa"));
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
    fn a_status_without_a_code_gets_the_general_code_of_its_grpc_code() {
        let every_grpc_code = (0..=16).map(Code::from_i32);
        for grpc in every_grpc_code {
            let code = ErrorCode::of_status(grpc);
            assert!(code.name().starts_with("ERROR_"), "{grpc:?}");
            if matches!(grpc, Code::OutOfRange | Code::Cancelled) {
                continue;
            }
            // The general code of a gRPC code is one this service sends with that code
            // (OK and the faults the service never names all stand for INTERNAL).
            let sent_with = code.parts().1;
            assert!(
                sent_with == grpc || code == ErrorCode::InternalApi,
                "{grpc:?}"
            );
        }
        assert_eq!(
            ErrorCode::of_status(Code::OutOfRange),
            ErrorCode::InvalidParameter
        );
        assert_eq!(
            ErrorCode::of_status(Code::Cancelled).name(),
            "ERROR_REQUEST_TIMEOUT"
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
