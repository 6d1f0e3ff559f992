//! Delivery to an SMTP server through lettre, configured by one URL.

use std::time::Duration;

use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::error::{Error, Result};

/// How long lettre waits for any one step (connecting, each command) before giving up.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// An SMTP relay: where it is, and a transport that opens a connection for each mail.
#[derive(Clone)]
pub(super) struct SmtpRelay {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    endpoint: String,
}

impl std::fmt::Debug for SmtpRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport's own Debug would print the credentials.
        f.debug_struct("SmtpRelay")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl SmtpRelay {
    /// A relay from `smtp://[USER:PASSWORD@]HOST[:PORT][?tls=required|opportunistic]` or
    /// `smtps://[USER:PASSWORD@]HOST[:PORT]`. Errors never quote the URL, which may hold a
    /// password.
    pub(super) fn from_url(text: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::Config(format!("invalid SPACEID_SMTP_URL: {reason}"));
        let url = url::Url::parse(text).map_err(|err| invalid(&err.to_string()))?;
        let mut tls = None;
        for (key, value) in url.query_pairs() {
            match (key.as_ref(), value.as_ref()) {
                ("tls", "required" | "opportunistic") if tls.is_none() => {
                    tls = Some(value.into_owned());
                }
                ("tls", _) => {
                    return Err(invalid(
                        "tls must be given once, as required or opportunistic",
                    ));
                }
                _ => return Err(invalid("the only query parameter it takes is tls")),
            }
        }
        let (port, security) = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => (25, "no TLS"),
            ("smtp", Some("required")) => (587, "STARTTLS required"),
            ("smtp", Some(_)) => (587, "STARTTLS when offered"),
            ("smtps", None) => (465, "implicit TLS"),
            ("smtps", Some(_)) => {
                return Err(invalid(
                    "smtps:// always uses TLS and takes no tls parameter",
                ));
            }
            _ => return Err(invalid("the scheme must be smtp or smtps")),
        };
        let host = url
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| invalid("it names no host"))?;
        if !url.username().is_empty() && url.password().is_none() {
            return Err(invalid("it has a user name but no password"));
        }
        let endpoint = format!("{host}:{} ({security})", url.port().unwrap_or(port));
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(text)
            .map_err(|err| invalid(&err.to_string()))?
            .timeout(Some(COMMAND_TIMEOUT))
            .build();
        Ok(Self {
            transport,
            endpoint,
        })
    }

    /// Where mail goes, for the log: host, port and TLS mode, never the credentials.
    pub(super) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Hands `message` to the server within `timeout`. A server that cannot be reached,
    /// does not answer in time or refuses the mail is `MailUnavailable`; the cause is
    /// logged here and not passed on.
    pub(super) async fn send(&self, message: Message, timeout: Duration) -> Result<()> {
        let unavailable = |cause: String| {
            tracing::warn!(server = %self.endpoint, error = %cause, "cannot send mail");
            Error::MailUnavailable(cause)
        };
        match tokio::time::timeout(timeout, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(unavailable(err.to_string())),
            Err(_) => Err(unavailable(format!(
                "no answer within {} s",
                timeout.as_secs_f32()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(url: &str) -> String {
        SmtpRelay::from_url(url).unwrap().endpoint().to_owned()
    }

    fn refusal(url: &str) -> String {
        SmtpRelay::from_url(url).unwrap_err().to_string()
    }

    #[test]
    fn the_url_forms_name_host_port_and_tls() {
        assert_eq!(endpoint("smtp://127.0.0.1:2525"), "127.0.0.1:2525 (no TLS)");
        assert_eq!(
            endpoint("smtp://mail.example.com"),
            "mail.example.com:25 (no TLS)"
        );
        assert_eq!(
            endpoint("smtp://user:p%40ss@mail.example.com?tls=required"),
            "mail.example.com:587 (STARTTLS required)"
        );
        assert_eq!(
            endpoint("smtp://mail.example.com:2587?tls=opportunistic"),
            "mail.example.com:2587 (STARTTLS when offered)"
        );
        assert_eq!(
            endpoint("smtps://user:secret@mail.example.com"),
            "mail.example.com:465 (implicit TLS)"
        );
    }

    #[test]
    fn malformed_urls_are_refused_without_quoting_the_password() {
        for url in [
            "mail.example.com",
            "http://user:secret@mail.example.com",
            "smtp://user:secret@mail.example.com?tls=yes",
            "smtp://user:secret@mail.example.com?tls=required&tls=opportunistic",
            "smtp://user:secret@mail.example.com?timeout=5",
            "smtps://user:secret@mail.example.com?tls=required",
            "smtp://user@mail.example.com",
            "smtp://user:secret@:25",
            "smtp://user:secret@mail.example.com:99999",
        ] {
            let message = refusal(url);
            assert!(message.contains("SPACEID_SMTP_URL"), "{url}: {message}");
            assert!(!message.contains("secret"), "{url}: {message}");
        }
        assert!(refusal("http://x").contains("scheme"));
        assert!(refusal("smtp://x?tls=yes").contains("tls"));
    }

    #[test]
    fn debug_hides_the_credentials() {
        let relay =
            SmtpRelay::from_url("smtp://user:secret@mail.example.com?tls=required").unwrap();
        let debug = format!("{relay:?}");
        assert!(
            !debug.contains("secret") && debug.contains("mail.example.com"),
            "{debug}"
        );
    }
}
