//! `KeyringStore` against a real Secret Service (GNOME Keyring on a private session bus).
//!
//! Tests that need a Secret Service run only when `CHATLINK_KEYRING_TEST=1`; otherwise they print
//! "skipped: ..." and pass, because plain `cargo test` has no keyring. `scripts/with-session.sh`
//! starts a private bus and an unlocked keyring and sets the variable.
//!
//! `open_fails_fast_without_a_secret_service` always runs: it re-runs this test binary as a child
//! process whose session bus address points nowhere, so it needs no keyring and never changes the
//! environment of the test process itself.

use std::io::Read as _;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chatlink_core::secret::{
    KeyringStore, SecretBackend, SecretStore, Sensitive, load_or_create_master_key, open_store,
};

/// Set to `1` to run the tests that use the session's Secret Service.
const ENABLE_VAR: &str = "CHATLINK_KEYRING_TEST";
/// Marks the child process of `open_fails_fast_without_a_secret_service`.
const CHILD_VAR: &str = "CHATLINK_KEYRING_TEST_NO_BUS_CHILD";
/// The service name `KeyringStore` files every secret under.
const SERVICE: &str = "chatlink";
/// What the child prints when its checks passed, so the parent knows the test really ran.
const CHILD_OK: &str = "no-bus child: checks passed";

/// True when the Secret Service tests should run; otherwise says why the test is skipped.
fn keyring_enabled(test: &str) -> bool {
    if std::env::var(ENABLE_VAR).as_deref() == Ok("1") {
        return true;
    }
    println!(
        "skipped: {test} needs a running Secret Service; set {ENABLE_VAR}=1 \
         (scripts/with-session.sh starts one)"
    );
    false
}

/// A name no other test run (or a real Chatlink install) uses.
fn unique(label: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    format!(
        "chatlink-keyring-test-{}-{nanos}/{label}",
        std::process::id()
    )
}

fn open_keyring() -> KeyringStore {
    KeyringStore::open().unwrap_or_else(|e| {
        panic!(
            "{ENABLE_VAR}=1 but the keyring does not open: {e} ({})",
            e.code()
        )
    })
}

fn secret(value: &str) -> Sensitive<String> {
    Sensitive::new(value.to_owned())
}

fn get(store: &dyn SecretStore, name: &str) -> Option<String> {
    store
        .get(name)
        .unwrap_or_else(|e| panic!("get {name}: {e}"))
        .map(|v| v.expose().clone())
}

/// Deletes the named entries when dropped, so a failing test leaves nothing in the keyring.
struct Cleanup<'a> {
    store: &'a dyn SecretStore,
    names: Vec<String>,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for name in &self.names {
            if let Err(e) = self.store.delete(name) {
                eprintln!("cleanup: could not delete {name}: {e}");
            }
        }
    }
}

/// Runs `cmd` with no stdin, killing it if it has not finished within `limit`.
/// Returns its exit status, stdout and stderr.
fn run(cmd: &mut Command, limit: Duration) -> (ExitStatus, String, String) {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {what}: {e}"));
    let reader = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child
            .try_wait()
            .unwrap_or_else(|e| panic!("waiting for {what}: {e}"))
        {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let (out, err) = (
                out.join().unwrap_or_default(),
                err.join().unwrap_or_default(),
            );
            panic!("{what} did not finish within {limit:?}\n--- stdout\n{out}\n--- stderr\n{err}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = out.join().expect("stdout reader thread");
    let err = err.join().expect("stderr reader thread");
    (status, out, err)
}

/// `secret-tool lookup` with the attributes keyring 3 gives an entry (`service`, `username`,
/// `target`): the secret as the Secret Service itself holds it, or `None` if there is no such item.
fn secret_tool_lookup(name: &str) -> Option<String> {
    let (status, out, err) = run(
        Command::new("secret-tool").args([
            // `--`: an install id may start with '-', which secret-tool would take for an option.
            "lookup", "--", "service", SERVICE, "username", name, "target", "default",
        ]),
        Duration::from_secs(30),
    );
    match status.code() {
        Some(0) => Some(out),
        // secret-tool exits 1 with no output when nothing matches.
        Some(1) if out.is_empty() => None,
        _ => panic!("secret-tool lookup {name} failed ({status}): {err}"),
    }
}

/// `secret-tool search --all service chatlink`: stdout and stderr together (secret-tool prints
/// the label and secret on stdout but the `attribute.* = ...` lines on stderr).
fn secret_tool_search_all() -> String {
    let (status, out, err) = run(
        Command::new("secret-tool").args(["search", "--all", "service", SERVICE]),
        Duration::from_secs(30),
    );
    assert!(
        status.success(),
        "secret-tool search failed ({status}): {out}{err}"
    );
    format!("{out}\n{err}")
}

#[test]
fn round_trip_of_a_unique_entry() {
    if !keyring_enabled("round_trip_of_a_unique_entry") {
        return;
    }
    let store = open_keyring();
    assert_eq!(store.backend(), SecretBackend::Keyring);
    let name = unique("round-trip");
    let _cleanup = Cleanup {
        store: &store,
        names: vec![name.clone()],
    };

    assert_eq!(get(&store, &name), None, "a fresh name holds nothing");
    store.set(&name, &secret("first value")).expect("set");
    assert_eq!(get(&store, &name).as_deref(), Some("first value"));
    assert_eq!(
        secret_tool_lookup(&name).as_deref(),
        Some("first value"),
        "stored in the keyring"
    );

    // Overwrite: the new value replaces the old one, and there is still exactly one item
    // (a second item would make keyring's lookup ambiguous and `get` fail).
    store
        .set(&name, &secret("second value"))
        .expect("overwrite");
    assert_eq!(get(&store, &name).as_deref(), Some("second value"));
    assert_eq!(secret_tool_lookup(&name).as_deref(), Some("second value"));

    // A second, separately opened store sees the same entry.
    let other = open_keyring();
    assert_eq!(get(&other, &name).as_deref(), Some("second value"));

    store.delete(&name).expect("delete");
    assert_eq!(get(&store, &name), None, "deleted");
    assert_eq!(secret_tool_lookup(&name), None, "gone from the keyring");
    store
        .delete(&name)
        .expect("deleting a missing entry is not an error");
    store
        .delete(&unique("never-created"))
        .expect("deleting a never-created entry is not an error");
}

#[test]
fn unicode_and_multiline_values_survive() {
    if !keyring_enabled("unicode_and_multiline_values_survive") {
        return;
    }
    let store = open_keyring();
    let name = unique("unicode-Ωmega-名前");
    let _cleanup = Cleanup {
        store: &store,
        names: vec![name.clone()],
    };
    let value = "pässwörd 🔑 日本語 — «ключ»\nsecond line\twith tab  ";
    store.set(&name, &secret(value)).expect("set unicode");
    assert_eq!(get(&store, &name).as_deref(), Some(value));
    assert_eq!(secret_tool_lookup(&name).as_deref(), Some(value));
    let long = "x€".repeat(2000);
    store.set(&name, &secret(&long)).expect("set long value");
    assert_eq!(get(&store, &name).as_deref(), Some(long.as_str()));
}

#[test]
fn master_key_persists_in_the_keyring() {
    if !keyring_enabled("master_key_persists_in_the_keyring") {
        return;
    }
    let namespace = unique("data-folder");
    let key_name = format!("{namespace}/master-key");
    let dir = tempfile::tempdir().expect("tempdir");

    let first_store = open_keyring();
    let _cleanup = Cleanup {
        store: &first_store,
        names: vec![key_name.clone()],
    };
    assert_eq!(
        secret_tool_lookup(&key_name),
        None,
        "no master key before the first load"
    );
    let first = load_or_create_master_key(&first_store, &namespace).expect("create master key");

    // A separately opened store, the way the app opens it, loads the same key.
    let second_store = open_store(SecretBackend::Keyring, dir.path()).expect("open_store keyring");
    assert_eq!(second_store.backend(), SecretBackend::Keyring);
    let second =
        load_or_create_master_key(second_store.as_ref(), &namespace).expect("load master key");
    assert_eq!(
        first.seal.expose(),
        second.seal.expose(),
        "same seal key on reload"
    );
    assert_eq!(
        first.jwt.expose(),
        second.jwt.expose(),
        "same jwt key on reload"
    );
    assert_ne!(
        first.seal.expose(),
        first.jwt.expose(),
        "one key per purpose"
    );

    // The key really lives in the Secret Service, under keyring 3's attributes.
    let stored =
        get(second_store.as_ref(), &key_name).expect("master key readable through the store");
    assert_eq!(stored.len(), 43, "32 bytes, base64url without padding");
    assert_eq!(
        secret_tool_lookup(&key_name).as_deref(),
        Some(stored.as_str())
    );
    let listing = secret_tool_search_all();
    for line in [
        format!("attribute.username = {key_name}"),
        format!("attribute.service = {SERVICE}"),
        "attribute.target = default".to_owned(),
        "attribute.application = rust-keyring".to_owned(),
        format!("secret = {stored}"),
    ] {
        assert!(
            listing.contains(&line),
            "`secret-tool search` lacks {line:?}:\n{listing}"
        );
    }
    // No plaintext fallback: the keyring store writes nothing into the data folder.
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read data dir")
        .collect();
    assert!(
        files.is_empty(),
        "keyring store wrote files into the data folder: {files:?}"
    );

    // Another namespace gets its own key.
    let other_ns = unique("other-data-folder");
    let other_name = format!("{other_ns}/master-key");
    let _cleanup_other = Cleanup {
        store: &first_store,
        names: vec![other_name.clone()],
    };
    let other = load_or_create_master_key(&first_store, &other_ns).expect("other namespace");
    assert_ne!(
        first.seal.expose(),
        other.seal.expose(),
        "namespaces never share a key"
    );

    // Deleting the entry makes the next load create a new key (it is not cached anywhere else).
    first_store.delete(&key_name).expect("delete master key");
    assert_eq!(secret_tool_lookup(&key_name), None);
    let fresh = load_or_create_master_key(&first_store, &namespace).expect("recreate");
    assert_ne!(
        first.seal.expose(),
        fresh.seal.expose(),
        "a deleted master key is not resurrected"
    );
}

/// In the child: no Secret Service is reachable, so opening the keyring must fail quickly with
/// the error that tells the owner about `--secrets file`.
fn check_open_without_secret_service() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opens: [(&str, &dyn Fn() -> Option<chatlink_core::Error>); 2] = [
        ("KeyringStore::open", &|| KeyringStore::open().err()),
        ("open_store(Keyring)", &|| {
            open_store(SecretBackend::Keyring, dir.path()).err()
        }),
    ];
    for (what, open) in opens {
        let started = Instant::now();
        let err = open().unwrap_or_else(|| panic!("{what} succeeded with no session bus"));
        let elapsed = started.elapsed();
        println!("{what}: failed in {elapsed:?}: {err}");
        assert!(
            elapsed < Duration::from_secs(15),
            "{what} took {elapsed:?} to fail"
        );
        assert_eq!(err.code(), "keyring_unavailable", "{what}: {err}");
        assert!(
            err.to_string().contains("--secrets file"),
            "{what}: message lacks the way out: {err}"
        );
    }
    println!("{CHILD_OK}");
}

#[test]
fn open_fails_fast_without_a_secret_service() {
    const NAME: &str = "open_fails_fast_without_a_secret_service";
    if std::env::var_os(CHILD_VAR).is_some() {
        check_open_without_secret_service();
        return;
    }
    // Re-run only this test in a child whose session bus does not exist; the environment of
    // this process is left alone.
    let exe = std::env::current_exe().expect("path of the test binary");
    let started = Instant::now();
    let (status, out, err) = run(
        Command::new(exe)
            .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
            .env(CHILD_VAR, "1")
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove(ENABLE_VAR),
        Duration::from_secs(60),
    );
    let elapsed = started.elapsed();
    assert!(
        status.success(),
        "child failed ({status}):\n--- stdout\n{out}\n--- stderr\n{err}"
    );
    assert!(
        out.contains(CHILD_OK),
        "the child did not run the checks:\n--- stdout\n{out}\n--- stderr\n{err}"
    );
    println!("child finished in {elapsed:?}");
    for line in out.lines().filter(|l| l.contains("failed in")) {
        println!("  {line}");
    }
}

#[tokio::test]
async fn widget_app_secrets_live_in_the_keyring_one_entry_per_app() {
    if !keyring_enabled("widget_app_secrets_live_in_the_keyring_one_entry_per_app") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let app = chatlink_core::App::open(chatlink_core::AppConfig::new(
        dir.path(),
        SecretBackend::Keyring,
    ))
    .expect("open an app on the keyring");
    let install: String = rusqlite::Connection::open(dir.path().join("chatlink.db"))
        .expect("db")
        .query_row(
            "SELECT value FROM settings WHERE key = 'install_id'",
            [],
            |r| r.get(0),
        )
        .expect("install id");
    let store = open_keyring();
    let new_app = || chatlink_core::app::NewWidgetApp {
        folder: "demo".into(),
        ..Default::default()
    };
    let a = app.create_widget_app(new_app()).await.expect("create a");
    let b = app.create_widget_app(new_app()).await.expect("create b");
    let name_of = |id: &str| format!("{install}/widget-app/{id}");
    let _cleanup = Cleanup {
        store: &store,
        names: vec![
            format!("{install}/master-key"),
            name_of(&a.app.id),
            name_of(&b.app.id),
        ],
    };
    assert_eq!(
        secret_tool_lookup(&name_of(&a.app.id)).as_deref(),
        Some(a.secret.expose().as_str()),
        "the Secret Service holds app a's secret under its own entry"
    );
    assert_eq!(
        secret_tool_lookup(&name_of(&b.app.id)).as_deref(),
        Some(b.secret.expose().as_str())
    );
    assert_eq!(
        app.reveal_app_secret(&a.app.id)
            .await
            .expect("reveal")
            .expose(),
        a.secret.expose()
    );
    let rotated = app.rotate_app_secret(&a.app.id).await.expect("rotate");
    assert_eq!(
        secret_tool_lookup(&name_of(&a.app.id)).as_deref(),
        Some(rotated.expose().as_str()),
        "rotation replaced the entry"
    );
    app.revoke_widget_app(&b.app.id).await.expect("revoke");
    assert_eq!(
        secret_tool_lookup(&name_of(&b.app.id)),
        None,
        "a revoked app's secret is deleted"
    );
    let db = std::fs::read(dir.path().join("chatlink.db")).expect("db bytes");
    let db = String::from_utf8_lossy(&db);
    for s in [a.secret.expose(), rotated.expose(), b.secret.expose()] {
        assert!(!db.contains(s.as_str()), "an appSecret reached SQLite");
    }
}
