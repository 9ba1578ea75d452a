//! What the `chatlink` binary's test files share: a fresh data folder to run commands on and a
//! running `chatlink serve` to talk to. Each test binary uses part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long any one short command may take before the test kills it and fails.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// A fresh data folder (with `--secrets file`) and ways to run `chatlink` on it.
pub struct Data {
    pub dir: tempfile::TempDir,
}

impl Data {
    pub fn new() -> Data {
        Data {
            dir: tempfile::tempdir().expect("create a temporary data folder"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `chatlink --data-dir <dir> --secrets <secrets> <args>`, quiet logs, no inherited config.
    pub fn command_with_secrets(&self, secrets: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatlink"));
        cmd.arg("--data-dir")
            .arg(self.path())
            .args(["--secrets", secrets])
            .args(args)
            .env("CHATLINK_LOG", "error")
            .env_remove("CHATLINK_DATA_DIR")
            .env_remove("CHATLINK_SECRETS");
        cmd
    }

    pub fn command(&self, args: &[&str]) -> Command {
        self.command_with_secrets("file", args)
    }

    pub fn run(&self, args: &[&str]) -> Output {
        run(self.command(args), None)
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "chatlink {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("stdout is UTF-8")
    }

    /// Runs a command that must fail; returns its stderr (and checks stdout stayed empty).
    pub fn fail(&self, args: &[&str]) -> String {
        fail_output(args, self.run(args))
    }

    /// Runs a `--json` command that must succeed and parses its stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let stdout = self.ok(&all);
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("chatlink {all:?} printed invalid JSON ({e}): {stdout}"))
    }

    /// `token list --json`.
    pub fn links(&self) -> Vec<Value> {
        array(self.json(&["token", "list"]))
    }

    /// Every link of `jid`, from `token show <jid> --json`.
    pub fn show(&self, jid: &str) -> Vec<Value> {
        array(self.json(&["token", "show", jid]))
    }

    /// The URL of the newest live link of `jid`.
    pub fn url_of(&self, jid: &str) -> String {
        self.show(jid)
            .iter()
            .rev()
            .find_map(|l| l["url"].as_str().map(str::to_owned))
            .unwrap_or_else(|| panic!("{jid} has no live link"))
    }

    /// Every byte of the database files (the database and its WAL, if one is left).
    /// Creates agent `slug` answering through the OpenAI-compatible provider at `base_url`,
    /// issues it a chat link, and returns the link.
    pub fn provider_agent(&self, slug: &str, base_url: &str) -> String {
        self.ok(&["agent", "create", slug, "--name", "Talker"]);
        self.ok(&[
            "agent",
            "edit",
            slug,
            "--engine",
            "openai",
            "--base-url",
            base_url,
            "--model",
            "m",
        ]);
        self.ok(&["token", "issue", slug, "chat"]);
        self.url_of(&format!("web:{slug}"))
    }

    pub fn database_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for name in ["chatlink.db", "chatlink.db-wal", "chatlink.db-journal"] {
            if let Ok(b) = std::fs::read(self.path().join(name)) {
                bytes.extend(b);
            }
        }
        assert!(!bytes.is_empty(), "no chatlink.db in the data folder");
        bytes
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, text).expect("write a test file");
        path
    }
}

/// Runs `cmd` to its end (feeding `stdin` if given), killing it after [`COMMAND_TIMEOUT`].
pub fn run(mut cmd: Command, stdin: Option<&[u8]>) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start the chatlink binary");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("child stdin");
        pipe.write_all(input).expect("write to chatlink's stdin");
        // Dropping the pipe closes it: the child reads to end of file.
    }
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(COMMAND_TIMEOUT) {
        Ok(out) => out.expect("wait for chatlink"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("chatlink {cmd:?} did not finish within {COMMAND_TIMEOUT:?}");
        }
    }
}

pub fn fail_output(args: &[&str], out: Output) -> String {
    let stderr = String::from_utf8(out.stderr).expect("stderr is UTF-8");
    assert!(
        !out.status.success(),
        "chatlink {args:?} should have failed; stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "exit code of {args:?}: {stderr}"
    );
    assert!(
        stderr.starts_with("error: "),
        "chatlink {args:?} should explain itself on stderr, got {stderr:?}"
    );
    assert!(
        out.stdout.is_empty(),
        "a failed command prints nothing on stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

pub fn array(v: Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items,
        other => panic!("expected a JSON array, got {other}"),
    }
}

pub fn one_line(stdout: &str) -> &str {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "expected exactly one line, got {stdout:?}");
    lines[0]
}

/// Checks `url` is `<base>/chat/<43-character token>/` and returns the token.
pub fn chat_token<'a>(url: &'a str, base: &str) -> &'a str {
    let token = url
        .strip_prefix(&format!("{base}/chat/"))
        .and_then(|rest| rest.strip_suffix('/'))
        .unwrap_or_else(|| panic!("{url:?} is not a {base}/chat/<token>/ URL"));
    assert_eq!(token.len(), 43, "token length in {url}");
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "token of {url} is not URL-safe base64"
    );
    token
}

pub fn link<'a>(links: &'a [Value], jid: &str) -> &'a Value {
    links
        .iter()
        .find(|l| l["jid"] == jid)
        .unwrap_or_else(|| panic!("no link on {jid} in {links:?}"))
}

/// A running `chatlink serve`; killed on drop if the test did not stop it.
pub struct Server {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
}

impl Server {
    pub fn start(data: &Data) -> Server {
        Server::start_with(data, &[])
    }

    /// `serve --bind 127.0.0.1:0 <extra>`.
    pub fn start_with(data: &Data, extra: &[&str]) -> Server {
        let mut args = vec!["serve", "--bind", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        Server::spawn(data.command(&args))
    }

    /// Starts `cmd` (a `serve` command line) and collects its stdout lines.
    pub fn spawn(mut cmd: Command) -> Server {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("start chatlink serve");
        let stdout = child.stdout.take().expect("serve's stdout");
        Server::from_child(child, stdout)
    }

    /// Wraps a started `serve` whose stdout is `stdout`.
    pub fn from_child(child: Child, stdout: std::process::ChildStdout) -> Server {
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Server { child, lines }
    }

    /// Reads stdout until a line starts with `prefix`; returns the rest of that line.
    pub fn line_after(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.to_owned();
                    }
                }
                Err(e) => {
                    let status = self.child.try_wait();
                    panic!("serve never printed {prefix:?} ({e}; process: {status:?})");
                }
            }
        }
    }

    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    pub fn wait_for_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll serve") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "serve did not exit within {limit:?}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
