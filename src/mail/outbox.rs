//! Delivery to a folder: one `.eml` file per mail, for development and for servers without
//! an SMTP relay. The files hold codes and passwords, so only their owner may read them.

use std::{
    fs, io,
    io::Write as _,
    path::{Path, PathBuf},
};

use crate::domain::ids::random_hex;
use crate::error::{Error, Result};

/// A folder that receives mail as files.
#[derive(Debug, Clone)]
pub(super) struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    /// An outbox in `dir`, made absolute against the working directory; the folder itself
    /// is created by the first mail.
    pub(super) fn new(dir: &Path) -> Self {
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
        Self { dir }
    }

    /// The folder.
    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `message` (a formatted RFC 5322 message) to a new file named after the
    /// current time, so the folder lists mails in the order they were sent, and returns its
    /// path.
    pub(super) async fn deliver(&self, message: Vec<u8>) -> Result<PathBuf> {
        let dir = self.dir.clone();
        let written = tokio::task::spawn_blocking(move || write_mail(&dir, &message))
            .await
            .map_err(Error::internal)?;
        written.map_err(|err| {
            Error::internal(format!(
                "cannot write mail to the outbox {}: {err}",
                self.dir.display()
            ))
        })
    }
}

fn write_mail(dir: &Path, message: &[u8]) -> io::Result<PathBuf> {
    create_private_dir(dir)?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
    let path = dir.join(format!("{stamp}-{}.eml", random_hex(4)));
    let mut file = private_file_options().open(&path)?;
    file.write_all(message)?;
    file.sync_all()?;
    Ok(path)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

fn private_file_options() -> fs::OpenOptions {
    let mut options = fs::OpenOptions::new();
    // `create_new`: a name that exists already (it cannot, short of a clash of random
    // suffixes) is an error rather than an overwrite.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_mail_is_a_new_private_file_in_a_folder_made_on_demand() {
        let temp = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(&temp.path().join("a/outbox"));
        let first = outbox
            .deliver(b"Subject: one\r\n\r\nx\r\n".to_vec())
            .await
            .unwrap();
        let second = outbox
            .deliver(b"Subject: two\r\n\r\ny\r\n".to_vec())
            .await
            .unwrap();
        assert_ne!(first, second);
        assert!(first.file_name() < second.file_name());
        assert_eq!(fs::read(&second).unwrap(), b"Subject: two\r\n\r\ny\r\n");
        let name = first.file_name().unwrap().to_str().unwrap();
        assert!(
            name.ends_with(".eml") && name.contains('T') && name.contains("Z-"),
            "{name}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&first).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[tokio::test]
    async fn an_outbox_that_cannot_be_written_is_an_internal_error() {
        let temp = tempfile::tempdir().unwrap();
        let blocker = temp.path().join("file");
        fs::write(&blocker, b"not a folder").unwrap();
        let outbox = Outbox::new(&blocker.join("outbox"));
        let err = outbox.deliver(b"x".to_vec()).await.unwrap_err();
        assert!(matches!(err, Error::Internal(_)), "{err:?}");
    }
}
