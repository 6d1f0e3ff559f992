//! E-mail: the `Mailer` that sends codes, links and passwords to users, through an SMTP
//! relay when one is configured and into an outbox folder otherwise, and the templates
//! (`templates`) that say what each mail holds in the user's language.

mod outbox;
mod smtp;
pub mod templates;

use std::{path::PathBuf, str::FromStr, time::Duration};

use lettre::{
    Address, Message,
    message::{
        Mailbox, MultiPart,
        header::{HeaderName, HeaderValue},
    },
};

use crate::config::Settings;
use crate::domain::{Email, quoted};
use crate::error::{Error, Result};

pub use templates::{FirstSignIn, Locale, Rendered, Template};

use outbox::Outbox;
use smtp::SmtpRelay;

/// How long sending one mail through SMTP may take, all steps together.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// One mail to one user: whom it goes to and what it says.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The recipient's address.
    pub to: Email,
    /// The recipient's display name; may be empty.
    pub name: String,
    /// The recipient's language code (`en`, `ko`, `ko-KR`, ...); any language without
    /// templates, or none, gets English.
    pub language: String,
    /// What the mail says.
    pub template: Template,
}

impl Mail {
    /// The subject and bodies this mail will have.
    pub fn render(&self) -> Rendered {
        self.template
            .render(Locale::for_language(&self.language), &self.name)
    }

    /// The full message from `from`: multipart/alternative, plain text then HTML.
    fn message(&self, from: &Mailbox) -> Result<Message> {
        let address = Address::from_str(self.to.as_str()).map_err(|_| {
            Error::invalid(
                "email",
                format!("{} cannot be mailed to", quoted(self.to.as_str())),
            )
        })?;
        // A display name is a header value: no line breaks or other controls in it.
        let name: String = self.name.chars().filter(|c| !c.is_control()).collect();
        let name = Some(name.trim().to_owned()).filter(|name| !name.is_empty());
        let Rendered {
            subject,
            text,
            html,
        } = self.render();
        Message::builder()
            .from(from.clone())
            .to(Mailbox::new(name, address))
            .subject(subject)
            .message_id(None)
            // RFC 3834: tells vacation responders not to answer.
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".to_owned(),
            ))
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|err| Error::internal(format!("cannot build a mail: {err}")))
    }
}

/// Sends mail: to an SMTP relay, or into an outbox folder when there is none.
#[derive(Debug, Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
    timeout: Duration,
}

#[derive(Debug, Clone)]
enum Transport {
    Smtp(SmtpRelay),
    Outbox(Outbox),
}

impl Mailer {
    /// The mailer the settings describe: SMTP when `smtp_url` is set and not empty, the
    /// `outbox` folder otherwise. A malformed URL or From address is an error that names
    /// its setting.
    pub fn from_settings(settings: &Settings) -> Result<Self> {
        let from = Mailbox::from_str(&settings.mail_from).map_err(|err| {
            Error::Config(format!(
                "invalid SPACEID_MAIL_FROM {}: {err}; expected a mailbox such as \
                 'spaceid <no-reply@example.com>'",
                quoted(&settings.mail_from)
            ))
        })?;
        let transport = match settings.smtp_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => Transport::Smtp(SmtpRelay::from_url(url)?),
            _ => Transport::Outbox(Outbox::new(&settings.outbox)),
        };
        Ok(Self {
            from,
            transport,
            timeout: SEND_TIMEOUT,
        })
    }

    /// The same mailer with another limit on the time one SMTP delivery may take.
    pub fn with_send_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Where mail goes, for the start-up log: the outbox folder, or the SMTP server's host,
    /// port and TLS mode (never its credentials).
    pub fn destination(&self) -> String {
        match &self.transport {
            Transport::Smtp(relay) => format!("SMTP {}", relay.endpoint()),
            Transport::Outbox(outbox) => format!("outbox {}", outbox.dir().display()),
        }
    }

    /// The outbox folder, when mail goes to one.
    pub fn outbox(&self) -> Option<PathBuf> {
        match &self.transport {
            Transport::Smtp(_) => None,
            Transport::Outbox(outbox) => Some(outbox.dir().to_owned()),
        }
    }

    /// Sends `mail`. An SMTP server that is down, silent for longer than the send timeout,
    /// or that refuses the mail is `MailUnavailable` (its cause is logged); an outbox that
    /// cannot be written is `Internal`.
    pub async fn send(&self, mail: &Mail) -> Result<()> {
        let message = mail.message(&self.from)?;
        let sent = match &self.transport {
            Transport::Smtp(relay) => relay.send(message, self.timeout).await,
            Transport::Outbox(outbox) => outbox
                .deliver(message.formatted())
                .await
                .map(|path| tracing::info!(path = %path.display(), "mail written to the outbox")),
        };
        match &sent {
            Ok(()) => metrics::counter!("spaceid_mail_sent_total").increment(1),
            Err(_) => metrics::counter!("spaceid_mail_failed_total").increment(1),
        }
        sent
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::Cli;

    fn settings(flags: &[&str]) -> Settings {
        let args = ["spaceid", "serve"].iter().chain(flags);
        let mut settings = Cli::try_parse_from(args).unwrap().settings().unwrap();
        if !flags.contains(&"--smtp-url") {
            settings.smtp_url = None;
        }
        settings
    }

    fn mail(name: &str, language: &str) -> Mail {
        Mail {
            to: Email::parse("bob@example.com").unwrap(),
            name: name.into(),
            language: language.into(),
            template: Template::MfaCode {
                code: "246810".into(),
                minutes: 5,
            },
        }
    }

    #[test]
    fn the_default_is_an_outbox_in_the_working_directory() {
        let mailer = Mailer::from_settings(&settings(&["--mail-from", "x <a@b.test>"])).unwrap();
        let outbox = mailer.outbox().unwrap();
        assert!(
            outbox.is_absolute() && outbox.ends_with("outbox"),
            "{outbox:?}"
        );
        assert!(mailer.destination().starts_with("outbox /"));
        let default = Mailer::from_settings(&settings(&[])).unwrap();
        assert_eq!(default.from.to_string(), "spaceid <no-reply@localhost>");
    }

    #[test]
    fn an_smtp_url_selects_smtp_and_the_destination_hides_the_password() {
        let mailer = Mailer::from_settings(&settings(&[
            "--smtp-url",
            "smtp://user:hunter2@mail.example.com?tls=required",
        ]))
        .unwrap();
        assert_eq!(
            mailer.destination(),
            "SMTP mail.example.com:587 (STARTTLS required)"
        );
        assert!(mailer.outbox().is_none());
        let blank = Mailer::from_settings(&settings(&["--smtp-url", " "])).unwrap();
        assert!(blank.outbox().is_some());
    }

    #[test]
    fn malformed_settings_are_errors_that_name_the_setting() {
        let err = Mailer::from_settings(&settings(&["--mail-from", "not an address"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("SPACEID_MAIL_FROM"), "{err}");
        let err = Mailer::from_settings(&settings(&["--smtp-url", "smtp://u:hunter2@"]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("SPACEID_SMTP_URL") && !err.contains("hunter2"),
            "{err}"
        );
    }

    #[test]
    fn a_message_is_multipart_alternative_to_the_named_recipient() {
        let from = Mailbox::from_str("spaceid <no-reply@localhost>").unwrap();
        let formatted = mail("Bob \"B\"\r\nBcc: eve@evil.test", "ko-KR")
            .message(&from)
            .unwrap()
            .formatted();
        let text = String::from_utf8(formatted).unwrap();
        let headers = text.split("\r\n\r\n").next().unwrap();
        assert!(
            headers.contains("From: spaceid <no-reply@localhost>"),
            "{headers}"
        );
        assert!(headers.contains("bob@example.com"), "{headers}");
        assert!(!headers.contains("\r\nBcc:"), "{headers}");
        assert!(headers.contains("Subject: =?utf-8?"), "{headers}");
        assert!(headers.contains("Message-ID: <"), "{headers}");
        assert!(
            headers.contains("Auto-Submitted: auto-generated"),
            "{headers}"
        );
        assert!(text.contains("multipart/alternative"), "{text}");
        assert!(
            text.contains("text/plain") && text.contains("text/html"),
            "{text}"
        );
    }

    #[test]
    fn a_mail_renders_in_its_recipients_language() {
        assert_eq!(mail("", "ko").render().subject, "다중 인증(MFA) 코드");
        assert_eq!(
            mail("", "fr").render().subject,
            "Your multi-factor authentication code"
        );
        assert!(!format!("{:?}", mail("", "en")).contains("246810"));
    }
}
