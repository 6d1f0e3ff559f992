//! One-time codes: six digits from the OS random source, stored only as a keyed hash
//! (HMAC-SHA256) bound to the domain, the user, the purpose and the address the code went
//! to, so a code for one of these is wrong for any other.

use hmac::{Hmac, Mac};
use rand::{TryRngCore, rngs::OsRng};
use sha2::Sha256;

use super::named::named_enum;
use super::{DomainId, UserId};
use crate::error::{Error, Result};

/// Wrong submissions a code allows; the next is refused even with the right code.
pub const MAX_CODE_ATTEMPTS: i32 = 5;

named_enum!(
    /// What a code confirms.
    CodePurpose, "purpose" {
        /// That the user owns an e-mail address (`verify_email`, `confirm_email`).
        VerifyEmail = "VERIFY_EMAIL",
        /// Turning MFA on (`enable_mfa`, `confirm_mfa`).
        EnableMfa = "ENABLE_MFA",
        /// Turning MFA off (`disable_mfa`, `confirm_mfa`).
        DisableMfa = "DISABLE_MFA",
        /// The second step of a sign-in (`Token.issue` with `verify_code`) from an address
        /// the user has signed in from lately (`domain::throttle::FAMILIAR_FOR`).
        SignIn = "MFA_SIGN_IN",
        /// The same from any other address: its codes, tries and mails are counted apart,
        /// so someone who knows the password cannot use them up for the owner at a familiar
        /// address.
        SignInFromNewAddress = "MFA_SIGN_IN_NEW_ADDRESS",
    }
);

impl CodePurpose {
    /// Where the user's live code of this purpose is kept.
    pub fn slot(self) -> CodeSlot {
        match self {
            Self::VerifyEmail => CodeSlot::VerifyEmail,
            Self::EnableMfa => CodeSlot::EnableMfa,
            Self::DisableMfa => CodeSlot::DisableMfa,
            Self::SignIn => CodeSlot::SignIn,
            Self::SignInFromNewAddress => CodeSlot::SignInFromNewAddress,
        }
    }

    /// Where the mails of this purpose are counted.
    pub fn mails(self) -> CodeSlot {
        match self {
            Self::VerifyEmail => CodeSlot::VerifyEmailMails,
            Self::EnableMfa => CodeSlot::EnableMfaMails,
            Self::DisableMfa => CodeSlot::DisableMfaMails,
            Self::SignIn => CodeSlot::SignInMails,
            Self::SignInFromNewAddress => CodeSlot::SignInFromNewAddressMails,
        }
    }
}

named_enum!(
    /// What a row of the codes table holds for a user (at most one row per user and slot):
    /// a live code, a password reset link, or a count within a window.
    CodeSlot, "purpose" {
        /// The code of `CodePurpose::VerifyEmail`.
        VerifyEmail = "VERIFY_EMAIL",
        /// The code of `CodePurpose::EnableMfa`.
        EnableMfa = "ENABLE_MFA",
        /// The code of `CodePurpose::DisableMfa`.
        DisableMfa = "DISABLE_MFA",
        /// The code of `CodePurpose::SignIn`.
        SignIn = "MFA_SIGN_IN",
        /// The code of `CodePurpose::SignInFromNewAddress`.
        SignInFromNewAddress = "MFA_SIGN_IN_NEW_ADDRESS",
        /// A password reset link.
        ResetLink = "RESET_PASSWORD",
        /// Mails of e-mail verification codes sent in the current window.
        VerifyEmailMails = "VERIFY_EMAIL_MAILS",
        /// Mails of MFA enrolment codes sent in the current window.
        EnableMfaMails = "ENABLE_MFA_MAILS",
        /// Mails of MFA removal codes sent in the current window.
        DisableMfaMails = "DISABLE_MFA_MAILS",
        /// Mails of sign-in codes sent in the current window.
        SignInMails = "MFA_SIGN_IN_MAILS",
        /// Mails of sign-in codes to unfamiliar addresses sent in the current window.
        SignInFromNewAddressMails = "MFA_SIGN_IN_NEW_ADDRESS_MAILS",
        /// Mails of password reset links sent in the current window.
        ResetLinkMails = "RESET_PASSWORD_MAILS",
        /// TOTP codes tried in the current window.
        OtpTries = "OTP_TRIES",
        /// TOTP codes tried at sign-ins from unfamiliar addresses in the current window.
        OtpTriesFromNewAddress = "OTP_TRIES_NEW_ADDRESS",
        /// The last TOTP time step used, so no TOTP code works twice.
        OtpLastStep = "OTP_LAST_STEP",
    }
);

/// A code as sent to the user or submitted by one: exactly six ASCII digits.
#[derive(Clone, PartialEq, Eq)]
pub struct Code(String);

impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Code(******)")
    }
}

impl Code {
    /// A new code, uniform over 000000 to 999999, from the OS random source.
    pub fn generate() -> Result<Self> {
        // Rejection sampling: 4,294,000,000 is the largest multiple of 10^6 below 2^32.
        loop {
            let value = OsRng
                .try_next_u32()
                .map_err(|err| Error::internal(format!("the OS random source failed: {err}")))?;
            if value < 4_294_000_000 {
                return Ok(Self(format!("{:06}", value % 1_000_000)));
            }
        }
    }

    /// A submitted code.
    pub fn parse(key: &'static str, value: &str) -> Result<Self> {
        if value.is_empty() {
            return Err(Error::required(key));
        }
        if value.len() != 6 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid(key, "must be the 6 digits that were sent"));
        }
        Ok(Self(value.to_owned()))
    }

    /// The digits, to put in a mail.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The key codes are hashed with: the server's secret, the same on every replica.
#[derive(Clone)]
pub struct CodeKey(Vec<u8>);

impl std::fmt::Debug for CodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeKey(..)")
    }
}

impl CodeKey {
    /// A key from secret bytes (at least 32).
    pub fn new(secret: &[u8]) -> Result<Self> {
        if secret.len() < 32 {
            return Err(Error::internal("the code key must have at least 32 bytes"));
        }
        Ok(Self(secret.to_vec()))
    }

    /// The hash a code is stored as, bound to where it belongs and where it went.
    pub fn hash(
        &self,
        domain_id: &DomainId,
        user_id: &UserId,
        purpose: CodePurpose,
        address: &str,
        code: &Code,
    ) -> String {
        let mut mac = self.mac();
        for part in [
            domain_id.as_str(),
            user_id.as_str(),
            purpose.as_str(),
            address,
            code.expose(),
        ] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// Whether `code` is the one `stored` was made from, compared in constant time.
    pub fn matches(
        &self,
        stored: &str,
        domain_id: &DomainId,
        user_id: &UserId,
        purpose: CodePurpose,
        address: &str,
        code: &Code,
    ) -> bool {
        let computed = self.hash(domain_id, user_id, purpose, address, code);
        computed.len() == stored.len()
            && computed
                .bytes()
                .zip(stored.bytes())
                .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                == 0
    }

    /// `secret` encrypted (AES-256-GCM, a key derived from this one, a random nonce), as
    /// base64 of nonce and ciphertext.
    pub fn seal(&self, secret: &[u8]) -> Result<String> {
        use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng as AeadRng};
        let cipher = aes_gcm::Aes256Gcm::new(&self.sealing_key().into());
        let nonce = aes_gcm::Aes256Gcm::generate_nonce(&mut AeadRng);
        let sealed = cipher
            .encrypt(&nonce, secret)
            .map_err(|_| Error::internal("cannot seal a secret"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            out,
        ))
    }

    /// The secret `seal` made `sealed` from.
    pub fn open(&self, sealed: &str) -> Result<Vec<u8>> {
        use aes_gcm::aead::{Aead, KeyInit};
        let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, sealed)
            .map_err(|_| Error::internal("a sealed secret is not base64"))?;
        if bytes.len() < 12 {
            return Err(Error::internal("a sealed secret is too short"));
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let cipher = aes_gcm::Aes256Gcm::new(&self.sealing_key().into());
        cipher
            .decrypt(aes_gcm::Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| Error::internal("a sealed secret does not open with this key"))
    }

    fn sealing_key(&self) -> [u8; 32] {
        let mut mac = self.mac();
        mac.update(b"spaceid sealing key");
        mac.finalize().into_bytes().into()
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes a key of any length")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_with_leading_zeros_kept() {
        for _ in 0..1000 {
            let code = Code::generate().unwrap();
            assert_eq!(code.expose().len(), 6);
            assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
        }
        assert!(Code::parse("verify_code", "012345").is_ok());
        assert!(Code::parse("verify_code", "12345").is_err());
        assert!(Code::parse("verify_code", "1234567").is_err());
        assert!(Code::parse("verify_code", "12345a").is_err());
        assert!(Code::parse("verify_code", "１２３４５６").is_err());
        assert!(format!("{:?}", Code::parse("verify_code", "012345").unwrap()).contains("***"));
    }

    #[test]
    fn sealed_secrets_open_with_their_key_only() {
        let key = CodeKey::new(&[7; 32]).unwrap();
        let sealed = key.seal(b"secret bytes").unwrap();
        assert_ne!(
            key.seal(b"secret bytes").unwrap(),
            sealed,
            "a fresh nonce each time"
        );
        assert_eq!(key.open(&sealed).unwrap(), b"secret bytes");
        assert!(CodeKey::new(&[8; 32]).unwrap().open(&sealed).is_err());
    }

    #[test]
    fn a_hash_is_bound_to_everything_it_names() {
        let key = CodeKey::new(&[7; 32]).unwrap();
        let code = Code::parse("c", "000123").unwrap();
        let stored = key.hash(
            &DomainId::new("d1"),
            &UserId::new("u1"),
            CodePurpose::VerifyEmail,
            "a@x.io",
            &code,
        );
        let check = |d: &str, u: &str, p, a, c: &str| {
            key.matches(
                &stored,
                &DomainId::new(d),
                &UserId::new(u),
                p,
                a,
                &Code::parse("c", c).unwrap(),
            )
        };
        assert!(check(
            "d1",
            "u1",
            CodePurpose::VerifyEmail,
            "a@x.io",
            "000123"
        ));
        assert!(!check(
            "d2",
            "u1",
            CodePurpose::VerifyEmail,
            "a@x.io",
            "000123"
        ));
        assert!(!check(
            "d1",
            "u2",
            CodePurpose::VerifyEmail,
            "a@x.io",
            "000123"
        ));
        assert!(!check("d1", "u1", CodePurpose::SignIn, "a@x.io", "000123"));
        assert!(!check(
            "d1",
            "u1",
            CodePurpose::VerifyEmail,
            "b@x.io",
            "000123"
        ));
        assert!(!check(
            "d1",
            "u1",
            CodePurpose::VerifyEmail,
            "a@x.io",
            "000124"
        ));
        let other_key = CodeKey::new(&[8; 32]).unwrap();
        assert!(!other_key.matches(
            &stored,
            &DomainId::new("d1"),
            &UserId::new("u1"),
            CodePurpose::VerifyEmail,
            "a@x.io",
            &code
        ));
    }
}
