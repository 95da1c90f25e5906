//! compat `fs`'s free functions against tokio's contract: `write` then
//! `read`/`read_to_string` (and `InvalidData` for bytes that are not UTF-8),
//! `copy` with its byte count, `rename`, `metadata`, links, `create_dir_all`
//! (idempotent), `read_dir` listing every entry with its type, removals, and
//! the error kinds of missing paths; `DirBuilder` with and without
//! `recursive`, and its mode.

mod common;

use common::fs;
use common::{assert_bytes, flavours, payload};
use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory under the temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ringio-compat-{}-{n}-{name}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn whole_file_helpers_and_copy() {
    flavours(|| async {
        let dir = TempDir::new("whole");
        let path = dir.0.join("data.bin");
        let data = payload(7, 300_000);
        fs::write(&path, &data).await.unwrap();
        assert_bytes(&fs::read(&path).await.unwrap(), &data, "read after write");
        assert_eq!(fs::metadata(&path).await.unwrap().len(), data.len() as u64);
        assert!(fs::metadata(&path).await.unwrap().is_file());

        let copy = dir.0.join("copy.bin");
        assert_eq!(fs::copy(&path, &copy).await.unwrap(), data.len() as u64);
        assert_bytes(&fs::read(&copy).await.unwrap(), &data, "the copy");

        fs::write(&path, "text, now").await.unwrap();
        assert_eq!(fs::read_to_string(&path).await.unwrap(), "text, now");
        fs::write(&path, [0xff, 0xfe]).await.unwrap();
        assert_eq!(
            fs::read_to_string(&path).await.unwrap_err().kind(),
            ErrorKind::InvalidData
        );

        let moved = dir.0.join("moved.bin");
        fs::rename(&copy, &moved).await.unwrap();
        assert!(!fs::try_exists(&copy).await.unwrap());
        assert!(fs::try_exists(&moved).await.unwrap());
        fs::remove_file(&moved).await.unwrap();
        assert_eq!(fs::remove_file(&moved).await.unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(fs::read(&moved).await.unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(fs::metadata(&moved).await.unwrap_err().kind(), ErrorKind::NotFound);
    });
}

#[test]
fn directories_links_and_read_dir() {
    flavours(|| async {
        let dir = TempDir::new("tree");
        let deep = dir.0.join("a/b/c");
        fs::create_dir_all(&deep).await.unwrap();
        fs::create_dir_all(&deep).await.unwrap(); // already there: fine
        assert!(fs::metadata(&deep).await.unwrap().is_dir());
        assert_eq!(
            fs::create_dir(dir.0.join("a")).await.unwrap_err().kind(),
            ErrorKind::AlreadyExists
        );
        fs::create_dir(dir.0.join("empty")).await.unwrap();

        let file = dir.0.join("file.txt");
        fs::write(&file, b"x").await.unwrap();
        fs::hard_link(&file, dir.0.join("hard.txt")).await.unwrap();
        fs::symlink(&file, dir.0.join("sym.txt")).await.unwrap();
        assert_eq!(fs::read_link(dir.0.join("sym.txt")).await.unwrap(), file);
        assert!(fs::symlink_metadata(dir.0.join("sym.txt"))
            .await
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(
            fs::canonicalize(dir.0.join("a/b/../b")).await.unwrap(),
            fs::canonicalize(dir.0.join("a/b")).await.unwrap()
        );

        let mut names = BTreeSet::new();
        let mut entries = fs::read_dir(&dir.0).await.unwrap();
        while let Some(entry) = entries.next_entry().await.unwrap() {
            assert_eq!(entry.path(), dir.0.join(entry.file_name()));
            let ty = entry.file_type().await.unwrap();
            let kind = if ty.is_dir() {
                "dir"
            } else if ty.is_symlink() {
                "link"
            } else {
                "file"
            };
            assert_eq!(entry.metadata().await.unwrap().is_dir(), ty.is_dir());
            names.insert(format!("{}:{kind}", entry.file_name().to_string_lossy()));
        }
        assert!(entries.next_entry().await.unwrap().is_none());
        let want: BTreeSet<String> = ["a:dir", "empty:dir", "file.txt:file", "hard.txt:file", "sym.txt:link"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(names, want);

        assert_eq!(
            fs::remove_dir(dir.0.join("a")).await.unwrap_err().kind(),
            ErrorKind::DirectoryNotEmpty
        );
        fs::remove_dir(dir.0.join("empty")).await.unwrap();
        fs::remove_dir_all(dir.0.join("a")).await.unwrap();
        assert!(!fs::try_exists(dir.0.join("a")).await.unwrap());
        assert_eq!(
            fs::read_dir(dir.0.join("missing")).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        let mut perms = fs::metadata(&file).await.unwrap().permissions();
        perms.set_readonly(true);
        fs::set_permissions(&file, perms).await.unwrap();
        assert!(fs::metadata(&file).await.unwrap().permissions().readonly());
    });
}

#[test]
fn dir_builder_recursive_and_mode() {
    use std::os::unix::fs::PermissionsExt;
    flavours(|| async {
        let dir = TempDir::new("builder");
        let deep = dir.0.join("x/y/z");
        let err = fs::DirBuilder::new().create(&deep).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&deep)
            .await
            .unwrap();
        fs::DirBuilder::new().recursive(true).create(&deep).await.unwrap(); // exists: fine
        let mode = fs::metadata(&deep).await.unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let err = fs::DirBuilder::new().create(&deep).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    });
}
