//! `lighttpd` in the foreground on a free loopback port, with a configuration the fixture
//! writes and may rewrite: [`Lighttpd::reload`] makes the server re-read it (lighttpd's
//! graceful restart on SIGUSR1 keeps the process and its listening socket).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::{Daemon, Error, Result, io, which};

/// A running lighttpd.
pub(crate) struct Lighttpd {
    daemon: Daemon,
    port: u16,
    config: PathBuf,
    head: String,
    error_log: PathBuf,
}

impl Lighttpd {
    /// Starts lighttpd serving `document_root`, with `body` after the common settings
    /// (address, port, logs, modules). `dir` holds the configuration, logs and upload buffers.
    pub(crate) fn start(dir: &Path, document_root: &Path, body: &str) -> Result<Lighttpd> {
        let binary = which("lighttpd").ok_or_else(|| Error::NotStarted {
            what: "lighttpd".into(),
            log: "lighttpd is not installed".into(),
        })?;
        let uploads = dir.join("uploads");
        std::fs::create_dir_all(&uploads).map_err(io("creating lighttpd's directories"))?;
        let config = dir.join("lighttpd.conf");
        let error_log = dir.join("error.log");
        let mut head = String::new();
        let (daemon, port) = Daemon::spawn("lighttpd", &dir.join("lighttpd.out"), |port| {
            // mod_auth comes before mod_cgi, as lighttpd asks of authentication modules. A wrong
            // password is answered at once, not after lighttpd's anti-guessing delay of a second.
            head = format!(
                r#"server.bind = "127.0.0.1"
server.port = {port}
server.document-root = "{root}"
server.errorlog = "{errors}"
server.breakagelog = "{errors}"
server.upload-dirs = ("{uploads}")
server.modules = ("mod_auth", "mod_authn_file", "mod_alias", "mod_setenv", "mod_cgi")
mimetype.assign = (".yaml" => "application/x-yaml", ".tgz" => "application/gzip")
server.feature-flags = ("auth.delay-invalid-creds" => "disable")
"#,
                root = document_root.display(),
                errors = error_log.display(),
                uploads = uploads.display(),
            );
            std::fs::write(&config, format!("{head}{body}"))
                .map_err(io("writing lighttpd's configuration"))?;
            let mut command = Command::new(&binary);
            command.arg("-D").arg("-f").arg(&config);
            Ok(command)
        })
        .map_err(|error| match error {
            Error::NotStarted { what, log } => Error::NotStarted {
                what,
                log: format!("{log}\n{}", crate::tail(&error_log)),
            },
            other => other,
        })?;
        Ok(Lighttpd {
            daemon,
            port,
            config,
            head,
            error_log,
        })
    }

    /// The port lighttpd listens on.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Replaces the configuration's `body` and waits until lighttpd serves with it.
    pub(crate) fn reload(&mut self, body: &str) -> Result<()> {
        std::fs::write(&self.config, format!("{}{body}", self.head))
            .map_err(io("writing lighttpd's configuration"))?;
        let started = self.starts();
        self.daemon.signal("USR1")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.starts() > started && self.daemon.wait_listening(self.port, Duration::ZERO) {
                return Ok(());
            }
            if !self.daemon.running() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(Error::NotStarted {
            what: "lighttpd (reloading its configuration)".into(),
            log: crate::tail(&self.error_log),
        })
    }

    /// How many times the server has started, from its error log.
    fn starts(&self) -> usize {
        std::fs::read_to_string(&self.error_log)
            .unwrap_or_default()
            .matches("server started")
            .count()
    }
}

/// A lighttpd condition that asks for basic auth on URLs matching `url_regex`, against the
/// plain user file `users` (`user:password` lines).
pub(crate) fn basic_auth(url_regex: &str, realm: &str, users: &Path) -> String {
    format!(
        r#"$HTTP["url"] =~ "{url_regex}" {{
  auth.backend = "plain"
  auth.backend.plain.userfile = "{users}"
  auth.require = ("" => ("method" => "basic", "realm" => "{realm}", "require" => "valid-user"))
}}
"#,
        users = users.display()
    )
}

/// `text` with the characters special in a regular expression escaped.
pub(crate) fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}
