//! E-mail as a user receives it: each template through a real SMTP conversation in English
//! and Korean, the outbox folder, and what a server that is down or refuses mail does.

use std::{process::Command, time::Duration};

use spaceid::testing::{
    domain::Email,
    error::Error,
    mail::{FirstSignIn, Mail, Mailer, Template},
};
use tonic::Code;

use crate::helpers::*;
use crate::smtp::{Behaviour, SmtpSink, closed_port_url, parse_mail};

fn mailer(flags: &[&str]) -> Mailer {
    let mut settings = test_settings("sqlite::memory:", flags);
    if !flags.contains(&"--smtp-url") {
        settings.smtp_url = None;
    }
    Mailer::from_settings(&settings).expect("a mailer")
}

fn mail_to(address: &str, name: &str, language: &str, template: Template) -> Mail {
    Mail {
        to: Email::parse(address).unwrap(),
        name: name.into(),
        language: language.into(),
        template,
    }
}

/// Each template with what its bodies must show: (template, values, English subject,
/// Korean subject).
fn every_template() -> Vec<(Template, Vec<&'static str>, &'static str, &'static str)> {
    vec![
        (
            Template::VerifyEmailCode {
                code: "481516".into(),
                minutes: 30,
            },
            vec!["481516", "30"],
            "Verify your e-mail address",
            "이메일 주소 인증",
        ),
        (
            Template::MfaCode {
                code: "234242".into(),
                minutes: 5,
            },
            vec!["234242", "5"],
            "Your multi-factor authentication code",
            "다중 인증(MFA) 코드",
        ),
        (
            Template::ResetPasswordLink {
                link: "https://console.example.com/reset?token=abc123".into(),
                hours: 2,
            },
            vec!["https://console.example.com/reset?token=abc123", "2"],
            "Reset your password",
            "비밀번호 재설정",
        ),
        (
            Template::TemporaryPassword {
                password: "Tmp-Pw9!x".into(),
            },
            vec!["Tmp-Pw9!x"],
            "Your temporary password",
            "임시 비밀번호 안내",
        ),
        (
            Template::Invitation {
                user_id: "kim@example.com".into(),
                first_sign_in: FirstSignIn::Link {
                    link: "https://console.example.com/set?token=def456".into(),
                    hours: 72,
                },
            },
            vec![
                "kim@example.com",
                "https://console.example.com/set?token=def456",
                "72",
            ],
            "Your new account",
            "계정이 생성되었습니다",
        ),
        (
            Template::Invitation {
                user_id: "kim@example.com".into(),
                first_sign_in: FirstSignIn::TemporaryPassword {
                    password: "First-Pw7!".into(),
                },
            },
            vec!["kim@example.com", "First-Pw7!"],
            "Your new account",
            "계정이 생성되었습니다",
        ),
    ]
}

#[tokio::test]
async fn every_template_arrives_over_smtp_in_english_and_korean() {
    let sink = SmtpSink::start().await;
    let mailer = mailer(&[
        "--smtp-url",
        &sink.url(),
        "--mail-from",
        "Acme Cloud <no-reply@acme.test>",
    ]);
    for (template, values, english, korean) in every_template() {
        for (language, name, subject, greeting) in [
            ("en", "Kim <Admin>", english, "Hello Kim <Admin>,"),
            ("ko-KR", "김철수", korean, "김철수님, 안녕하세요."),
        ] {
            mailer
                .send(&mail_to(
                    "kim@example.com",
                    name,
                    language,
                    template.clone(),
                ))
                .await
                .expect("sent");
            let received = sink.next_mail().await;
            assert_eq!(received.mail_from, "no-reply@acme.test");
            assert_eq!(received.rcpt_to, ["kim@example.com"]);
            let mail = received.parsed();
            assert_eq!(mail.to, "kim@example.com");
            assert_eq!(mail.to_name.as_deref(), Some(name));
            assert_eq!(mail.from, "no-reply@acme.test");
            assert_eq!(mail.subject, subject);
            assert_eq!(mail.content_type, "multipart/alternative");
            assert!(mail.text.starts_with(greeting), "{}", mail.text);
            for value in &values {
                assert!(mail.text.contains(value), "{value} in {}", mail.text);
                assert!(mail.html.contains(value), "{value} in {}", mail.html);
            }
            assert!(mail.html.contains("Kim &lt;Admin&gt;") || language == "ko-KR");
            assert!(!mail.html.contains("<Admin>"), "{}", mail.html);
        }
    }
}

#[tokio::test]
async fn other_languages_get_english() {
    let sink = SmtpSink::start().await;
    let mailer = mailer(&["--smtp-url", &sink.url()]);
    for language in ["", "ja", "en-US", "zh-CN"] {
        let template = Template::MfaCode {
            code: "111222".into(),
            minutes: 5,
        };
        mailer
            .send(&mail_to("lee@example.com", "", language, template))
            .await
            .expect("sent");
        let mail = sink.next_mail().await.parsed();
        assert_eq!(mail.subject, "Your multi-factor authentication code");
        assert!(mail.text.starts_with("Hello,"), "{}", mail.text);
        assert_eq!(mail.to_name, None);
    }
}

#[tokio::test]
async fn a_server_that_is_down_makes_mail_unavailable() {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    sink.stop().await;
    for url in [url, closed_port_url().await] {
        let err = mailer(&["--smtp-url", &url])
            .send(&mail_to("a@example.com", "A", "en", code()))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::MailUnavailable(_)), "{err:?}");
        let status = tonic::Status::from(err);
        assert_eq!(status.code(), Code::Unavailable);
        assert!(
            status.message().starts_with("ERROR_MAIL_UNAVAILABLE:"),
            "{}",
            status.message()
        );
        assert!(!status.message().contains("127.0.0.1"));
    }
}

#[tokio::test]
async fn a_server_that_refuses_the_mail_makes_mail_unavailable() {
    let sink = SmtpSink::start_with(Behaviour::RefuseRecipient).await;
    let mailer = mailer(&["--smtp-url", &sink.url()]);
    let mail = mail_to("a@example.com", "A", "en", code());
    let err = mailer.send(&mail).await.unwrap_err();
    assert!(matches!(err, Error::MailUnavailable(_)), "{err:?}");

    sink.set_behaviour(Behaviour::RefuseData);
    let err = mailer.send(&mail).await.unwrap_err();
    assert!(matches!(err, Error::MailUnavailable(_)), "{err:?}");
    assert!(
        sink.try_next_mail(Duration::from_millis(100))
            .await
            .is_none()
    );

    sink.set_behaviour(Behaviour::Accept);
    mailer
        .send(&mail)
        .await
        .expect("sent once the server takes mail again");
    assert_eq!(sink.next_mail().await.rcpt_to, ["a@example.com"]);
}

#[tokio::test]
async fn a_server_that_never_answers_makes_mail_unavailable_within_the_timeout() {
    let sink = SmtpSink::start_with(Behaviour::Silent).await;
    let mailer = mailer(&["--smtp-url", &sink.url()]).with_send_timeout(Duration::from_millis(500));
    let started = std::time::Instant::now();
    let err = mailer
        .send(&mail_to("a@example.com", "A", "en", code()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::MailUnavailable(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn without_smtp_each_mail_is_a_private_eml_file_in_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("mail/outbox");
    let mailer = mailer(&["--outbox", outbox.to_str().unwrap()]);
    assert_eq!(
        mailer.outbox().unwrap(),
        outbox,
        "mail goes to the configured folder"
    );
    for (template, values, english, _) in every_template() {
        mailer
            .send(&mail_to("park@example.com", "Park", "en", template))
            .await
            .expect("written");
        let mut files: Vec<_> = std::fs::read_dir(&outbox)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        let newest = files.last().unwrap();
        let mail = parse_mail(&std::fs::read(newest).unwrap());
        assert_eq!(mail.subject, english);
        assert_eq!(mail.to, "park@example.com");
        for value in values {
            assert!(mail.text.contains(value), "{value} in {}", mail.text);
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(newest).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", newest.display());
        }
    }
    let names: Vec<String> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), every_template().len());
    assert!(names.iter().all(|name| name.ends_with(".eml")), "{names:?}");
}

#[tokio::test]
async fn a_test_server_mails_to_its_own_outbox_or_to_the_smtp_server_it_is_given() {
    let app = TestApp::spawn().await;
    assert_eq!(app.ctx.mailer.outbox(), Some(app.outbox.clone()));
    assert!(app.outbox_mails().is_empty());
    app.ctx
        .mailer
        .send(&mail_to("a@example.com", "A", "ko", code()))
        .await
        .unwrap();
    let mails = app.outbox_mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].subject, "다중 인증(MFA) 코드");

    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(&["--smtp-url", &sink.url()]).await;
    assert_eq!(app.ctx.mailer.outbox(), None);
    app.ctx
        .mailer
        .send(&mail_to("b@example.com", "B", "en", code()))
        .await
        .unwrap();
    assert_eq!(sink.next_mail().await.rcpt_to, ["b@example.com"]);
    assert!(app.outbox_mails().is_empty());
}

#[tokio::test]
async fn the_smtp_password_shows_neither_in_help_nor_in_the_log() {
    let url = "smtp://mailer:Hunter2Secret@127.0.0.1:2525";
    let help = Command::new(env!("CARGO_BIN_EXE_spaceid"))
        .args(["serve", "--help"])
        .env("SPACEID_SMTP_URL", url)
        .output()
        .expect("run spaceid serve --help");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--smtp-url"), "{help}");
    assert!(!help.contains("Hunter2Secret"), "{help}");

    let app = TestApp::spawn().await;
    let listen = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let server = Command::new(env!("CARGO_BIN_EXE_spaceid"))
        .args(["serve", "--listen", &listen.to_string()])
        .env("DATABASE_URL", &app.database_url)
        .env("SPACEID_BCRYPT_COST", "4")
        .env("SPACEID_SMTP_URL", url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start spaceid serve");
    let mut started = false;
    // Up to 30 s: the whole suite shares two cores with this process.
    for _ in 0..600 {
        if tokio::net::TcpStream::connect(listen).await.is_ok() {
            started = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // SIGTERM: the server finishes its start-up lines, stops cleanly and says so.
    let stopped = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(stopped.success());
    let output = server.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(started, "spaceid serve did not start:\n{log}");
    assert!(
        log.lines()
            .any(|line| line.contains("sending mail") && line.contains("127.0.0.1:2525")),
        "{log}"
    );
    assert!(!log.contains("Hunter2Secret"), "{log}");
}

#[tokio::test]
async fn a_malformed_mail_setting_stops_the_server_from_starting() {
    let app = TestApp::spawn().await;
    for (setting, value) in [
        ("SPACEID_SMTP_URL", "smtp://mailer:Hunter2Secret@:25"),
        ("SPACEID_SMTP_URL", "imap://mail.example.com"),
        ("SPACEID_MAIL_FROM", "no address here"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_spaceid"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("DATABASE_URL", &app.database_url)
            .env(setting, value)
            .output()
            .expect("run spaceid serve");
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(setting), "{stderr}");
        assert!(!stderr.contains("Hunter2Secret"), "{stderr}");
    }
}

#[tokio::test]
async fn the_sink_unstuffs_leading_dots() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let sink = SmtpSink::start().await;
    let addr = sink.url().trim_start_matches("smtp://").to_owned();
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut replies = BufReader::new(read).lines();
    let mut expect = async |code: &str| {
        loop {
            let line = replies.next_line().await.unwrap().unwrap();
            assert!(line.starts_with(code), "{line}");
            if line.as_bytes().get(3) == Some(&b' ') {
                break;
            }
        }
    };
    expect("220").await;
    for (command, code) in [
        ("EHLO test\r\n", "250"),
        ("NOOP\r\n", "250"),
        ("MAIL FROM:<x@a.test>\r\n", "250"),
        ("RSET\r\n", "250"),
        ("MAIL FROM:<y@a.test>\r\n", "250"),
        ("RCPT TO:<z@b.test>\r\n", "250"),
        ("DATA\r\n", "354"),
        ("Subject: dots\r\n\r\n..starts with a dot\r\n.\r\n", "250"),
        ("QUIT\r\n", "221"),
    ] {
        write.write_all(command.as_bytes()).await.unwrap();
        expect(code).await;
    }
    let received = sink.next_mail().await;
    assert_eq!(received.mail_from, "y@a.test");
    assert_eq!(
        received.data,
        b"Subject: dots\r\n\r\n.starts with a dot\r\n"
    );
}

fn code() -> Template {
    Template::MfaCode {
        code: "975310".into(),
        minutes: 5,
    }
}
