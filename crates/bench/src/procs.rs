//! The processes under test: `chatlink serve` on a fresh data folder, and the bench's own
//! baseline as a child, each announcing its address on its first stdout line.
//! Memory is read from `/proc/<pid>/status`, which is why every server is its own process.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub const WAIT_FOLDER: &str = "bench-wait";

pub type Result<T> = std::result::Result<T, Error>;

pub struct Proc {
    pub name: String,
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub base: String,
    /// What it printed after its address (Chatlink's demo link).
    pub lines: Vec<String>,
}

impl Proc {
    /// Starts `cmd` and waits for a stdout line starting with `marker`; the rest is the address.
    pub fn start(name: &str, mut cmd: Command, marker: &str, extra_lines: usize) -> Result<Proc> {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {name} ({cmd:?}): {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut base = None;
        let mut lines = Vec::new();
        while base.is_none() || lines.len() < extra_lines {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .map_err(|_| format!("{name} did not announce its address within 30 s"))?;
            match (&base, line.strip_prefix(marker)) {
                (None, Some(addr)) => base = Some(addr.trim().to_owned()),
                (Some(_), _) => lines.push(line),
                _ => {}
            }
        }
        Ok(Proc {
            name: name.to_owned(),
            child,
            base: base.ok_or("no address")?,
            lines,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory in KiB.
    pub fn rss_kib(&self) -> Result<u64> {
        rss_kib(self.pid())
    }

    /// SIGTERM, then waits up to 10 s (SIGKILL after that).
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("{} ignored SIGTERM for 10 s; killing it", self.name);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no VmRSS for pid {pid}").into())
}

/// The `chatlink` binary and one data folder.
pub struct Chatlink {
    pub exe: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Chatlink {
    pub fn new(exe: &Path) -> Result<Chatlink> {
        Ok(Chatlink {
            exe: exe.to_owned(),
            dir: tempfile::Builder::new()
                .prefix("chatlink-bench-")
                .tempdir()?,
        })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.exe);
        cmd.arg("--data-dir")
            .arg(self.dir.path())
            .args(["--secrets", "file", "--no-rate-limits"])
            .args(args)
            // Errors only: every process on a file store warns about it, thousands of times a run.
            .env("CHATLINK_LOG", "error");
        cmd
    }

    /// Runs a CLI command to its end; its stdout, or an error with its stderr.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Result<String> {
        let mut cmd = self.command(args);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn()?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        if !out.status.success() {
            return Err(format!(
                "chatlink {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(String::from_utf8(out.stdout)?)
    }

    /// A command line for `serve` on `bind`. Every bench client comes from one or a few
    /// loopback addresses, so the connection caps are raised: the bench weighs the server, and
    /// `crates/cli/tests/hardening.rs` shows the caps.
    pub fn serve_command(&self, bind: &str) -> Command {
        self.command(&[
            "serve",
            "--bind",
            bind,
            "--limit",
            "connections_per_client=100000",
            "--limit",
            "max_connections=100000",
        ])
    }

    /// Starts `serve` on a free port and waits for its address and demo link.
    pub fn serve(&self) -> Result<Proc> {
        Proc::start(
            "chatlink serve",
            self.serve_command("127.0.0.1:0"),
            "Chatlink is serving on ",
            1,
        )
    }

    /// The folder whose turns wait for SIGUSR1 (only in a `bench` build of chatlink).
    pub fn waiting_agent(&self) -> Result<&'static str> {
        self.cli(&["agent", "create", WAIT_FOLDER, "--name", "Waiter"], None)?;
        Ok(WAIT_FOLDER)
    }

    /// Issues a chat link and returns its URL.
    pub fn issue(&self, folder: &str, suffix: &str) -> Result<String> {
        let out = self.cli(
            &["token", "issue", folder, "chat", "--suffix", suffix],
            None,
        )?;
        Ok(out.trim().to_owned())
    }
}

/// Starts `chatlink-bench <args>` (this executable) as a child server.
pub fn bench_child(name: &str, args: &[&str]) -> Result<Proc> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(args);
    Proc::start(name, cmd, "listening on ", 0)
}

impl Proc {
    /// Starts `cmd` without waiting for an announcement (the caller polls it).
    pub fn start_untracked(mut cmd: Command) -> Result<Proc> {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        Ok(Proc {
            name: "chatlink serve".into(),
            child,
            base: String::new(),
            lines: Vec::new(),
        })
    }
}

/// Sends SIGUSR1 to `pid`: the waiting agent's turns send their frame, or end.
pub fn signal(pid: u32) -> Result<()> {
    let status = Command::new("kill")
        .args(["-USR1", &pid.to_string()])
        .status()?;
    if !status.success() {
        return Err(format!("kill -USR1 {pid} failed").into());
    }
    Ok(())
}
