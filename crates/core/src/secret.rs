//! Secrets: `Sensitive<T>` (never printed, never serialized) and where secrets live — the OS
//! keyring, an explicit mode-0600 file for headless servers, or memory for tests.
//!
//! Names are namespaced per data folder (`<install id>/<name>`) so two data folders on one
//! machine never share a master key. Keyring calls run on a helper thread with a deadline: a locked
//! keyring can pop an unlock prompt nobody sees, and the app must fail with a clear error rather
//! than hang.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};

/// A value that must never reach logs, `Debug` output or a serializer.
#[derive(Clone, PartialEq, Eq)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    pub fn new(value: T) -> Self {
        Sensitive(value)
    }

    /// The secret itself; every call site is a place where it can leak, so keep them few.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

/// Secrets arrive in requests (an appSecret in a token exchange); they are wrapped as they are
/// read so no `Debug` of the request can print them.
impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Sensitive<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        T::deserialize(d).map(Sensitive)
    }
}

impl<T> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sensitive(***)")
    }
}

/// Which kind of store holds the secrets; recorded per data folder so a folder is never opened
/// with a store that does not hold its master key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretBackend {
    Keyring,
    File,
    Memory,
}

impl SecretBackend {
    pub fn as_str(self) -> &'static str {
        match self {
            SecretBackend::Keyring => "keyring",
            SecretBackend::File => "file",
            SecretBackend::Memory => "memory",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "keyring" => Ok(SecretBackend::Keyring),
            "file" => Ok(SecretBackend::File),
            "memory" => Ok(SecretBackend::Memory),
            other => Err(Error::invalid(format!(
                "unknown secret store {other:?}; use keyring or file"
            ))),
        }
    }
}

/// Where named secrets are kept.
pub trait SecretStore: Send + Sync {
    fn get(&self, name: &str) -> Result<Option<Sensitive<String>>>;
    fn set(&self, name: &str, value: &Sensitive<String>) -> Result<()>;
    /// Deleting a secret that does not exist is not an error.
    fn delete(&self, name: &str) -> Result<()>;
    fn backend(&self) -> SecretBackend;
}

/// Test-only store: nothing outlives the process.
#[derive(Default)]
pub struct MemoryStore(Mutex<BTreeMap<String, String>>);

impl SecretStore for MemoryStore {
    fn get(&self, name: &str) -> Result<Option<Sensitive<String>>> {
        Ok(lock(&self.0)?.get(name).cloned().map(Sensitive))
    }
    fn set(&self, name: &str, value: &Sensitive<String>) -> Result<()> {
        lock(&self.0)?.insert(name.to_owned(), value.0.clone());
        Ok(())
    }
    fn delete(&self, name: &str) -> Result<()> {
        lock(&self.0)?.remove(name);
        Ok(())
    }
    fn backend(&self) -> SecretBackend {
        SecretBackend::Memory
    }
}

fn lock<T>(m: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| Error::Internal("secret store lock poisoned".into()))
}

/// Secrets in a JSON file with mode 0600, for servers that have no keyring. Anyone who can read
/// the file can read the secrets; the log says so on every start.
pub struct FileStore {
    path: PathBuf,
    guard: Mutex<()>,
}

impl FileStore {
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join("secrets.json");
        tracing::warn!(
            path = %path.display(),
            "secrets are kept in a plain file (mode 0600), not in an OS keyring; protect this file"
        );
        Ok(FileStore {
            path,
            guard: Mutex::new(()),
        })
    }

    fn read(&self) -> Result<BTreeMap<String, String>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::SecretStore(format!(
                    "{} is not a valid secrets file: {e}",
                    self.path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(Error::io(format!("reading {}", self.path.display()), e)),
        }
    }

    fn write(&self, map: &BTreeMap<String, String>) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(map).map_err(|e| Error::Internal(e.to_string()))?;
        crate::files::write(&self.path, &bytes, crate::files::Access::Private)
    }

    /// Holds `secrets.lock` while a change is read, made and written: the CLI and the window
    /// (two processes) may change secrets at once, and neither may lose the other's.
    fn change(&self, edit: impl FnOnce(&mut BTreeMap<String, String>) -> bool) -> Result<()> {
        let _g = lock(&self.guard)?;
        let lock_path = self.path.with_file_name("secrets.lock");
        let file = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(format!("cannot open {}", lock_path.display()), e))?;
        file.lock()
            .map_err(|e| Error::io(format!("cannot lock {}", lock_path.display()), e))?;
        let mut map = self.read()?;
        if edit(&mut map) {
            self.write(&map)?;
        }
        Ok(())
    }
}

impl SecretStore for FileStore {
    fn get(&self, name: &str) -> Result<Option<Sensitive<String>>> {
        let _g = lock(&self.guard)?;
        Ok(self.read()?.remove(name).map(Sensitive))
    }
    fn set(&self, name: &str, value: &Sensitive<String>) -> Result<()> {
        self.change(|map| {
            map.insert(name.to_owned(), value.0.clone());
            true
        })
    }
    fn delete(&self, name: &str) -> Result<()> {
        self.change(|map| map.remove(name).is_some())
    }
    fn backend(&self) -> SecretBackend {
        SecretBackend::File
    }
}

/// The OS keyring (Secret Service on Linux, Keychain on macOS, Credential Manager on Windows).
pub struct KeyringStore {
    service: String,
    timeout: Duration,
}

const KEYRING_SERVICE: &str = "chatlink";

impl KeyringStore {
    /// Opens the keyring and checks that it answers, so a missing keyring is reported at start-up
    /// with what to do, not on the first secret the owner saves.
    pub fn open() -> Result<Self> {
        let store = KeyringStore {
            service: KEYRING_SERVICE.into(),
            timeout: Duration::from_secs(30),
        };
        store.get("chatlink-probe")?;
        Ok(store)
    }

    fn call<T: Send + 'static>(
        &self,
        name: &str,
        op: impl FnOnce(keyring::Entry) -> keyring::Result<T> + Send + 'static,
    ) -> Result<T> {
        let (service, user) = (self.service.clone(), name.to_owned());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let result = keyring::Entry::new(&service, &user).and_then(op);
            let _ = tx.send(result);
        });
        match rx.recv_timeout(self.timeout) {
            Ok(result) => result.map_err(keyring_error),
            Err(_) => Err(Error::KeyringUnavailable {
                detail: format!(
                    "the keyring did not answer within {} s; it may be locked",
                    self.timeout.as_secs()
                ),
            }),
        }
    }
}

fn keyring_error(e: keyring::Error) -> Error {
    match e {
        keyring::Error::PlatformFailure(e) | keyring::Error::NoStorageAccess(e) => {
            Error::KeyringUnavailable {
                detail: e.to_string(),
            }
        }
        other => Error::SecretStore(format!("keyring: {other}")),
    }
}

impl SecretStore for KeyringStore {
    fn get(&self, name: &str) -> Result<Option<Sensitive<String>>> {
        self.call(name, |entry| match entry.get_password() {
            Ok(v) => Ok(Some(Sensitive(v))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e),
        })
    }
    fn set(&self, name: &str, value: &Sensitive<String>) -> Result<()> {
        let value = value.0.clone();
        self.call(name, move |entry| entry.set_password(&value))
    }
    fn delete(&self, name: &str) -> Result<()> {
        self.call(name, |entry| match entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(e),
        })
    }
    fn backend(&self) -> SecretBackend {
        SecretBackend::Keyring
    }
}

/// Opens the store of the given kind for a data folder.
pub fn open_store(backend: SecretBackend, data_dir: &Path) -> Result<Box<dyn SecretStore>> {
    Ok(match backend {
        SecretBackend::Keyring => Box::new(KeyringStore::open()?),
        SecretBackend::File => Box::new(FileStore::open(data_dir)?),
        SecretBackend::Memory => Box::new(MemoryStore::default()),
    })
}

/// Keys derived from the master key, one per purpose, so no key is used for two things.
#[derive(Clone)]
pub struct Keys {
    pub seal: Sensitive<[u8; 32]>,
    pub jwt: Sensitive<[u8; 32]>,
    /// Proves to the public-address self-test that an answer came from this data folder.
    pub proof: Sensitive<[u8; 32]>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys(***)")
    }
}

/// Loads the data folder's master key from `store`, creating it on first use.
pub fn load_or_create_master_key(store: &dyn SecretStore, namespace: &str) -> Result<Keys> {
    let name = format!("{namespace}/master-key");
    let master = match store.get(&name)? {
        Some(encoded) => URL_SAFE_NO_PAD
            .decode(encoded.expose())
            .ok()
            .filter(|k| k.len() == 32)
            .ok_or_else(|| Error::SecretStore(format!("the master key {name} is damaged")))?,
        None => {
            let key = crate::token::random_bytes::<32>().to_vec();
            store.set(&name, &Sensitive(URL_SAFE_NO_PAD.encode(&key)))?;
            // Two processes opening a new data folder at once may both write; whichever write
            // landed last is the key, so read it back rather than trusting our own.
            match store.get(&name)? {
                Some(stored) => URL_SAFE_NO_PAD
                    .decode(stored.expose())
                    .ok()
                    .filter(|k| k.len() == 32)
                    .ok_or_else(|| {
                        Error::SecretStore(format!("the master key {name} is damaged"))
                    })?,
                None => {
                    return Err(Error::SecretStore(format!(
                        "the secret store did not keep {name}"
                    )));
                }
            }
        }
    };
    Ok(Keys {
        seal: Sensitive(derive(&master, b"chatlink seal v1")),
        jwt: Sensitive(derive(&master, b"chatlink jwt v1")),
        proof: Sensitive(derive(&master, b"chatlink reach proof v1")),
    })
}

fn derive(master: &[u8], label: &[u8]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(master).expect("HMAC takes keys of any length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_never_prints() {
        let s = Sensitive::new("hunter2".to_string());
        assert_eq!(format!("{s:?}"), "Sensitive(***)");
        assert!(!format!("{:?}", Some(&s)).contains("hunter2"));
    }

    /// Two stores on one folder stand for the CLI and the window: each one's writes survive the
    /// other's, as only the lock file orders them (each store's own mutex is its own).
    #[test]
    fn file_store_changes_from_two_processes_are_never_lost() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stores = [
            std::sync::Arc::new(FileStore::open(dir.path()).expect("a")),
            std::sync::Arc::new(FileStore::open(dir.path()).expect("b")),
        ];
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let store = stores[t % 2].clone();
                std::thread::spawn(move || {
                    for i in 0..25 {
                        store
                            .set(&format!("k{t}-{i}"), &Sensitive::new("v".into()))
                            .expect("set");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(stores[0].read().expect("read").len(), 100, "no write lost");
    }

    #[cfg(unix)]
    #[test]
    fn file_store_round_trips_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileStore::open(dir.path()).expect("open");
        assert!(store.get("a").expect("get").is_none());
        store.set("a", &Sensitive::new("one".into())).expect("set");
        store.set("b", &Sensitive::new("two".into())).expect("set");
        store.delete("b").expect("delete");
        store.delete("never-there").expect("delete missing");
        let again = FileStore::open(dir.path()).expect("reopen");
        assert_eq!(
            again.get("a").expect("get").expect("present").expose(),
            "one"
        );
        assert!(again.get("b").expect("get").is_none());
        let mode = std::fs::metadata(dir.path().join("secrets.json"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn damaged_file_is_an_error_not_an_empty_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("secrets.json"), b"{not json").expect("write");
        let store = FileStore::open(dir.path()).expect("open");
        assert_eq!(store.get("a").expect_err("damaged").code(), "secret_store");
    }

    #[test]
    fn master_key_is_created_once_and_keys_differ_by_purpose() {
        let store = MemoryStore::default();
        let a = load_or_create_master_key(&store, "ns").expect("create");
        let b = load_or_create_master_key(&store, "ns").expect("load");
        assert_eq!(a.seal.expose(), b.seal.expose());
        assert_ne!(a.seal.expose(), a.jwt.expose());
        let other = load_or_create_master_key(&store, "other").expect("other namespace");
        assert_ne!(a.seal.expose(), other.seal.expose());
        store
            .set("ns/master-key", &Sensitive::new("short".into()))
            .expect("set");
        assert_eq!(
            load_or_create_master_key(&store, "ns")
                .expect_err("damaged")
                .code(),
            "secret_store"
        );
    }

    #[test]
    fn unknown_backend_name_is_rejected() {
        assert_eq!(
            SecretBackend::parse("plaintext").expect_err("bad").code(),
            "invalid_input"
        );
        assert_eq!(
            SecretBackend::parse("file").expect("file"),
            SecretBackend::File
        );
    }
}
