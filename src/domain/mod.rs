//! Rules and types that validate: a value of these types has already passed its checks.

pub mod codes;
pub mod fields;
pub mod gate;
pub mod ids;
mod named;
pub mod otp;
pub mod password;
pub mod records;
pub mod roles;
pub mod system_tokens;
pub mod throttle;

pub use codes::{Code, CodeKey, CodePurpose, CodeSlot, MAX_CODE_ATTEMPTS};
pub use fields::{Email, Language, Name, Tags, Timezone, account_key, normalized, quoted};
pub use gate::{QueryGate, QuerySlot};
pub use ids::{CodeId, DomainId, RoleBindingId, RoleId, UserId, WorkspaceGroupId, WorkspaceId};
pub use otp::OtpSecret;
pub use password::{Password, PasswordHasher};
pub use records::{
    AuthType, CredentialStamp, Domain, DomainState, FindFilter, KeyListing, KeyPurpose, Listing,
    Member, MemberFilter, Mfa, MfaState, MfaType, NewUser, OneTimeCode, RequiredAction,
    RoleBinding, SigningKey, User, UserState, UserSummary, UserView, Workspace, WorkspaceGroup,
    WorkspaceGroupMember, WorkspaceState, WorkspaceWithRole,
};
pub use roles::{ResourceGroup, Role, RoleType, TokenRole, WORKSPACE_WILDCARD};
pub use system_tokens::{ROOT_DOMAIN_ID, SystemToken, SystemTokenName};
pub use throttle::SignInThrottle;

/// Formats a time the way SpaceONE sends times: ISO 8601 UTC with milliseconds.
pub fn format_time(time: chrono::DateTime<chrono::Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    #[test]
    fn times_have_milliseconds_and_a_z() {
        let time = chrono::Utc
            .timestamp_millis_opt(1_731_391_564_999)
            .single()
            .unwrap();
        assert_eq!(super::format_time(time), "2024-11-12T06:06:04.999Z");
    }
}
