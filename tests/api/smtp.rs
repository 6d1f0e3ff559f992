//! A tiny SMTP server on 127.0.0.1:0 that records what it receives, can be told to refuse
//! or to stay silent, and a parser that turns a received message into what a reader sees.

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use mail_parser::{MessageParser, MimeHeaders};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::mpsc,
    task::JoinHandle,
};

/// How the sink answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Takes every mail.
    Accept,
    /// Answers `550` to every RCPT TO.
    RefuseRecipient,
    /// Answers `451` to DATA.
    RefuseData,
    /// Accepts connections and never says a word.
    Silent,
}

/// One mail as the server received it: the envelope and the raw message.
#[derive(Debug, Clone)]
pub struct Received {
    /// The MAIL FROM address.
    pub mail_from: String,
    /// The RCPT TO addresses.
    pub rcpt_to: Vec<String>,
    /// The message, dot-unstuffed, with its CRLF line ends.
    pub data: Vec<u8>,
}

impl Received {
    /// The message as a reader sees it.
    pub fn parsed(&self) -> ParsedMail {
        parse_mail(&self.data)
    }
}

/// An SMTP server for tests. Dropping it stops it.
pub struct SmtpSink {
    addr: std::net::SocketAddr,
    behaviour: Arc<Mutex<Behaviour>>,
    mails: tokio::sync::Mutex<mpsc::UnboundedReceiver<Received>>,
    task: JoinHandle<()>,
}

impl SmtpSink {
    /// A sink that accepts every mail.
    pub async fn start() -> Self {
        Self::start_with(Behaviour::Accept).await
    }

    /// A sink that answers as `behaviour` says.
    pub async fn start_with(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let addr = listener.local_addr().unwrap();
        let behaviour = Arc::new(Mutex::new(behaviour));
        let (sender, mails) = mpsc::unbounded_channel();
        let shared = behaviour.clone();
        let task = tokio::spawn(async move {
            let mut sessions = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let behaviour = *shared.lock().unwrap();
                sessions.spawn(session(stream, behaviour, sender.clone()));
            }
        });
        Self {
            addr,
            behaviour,
            mails: tokio::sync::Mutex::new(mails),
            task,
        }
    }

    /// The URL to give `--smtp-url`: plain SMTP on this sink's port.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Changes how the sink answers new connections.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    /// Stops the sink and waits until its port is closed.
    pub async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }

    /// The next mail received, waiting at most 5 s for it.
    pub async fn next_mail(&self) -> Received {
        self.try_next_mail(Duration::from_secs(5))
            .await
            .expect("a mail within 5 s")
    }

    /// The next mail received within `timeout`, if any.
    pub async fn try_next_mail(&self, timeout: Duration) -> Option<Received> {
        let mut mails = self.mails.lock().await;
        tokio::time::timeout(timeout, mails.recv())
            .await
            .ok()
            .flatten()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which ends every open session.
        self.task.abort();
    }
}

/// An SMTP URL on which nothing listens: a port that was just bound, then released.
pub async fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("smtp://{addr}")
}

async fn session(stream: TcpStream, behaviour: Behaviour, mails: mpsc::UnboundedSender<Received>) {
    if behaviour == Behaviour::Silent {
        // Hold the connection open without a greeting until the client gives up.
        let mut stream = stream;
        let mut sink = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut sink).await;
        return;
    }
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut envelope: Option<(String, Vec<String>)> = None;
    if write.write_all(b"220 sink ESMTP ready\r\n").await.is_err() {
        return;
    }
    loop {
        let mut line = Vec::new();
        match lines.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&line).trim_end().to_owned();
        let verb = line
            .split([' ', ':'])
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink greets you\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n",
            "HELO" => b"250 sink\r\n",
            "MAIL" => {
                envelope = Some((path_of(&line), Vec::new()));
                b"250 OK\r\n"
            }
            "RCPT" => match (&mut envelope, behaviour) {
                (_, Behaviour::RefuseRecipient) => b"550 5.1.1 no such mailbox\r\n",
                (Some((_, rcpt_to)), _) => {
                    rcpt_to.push(path_of(&line));
                    b"250 OK\r\n"
                }
                (None, _) => b"503 5.5.1 MAIL first\r\n",
            },
            "DATA" => match (&envelope, behaviour) {
                (_, Behaviour::RefuseData) => b"451 4.3.0 try again later\r\n",
                (Some((_, rcpt_to)), _) if !rcpt_to.is_empty() => {
                    if write
                        .write_all(b"354 end with <CRLF>.<CRLF>\r\n")
                        .await
                        .is_err()
                    {
                        return;
                    }
                    let Some(data) = read_data(&mut lines).await else {
                        return;
                    };
                    let (mail_from, rcpt_to) = envelope.take().unwrap();
                    let _ = mails.send(Received {
                        mail_from,
                        rcpt_to,
                        data,
                    });
                    b"250 OK queued\r\n"
                }
                _ => b"503 5.5.1 RCPT first\r\n",
            },
            "RSET" => {
                envelope = None;
                b"250 OK\r\n"
            }
            "NOOP" => b"250 OK\r\n",
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"502 5.5.2 command not implemented\r\n",
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

/// The message after DATA, up to the line holding a single dot, with leading dots
/// unstuffed; None if the connection ends first.
async fn read_data(lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    loop {
        let mut line = Vec::new();
        if lines.read_until(b'\n', &mut line).await.ok()? == 0 {
            return None;
        }
        if line == b".\r\n" || line == b".\n" {
            return Some(data);
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        data.extend_from_slice(line);
    }
}

/// The address inside `<...>` of a MAIL FROM or RCPT TO line.
fn path_of(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line.rfind('>').unwrap_or(line.len());
    line.get(start..end).unwrap_or_default().to_owned()
}

/// A message as a reader sees it.
#[derive(Debug, Clone)]
pub struct ParsedMail {
    /// The To address.
    pub to: String,
    /// The To display name, if any.
    pub to_name: Option<String>,
    /// The From address.
    pub from: String,
    /// The decoded subject.
    pub subject: String,
    /// The decoded plain-text body.
    pub text: String,
    /// The decoded HTML body.
    pub html: String,
    /// The top-level content type, such as `multipart/alternative`.
    pub content_type: String,
}

/// Parses a raw RFC 5322 message (quoted-printable and base64 parts decoded).
pub fn parse_mail(raw: &[u8]) -> ParsedMail {
    let message = MessageParser::default()
        .parse(raw)
        .expect("a parsable message");
    let address = |field: Option<&mail_parser::Address>| {
        field
            .and_then(|address| address.first())
            .map(|addr| {
                (
                    addr.address().unwrap_or_default().to_owned(),
                    addr.name().map(str::to_owned),
                )
            })
            .unwrap_or_default()
    };
    let (to, to_name) = address(message.to());
    let (from, _) = address(message.from());
    let content_type = message
        .content_type()
        .map(|ct| format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default()))
        .unwrap_or_default();
    ParsedMail {
        to,
        to_name,
        from,
        subject: message.subject().unwrap_or_default().to_owned(),
        text: message
            .body_text(0)
            .map(|text| text.into_owned())
            .unwrap_or_default(),
        html: message
            .body_html(0)
            .map(|html| html.into_owned())
            .unwrap_or_default(),
        content_type,
    }
}

/// Every `.eml` file in an outbox folder, oldest first, parsed; none if it does not exist.
pub fn outbox_mails(dir: &Path) -> Vec<ParsedMail> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<_> = entries
        .map(|entry| entry.expect("an outbox entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| parse_mail(&std::fs::read(path).expect("read an outbox mail")))
        .collect()
}
