//! Files Steward keeps on disk are private to the account that runs it: the data directory is
//! 0700, the SQLite database (with its WAL and SHM), backups and the anchor file 0600, and a
//! master key file others can read stops the server.
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::config::{MasterKeySource, Settings};

/// The process umask that makes every file Steward creates from now on (the database, its WAL
/// and SHM, backups, the anchor file, media) readable by its owner only. The edges call
/// [`private_umask`] first thing; this is its value.
pub const PRIVATE_UMASK: u32 = 0o077;

/// Sets the process umask to [`PRIVATE_UMASK`] (process-wide; call before any file is created).
pub fn private_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(PRIVATE_UMASK));
}

/// Refuses a master key file that group or others may read or write: the key opens every
/// sealed credential, so a server must not start with it exposed. The message names the fix.
pub fn check_master_key_file(source: &MasterKeySource) -> anyhow::Result<()> {
    let MasterKeySource::File(path) = source else { return Ok(()) };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        // Absent: it is created 0600 when the key is loaded.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(anyhow::anyhow!("cannot read the master key file {}: {e}", path.display())),
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        anyhow::bail!(
            "the master key file {path} can be read by other users (mode {mode:04o}); run `chmod 600 {path}` and start Steward again",
            path = path.display()
        );
    }
    Ok(())
}

/// Tightens what an older version (or an operator) left more open: the data directory to 0700,
/// the SQLite database, its WAL and SHM and the anchor file to 0600. Files that do not exist
/// yet are created private by the umask.
pub fn tighten(settings: &Settings) -> anyhow::Result<()> {
    if settings.database_url.starts_with("sqlite:") || settings.data_dir.exists() {
        std::fs::create_dir_all(&settings.data_dir)?;
        set_mode(&settings.data_dir, 0o700)?;
    }
    let mut files: Vec<PathBuf> = vec![settings.audit_anchor_file.clone()];
    if let Some(db) = steward_store::sqlite_file(&settings.database_url) {
        for suffix in ["", "-wal", "-shm", "-journal", ".lock"] {
            let mut name = db.clone().into_os_string();
            name.push(suffix);
            files.push(PathBuf::from(name));
        }
    }
    for f in files {
        if f.exists() {
            set_mode(&f, 0o600)?;
        }
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    let current = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if current != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| anyhow::anyhow!("cannot make {} private (chmod {mode:o}): {e}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_others_can_read_is_refused_with_the_chmod_to_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("master.key");
        std::fs::write(&path, "x").expect("write");
        for mode in [0o644, 0o640, 0o604, 0o660, 0o606] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
            let e = check_master_key_file(&MasterKeySource::File(path.clone())).expect_err("refused").to_string();
            assert!(e.contains(&format!("chmod 600 {}", path.display())), "{e}");
        }
        for mode in [0o600, 0o400] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
            check_master_key_file(&MasterKeySource::File(path.clone())).expect("private key file accepted");
        }
        check_master_key_file(&MasterKeySource::File(dir.path().join("absent.key"))).expect("absent: created later");
    }
}
