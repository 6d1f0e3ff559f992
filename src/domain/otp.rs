//! TOTP (RFC 6238) for MFA type OTP: a 160-bit secret from the OS random source, 6 digits,
//! 30-second steps, one step of clock skew either way. The secret is stored sealed
//! (`CodeKey::seal`) and shown to the user once, when MFA is set up.

use rand::{TryRngCore, rngs::OsRng};
use totp_rs::{Algorithm, TOTP};

use super::Code;
use crate::error::{Error, Result};

/// Seconds per TOTP step.
pub const STEP_SECS: u64 = 30;

/// A user's TOTP secret.
#[derive(Clone)]
pub struct OtpSecret(Vec<u8>);

impl std::fmt::Debug for OtpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OtpSecret(..)")
    }
}

impl OtpSecret {
    /// A new secret of 20 random bytes.
    pub fn generate() -> Result<Self> {
        let mut bytes = vec![0u8; 20];
        OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|err| Error::internal(format!("the OS random source failed: {err}")))?;
        Ok(Self(bytes))
    }

    /// A secret from its bytes (as unsealed).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The raw bytes, to seal.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    fn totp(&self, account: &str) -> Result<TOTP> {
        // The otpauth label may not hold ':'.
        let account = account.replace(':', "_");
        TOTP::new(
            Algorithm::SHA1,
            6,
            1,
            STEP_SECS,
            self.0.clone(),
            Some("spaceid".to_owned()),
            account,
        )
        .map_err(|err| Error::internal(format!("cannot make a TOTP: {err}")))
    }

    /// The secret in base32, as authenticator apps take it.
    pub fn base32(&self) -> Result<String> {
        Ok(self.totp("user")?.get_secret_base32())
    }

    /// The `otpauth://totp/...` URI for `account`.
    pub fn uri(&self, account: &str) -> Result<String> {
        Ok(self.totp(account)?.get_url())
    }

    /// The step whose code `code` is, within one step of `now` (seconds since the epoch).
    pub fn matching_step(&self, code: &Code, now: u64) -> Result<Option<u64>> {
        let totp = self.totp("user")?;
        let current = now / STEP_SECS;
        Ok([current.saturating_sub(1), current, current + 1]
            .into_iter()
            .find(|step| {
                let expected = totp.generate(step * STEP_SECS);
                expected.len() == code.expose().len()
                    && expected
                        .bytes()
                        .zip(code.expose().bytes())
                        .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                        == 0
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_their_step_and_its_neighbours_only() {
        // RFC 6238's SHA-1 test secret.
        let secret = OtpSecret::from_bytes(b"12345678901234567890".to_vec());
        let code = Code::parse("c", "287082").unwrap(); // at T = 59 s, 8 digits 94287082
        assert_eq!(secret.matching_step(&code, 59).unwrap(), Some(1));
        assert_eq!(secret.matching_step(&code, 59 + 30).unwrap(), Some(1));
        assert_eq!(secret.matching_step(&code, 59 + 90).unwrap(), None);
        assert!(
            secret
                .uri("bob@acme.test")
                .unwrap()
                .starts_with("otpauth://totp/")
        );
        assert_eq!(secret.base32().unwrap().len(), 32);
    }
}
