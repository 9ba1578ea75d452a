//! Files Chatlink writes for the owner (exports, QR codes, the secrets file): never half-written,
//! never readable by other accounts when they hold visitors' words or secrets.
//!
//! Each is written to a fresh temporary file with a random name in the target's folder (created
//! exclusively, so nobody can plant a link there first), synced, renamed over the target
//! (tempfile's `persist`), and the folder is synced so the rename survives a power cut. On unix
//! a private file is mode 0600; on Windows, files in the user's profile are private to that user
//! by default.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Who may read a written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The owner's account only: exports, the secrets file.
    Private,
    /// Anyone on the computer, like any document the owner saves: QR codes.
    Shared,
}

/// Replaces `path` with `bytes` atomically.
pub fn write(path: &Path, bytes: &[u8], access: Access) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if path.file_name().is_none() {
        return Err(Error::invalid(format!(
            "{} is not a file name",
            path.display()
        )));
    }
    let fail = |e: std::io::Error| Error::io(format!("cannot write {}", path.display()), e);
    // tempfile creates it with O_EXCL and mode 0600.
    let mut tmp = tempfile::Builder::new()
        .prefix(".chatlink-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(fail)?;
    tmp.write_all(bytes).map_err(fail)?;
    if access == Access::Shared {
        share(tmp.as_file()).map_err(fail)?;
    }
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    sync_dir(dir).map_err(fail)?;
    Ok(())
}

#[cfg(unix)]
fn share(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn share(_: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

/// Makes a rename in `dir` durable. Windows has no directory handle to sync; NTFS journals
/// the rename itself.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_files_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("export.csv");
        write(&path, b"first", Access::Private).expect("write");
        write(&path, b"second", Access::Private).expect("replace");
        assert_eq!(std::fs::read(&path).expect("read"), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["export.csv"]);
        let missing = dir.path().join("no/such/folder/x.csv");
        assert_eq!(
            write(&missing, b"x", Access::Private)
                .expect_err("no folder")
                .code(),
            "io"
        );
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_0600_and_shared_ones_0644() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let mode = |name: &str, access| {
            let path = dir.path().join(name);
            write(&path, b"x", access).expect("write");
            std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777
        };
        assert_eq!(mode("visitors.json", Access::Private), 0o600);
        assert_eq!(mode("qr.png", Access::Shared), 0o644);
        // An existing world-readable file does not keep its mode: the new file replaces it.
        let path = dir.path().join("old.json");
        std::fs::write(&path, b"old").expect("old");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert_eq!(mode("old.json", Access::Private), 0o600);
    }
}
