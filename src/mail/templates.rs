//! What each mail says, in English and Korean: a subject, a plain-text body and an HTML body
//! built from the same blocks, so the two bodies cannot drift apart. Every value put into
//! the HTML body is escaped.

use std::fmt::Write as _;

/// One kind of mail, with the values it carries. `Debug` hides codes, links and passwords.
#[derive(Clone, PartialEq, Eq)]
pub enum Template {
    /// A code that proves the recipient owns the address (`UserProfile.verify_email`).
    VerifyEmailCode {
        /// The one-time code.
        code: String,
        /// Minutes until the code expires.
        minutes: u32,
    },
    /// A code for multi-factor authentication: signing in, turning MFA on or off.
    MfaCode {
        /// The one-time code.
        code: String,
        /// Minutes until the code expires.
        minutes: u32,
    },
    /// A single-use link that lets the recipient choose a new password.
    ResetPasswordLink {
        /// The link.
        link: String,
        /// Hours until the link expires.
        hours: u32,
    },
    /// A temporary password that is already in effect.
    TemporaryPassword {
        /// The password.
        password: String,
    },
    /// A new account made for the recipient, and how to sign in the first time.
    Invitation {
        /// The account's user id.
        user_id: String,
        /// A link to set the password, or a temporary password.
        first_sign_in: FirstSignIn,
    },
}

/// How the holder of a new account signs in the first time.
#[derive(Clone, PartialEq, Eq)]
pub enum FirstSignIn {
    /// A single-use link to choose a password.
    Link {
        /// The link.
        link: String,
        /// Hours until the link expires.
        hours: u32,
    },
    /// A temporary password that must be changed after signing in.
    TemporaryPassword {
        /// The password.
        password: String,
    },
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::VerifyEmailCode { minutes, .. } => f
                .debug_struct("VerifyEmailCode")
                .field("minutes", minutes)
                .finish_non_exhaustive(),
            Self::MfaCode { minutes, .. } => f
                .debug_struct("MfaCode")
                .field("minutes", minutes)
                .finish_non_exhaustive(),
            Self::ResetPasswordLink { hours, .. } => f
                .debug_struct("ResetPasswordLink")
                .field("hours", hours)
                .finish_non_exhaustive(),
            Self::TemporaryPassword { .. } => {
                f.debug_struct("TemporaryPassword").finish_non_exhaustive()
            }
            Self::Invitation {
                user_id,
                first_sign_in,
            } => f
                .debug_struct("Invitation")
                .field("user_id", user_id)
                .field("first_sign_in", first_sign_in)
                .finish(),
        }
    }
}

impl std::fmt::Debug for FirstSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Link { hours, .. } => f
                .debug_struct("Link")
                .field("hours", hours)
                .finish_non_exhaustive(),
            Self::TemporaryPassword { .. } => {
                f.debug_struct("TemporaryPassword").finish_non_exhaustive()
            }
        }
    }
}

/// A language mails are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    /// English, for every language without its own templates.
    En,
    /// Korean.
    Ko,
}

impl Locale {
    /// The locale for a user's language code: its primary subtag decides (`ko-KR` is
    /// Korean), and anything without templates, empty or malformed, is English.
    pub fn for_language(language: &str) -> Self {
        let primary = language.trim().split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("ko") {
            Self::Ko
        } else {
            Self::En
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ko => "ko",
        }
    }
}

/// A mail ready to be put into a message.
#[derive(Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
}

impl std::fmt::Debug for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rendered")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// A piece of a body: text, a code or password to copy, or a link to open.
enum Block {
    Paragraph(String),
    Secret(String),
    Link(String),
}

impl Template {
    /// The subject and both bodies in `locale`, greeting the recipient by `name` (no name
    /// when it is empty).
    pub fn render(&self, locale: Locale, name: &str) -> Rendered {
        let (subject, blocks) = match locale {
            Locale::En => self.english(),
            Locale::Ko => self.korean(),
        };
        let greeting = greeting(locale, name.trim());
        let footer = match locale {
            Locale::En => "This message was sent automatically; replies are not read.",
            Locale::Ko => "이 메일은 발신 전용입니다. 회신하셔도 확인되지 않습니다.",
        };
        let blocks: Vec<Block> = std::iter::once(Block::Paragraph(greeting))
            .chain(blocks)
            .chain(std::iter::once(Block::Paragraph(footer.to_owned())))
            .collect();
        Rendered {
            text: text_body(&blocks),
            html: html_body(locale, subject, &blocks),
            subject: subject.to_owned(),
        }
    }

    fn english(&self) -> (&'static str, Vec<Block>) {
        use Block::{Link, Paragraph, Secret};
        let ignore = "If you did not ask for this, you can ignore this e-mail.";
        match self {
            Self::VerifyEmailCode { code, minutes } => (
                "Verify your e-mail address",
                vec![
                    Paragraph("Your verification code is:".into()),
                    Secret(code.clone()),
                    Paragraph(format!(
                        "Enter it to confirm this e-mail address. It expires in {} and works once.",
                        english_count(*minutes, "minute")
                    )),
                    Paragraph(ignore.into()),
                ],
            ),
            Self::MfaCode { code, minutes } => (
                "Your multi-factor authentication code",
                vec![
                    Paragraph("Your multi-factor authentication code is:".into()),
                    Secret(code.clone()),
                    Paragraph(format!(
                        "It expires in {} and works once.",
                        english_count(*minutes, "minute")
                    )),
                    Paragraph(
                        "If you did not try to sign in or change your multi-factor settings, \
                         someone else may know your password: change it."
                            .into(),
                    ),
                ],
            ),
            Self::ResetPasswordLink { link, hours } => (
                "Reset your password",
                vec![
                    Paragraph(
                        "Someone asked to reset the password of your account. \
                         Open this link to choose a new password:"
                            .into(),
                    ),
                    Link(link.clone()),
                    Paragraph(format!(
                        "The link expires in {} and works once. Nothing about your account \
                         changes until it is used.",
                        english_count(*hours, "hour")
                    )),
                    Paragraph(ignore.into()),
                ],
            ),
            Self::TemporaryPassword { password } => (
                "Your temporary password",
                vec![
                    Paragraph(
                        "Your password was reset. Sign in with this temporary password:".into(),
                    ),
                    Secret(password.clone()),
                    Paragraph(
                        "You will be asked to choose a new password right after signing in. \
                         If you did not ask for this, contact your administrator."
                            .into(),
                    ),
                ],
            ),
            Self::Invitation {
                user_id,
                first_sign_in,
            } => {
                let mut blocks = vec![
                    Paragraph("An account was created for you.".into()),
                    Paragraph(format!("User ID: {user_id}")),
                ];
                match first_sign_in {
                    FirstSignIn::Link { link, hours } => blocks.extend([
                        Paragraph("Open this link to choose your password:".into()),
                        Link(link.clone()),
                        Paragraph(format!(
                            "The link expires in {} and works once.",
                            english_count(*hours, "hour")
                        )),
                    ]),
                    FirstSignIn::TemporaryPassword { password } => blocks.extend([
                        Paragraph("Sign in with this temporary password:".into()),
                        Secret(password.clone()),
                        Paragraph(
                            "You will be asked to choose a new password right after signing in."
                                .into(),
                        ),
                    ]),
                }
                ("Your new account", blocks)
            }
        }
    }

    fn korean(&self) -> (&'static str, Vec<Block>) {
        use Block::{Link, Paragraph, Secret};
        let ignore = "요청하지 않으셨다면 이 메일을 무시하셔도 됩니다.";
        match self {
            Self::VerifyEmailCode { code, minutes } => (
                "이메일 주소 인증",
                vec![
                    Paragraph("이메일 인증 코드는 다음과 같습니다.".into()),
                    Secret(code.clone()),
                    Paragraph(format!(
                        "이 코드를 입력하여 이메일 주소를 인증해 주세요. \
                         코드는 {minutes}분 후에 만료되며 한 번만 사용할 수 있습니다."
                    )),
                    Paragraph(ignore.into()),
                ],
            ),
            Self::MfaCode { code, minutes } => (
                "다중 인증(MFA) 코드",
                vec![
                    Paragraph("다중 인증(MFA) 코드는 다음과 같습니다.".into()),
                    Secret(code.clone()),
                    Paragraph(format!(
                        "코드는 {minutes}분 후에 만료되며 한 번만 사용할 수 있습니다."
                    )),
                    Paragraph(
                        "로그인하거나 다중 인증 설정을 변경하려 한 적이 없다면 다른 사람이 \
                         비밀번호를 알고 있을 수 있습니다. 비밀번호를 변경해 주세요."
                            .into(),
                    ),
                ],
            ),
            Self::ResetPasswordLink { link, hours } => (
                "비밀번호 재설정",
                vec![
                    Paragraph(
                        "계정의 비밀번호 재설정이 요청되었습니다. \
                         아래 링크를 열어 새 비밀번호를 설정해 주세요."
                            .into(),
                    ),
                    Link(link.clone()),
                    Paragraph(format!(
                        "링크는 {hours}시간 후에 만료되며 한 번만 사용할 수 있습니다. \
                         링크를 사용하기 전까지 계정은 변경되지 않습니다."
                    )),
                    Paragraph(ignore.into()),
                ],
            ),
            Self::TemporaryPassword { password } => (
                "임시 비밀번호 안내",
                vec![
                    Paragraph(
                        "비밀번호가 재설정되었습니다. 아래 임시 비밀번호로 로그인해 주세요.".into(),
                    ),
                    Secret(password.clone()),
                    Paragraph(
                        "로그인하면 바로 새 비밀번호를 설정하도록 안내됩니다. \
                         요청하지 않으셨다면 관리자에게 문의해 주세요."
                            .into(),
                    ),
                ],
            ),
            Self::Invitation {
                user_id,
                first_sign_in,
            } => {
                let mut blocks = vec![
                    Paragraph("회원님의 계정이 생성되었습니다.".into()),
                    Paragraph(format!("사용자 ID: {user_id}")),
                ];
                match first_sign_in {
                    FirstSignIn::Link { link, hours } => blocks.extend([
                        Paragraph("아래 링크를 열어 비밀번호를 설정해 주세요.".into()),
                        Link(link.clone()),
                        Paragraph(format!(
                            "링크는 {hours}시간 후에 만료되며 한 번만 사용할 수 있습니다."
                        )),
                    ]),
                    FirstSignIn::TemporaryPassword { password } => blocks.extend([
                        Paragraph("아래 임시 비밀번호로 로그인해 주세요.".into()),
                        Secret(password.clone()),
                        Paragraph("로그인하면 바로 새 비밀번호를 설정하도록 안내됩니다.".into()),
                    ]),
                }
                ("계정이 생성되었습니다", blocks)
            }
        }
    }
}

fn greeting(locale: Locale, name: &str) -> String {
    match (locale, name.is_empty()) {
        (Locale::En, true) => "Hello,".into(),
        (Locale::En, false) => format!("Hello {name},"),
        (Locale::Ko, true) => "안녕하세요.".into(),
        (Locale::Ko, false) => format!("{name}님, 안녕하세요."),
    }
}

/// `1 minute`, `5 minutes`.
fn english_count(count: u32, unit: &str) -> String {
    if count == 1 {
        format!("1 {unit}")
    } else {
        format!("{count} {unit}s")
    }
}

fn text_body(blocks: &[Block]) -> String {
    let mut text = String::new();
    for block in blocks {
        match block {
            Block::Paragraph(line) | Block::Link(line) => text.push_str(line),
            Block::Secret(secret) => {
                text.push_str("    ");
                text.push_str(secret);
            }
        }
        text.push_str("\n\n");
    }
    text.truncate(text.trim_end().len());
    text.push('\n');
    text
}

fn html_body(locale: Locale, subject: &str, blocks: &[Block]) -> String {
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n\
         </head>\n<body style=\"font-family: sans-serif; line-height: 1.5; color: #222;\">\n",
        locale.tag(),
        escape_html(subject)
    );
    for block in blocks {
        // `write!` to a String cannot fail.
        let _ = match block {
            Block::Paragraph(text) => writeln!(html, "<p>{}</p>", escape_html(text)),
            Block::Secret(secret) => writeln!(
                html,
                "<p style=\"font-family: monospace; font-size: 1.5em; letter-spacing: 0.1em;\">\
                 <strong>{}</strong></p>",
                escape_html(secret)
            ),
            Block::Link(link) => {
                let link = escape_html(link);
                writeln!(html, "<p><a href=\"{link}\">{link}</a></p>")
            }
        };
    }
    html.push_str("</body>\n</html>\n");
    html
}

/// `text` safe inside HTML elements and double- or single-quoted attributes.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_template() -> Vec<Template> {
        vec![
            Template::VerifyEmailCode {
                code: "123456".into(),
                minutes: 10,
            },
            Template::MfaCode {
                code: "654321".into(),
                minutes: 5,
            },
            Template::ResetPasswordLink {
                link: "https://console.example.com/reset?token=a&b=c".into(),
                hours: 1,
            },
            Template::TemporaryPassword {
                password: "Tmp<Pass>1!".into(),
            },
            Template::Invitation {
                user_id: "bob@example.com".into(),
                first_sign_in: FirstSignIn::Link {
                    link: "https://console.example.com/set?token=x".into(),
                    hours: 72,
                },
            },
            Template::Invitation {
                user_id: "<b>bob</b>".into(),
                first_sign_in: FirstSignIn::TemporaryPassword {
                    password: "Tmp-9x!".into(),
                },
            },
        ]
    }

    #[test]
    fn a_language_falls_back_to_english_unless_its_primary_subtag_is_korean() {
        for korean in ["ko", "ko-KR", "KO", "ko_KR", " ko "] {
            assert_eq!(Locale::for_language(korean), Locale::Ko, "{korean}");
        }
        for english in ["en", "en-US", "", "ja", "zh-CN", "kor", "k", "-", "x-ko"] {
            assert_eq!(Locale::for_language(english), Locale::En, "{english}");
        }
    }

    #[test]
    fn every_template_has_a_subject_and_both_bodies_in_both_languages() {
        for template in every_template() {
            let en = template.render(Locale::En, "Bob");
            let ko = template.render(Locale::Ko, "Bob");
            for rendered in [&en, &ko] {
                assert!(!rendered.subject.is_empty(), "{template:?}");
                assert!(rendered.text.contains("Bob"), "{template:?}");
                assert!(rendered.html.contains("Bob"), "{template:?}");
            }
            assert_ne!(en.subject, ko.subject);
            assert!(en.text.starts_with("Hello Bob,"));
            assert!(ko.text.starts_with("Bob님, 안녕하세요."));
            assert!(en.html.contains("<html lang=\"en\">"));
            assert!(ko.html.contains("<html lang=\"ko\">"));
        }
    }

    #[test]
    fn korean_subjects_are_korean() {
        let code = Template::VerifyEmailCode {
            code: "123456".into(),
            minutes: 10,
        };
        let rendered = code.render(Locale::for_language("ko-KR"), "김철수");
        assert_eq!(rendered.subject, "이메일 주소 인증");
        assert!(
            rendered.text.contains("10분 후에 만료"),
            "{}",
            rendered.text
        );
        assert!(rendered.text.contains("    123456\n"), "{}", rendered.text);
        assert!(rendered.text.starts_with("김철수님, 안녕하세요."));
    }

    #[test]
    fn the_values_a_mail_carries_appear_in_both_bodies() {
        let link = Template::ResetPasswordLink {
            link: "https://console.example.com/reset?token=a&b=c".into(),
            hours: 1,
        }
        .render(Locale::En, "");
        assert!(link.text.starts_with("Hello,\n"));
        assert!(
            link.text
                .contains("\nhttps://console.example.com/reset?token=a&b=c\n")
        );
        assert!(link.text.contains("expires in 1 hour and"));
        assert!(link.html.contains(
            "<a href=\"https://console.example.com/reset?token=a&amp;b=c\">\
             https://console.example.com/reset?token=a&amp;b=c</a>"
        ));
        let password = Template::TemporaryPassword {
            password: "Tmp<Pass>1!".into(),
        }
        .render(Locale::Ko, "");
        assert!(password.text.starts_with("안녕하세요.\n"));
        assert!(password.text.contains("    Tmp<Pass>1!\n"));
        assert!(password.html.contains("Tmp&lt;Pass&gt;1!"));
        let invitation = Template::Invitation {
            user_id: "bob@example.com".into(),
            first_sign_in: FirstSignIn::Link {
                link: "https://x.test/set".into(),
                hours: 72,
            },
        }
        .render(Locale::En, "Bob");
        assert!(invitation.text.contains("User ID: bob@example.com"));
        assert!(invitation.text.contains("expires in 72 hours"));
    }

    #[test]
    fn html_escapes_every_interpolated_value() {
        let name = "<script>alert('x')</script> & \"Co\"";
        for template in every_template() {
            for locale in [Locale::En, Locale::Ko] {
                let html = template.render(locale, name).html;
                assert!(!html.contains("<script>"), "{html}");
                assert!(!html.contains("<b>"), "{html}");
                assert!(!html.contains("Tmp<Pass>"), "{html}");
                assert!(
                    html.contains(
                        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;Co&quot;"
                    ),
                    "{html}"
                );
            }
        }
    }

    #[test]
    fn debug_hides_codes_links_and_passwords() {
        for template in every_template() {
            let debug = format!("{template:?}");
            for secret in ["123456", "654321", "token", "Tmp"] {
                assert!(!debug.contains(secret), "{debug}");
            }
            let rendered = format!("{:?}", template.render(Locale::En, "Bob"));
            assert!(!rendered.contains("123456") && !rendered.contains("Tmp"));
        }
    }
}
