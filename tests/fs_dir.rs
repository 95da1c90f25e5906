//! Directory and name operations, whole-file helpers, metadata by path and
//! openat2 resolve rules: results and std's error kinds.

use ringio::fs::{self, File, OpenOptions, RenameFlags, ResolveFlags};
use std::io::ErrorKind;
use std::path::PathBuf;

/// A fresh directory for one test, removed (with std) at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("ringio-dir-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir(&p).unwrap();
        Scratch(p)
    }
    fn join(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn create_and_remove_dirs_with_std_error_kinds() {
    let s = Scratch::new("mk");
    ringio_tests::runtime().block_on(async {
        let d = s.join("a");
        fs::create_dir(&d).await.unwrap();
        assert!(fs::metadata(&d).await.unwrap().is_dir());
        assert_eq!(fs::create_dir(&d).await.unwrap_err().kind(), ErrorKind::AlreadyExists);
        assert_eq!(
            fs::create_dir(s.join("no/such")).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );

        fs::create_dir_all(s.join("a/b/c/d")).await.unwrap();
        fs::create_dir_all(s.join("a/b/c/d")).await.unwrap(); // existing: fine
        assert!(std::fs::metadata(s.join("a/b/c/d")).unwrap().is_dir());
        fs::write(s.join("a/file"), b"x").await.unwrap();
        let err = fs::create_dir_all(s.join("a/file/sub")).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::NotADirectory | ErrorKind::AlreadyExists),
            "{err:?}"
        );

        assert_eq!(
            fs::remove_dir(s.join("a/b")).await.unwrap_err().kind(),
            ErrorKind::DirectoryNotEmpty
        );
        fs::remove_dir(s.join("a/b/c/d")).await.unwrap();
        assert_eq!(
            fs::remove_dir(s.join("a/b/c/d")).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            fs::remove_dir(s.join("a/file")).await.unwrap_err().kind(),
            ErrorKind::NotADirectory
        );
        assert_eq!(
            fs::remove_file(s.join("a/b")).await.unwrap_err().kind(),
            ErrorKind::IsADirectory
        );
        fs::remove_file(s.join("a/file")).await.unwrap();
        assert_eq!(
            fs::remove_file(s.join("a/file")).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            fs::create_dir("bad\0path").await.unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    });
}

#[test]
fn whole_file_read_write_and_metadata() {
    let s = Scratch::new("whole");
    ringio_tests::runtime().block_on(async {
        let p = s.join("f");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect();
        fs::write(&p, &data).await.unwrap();
        assert_eq!(fs::read(&p).await.unwrap(), data);
        assert_eq!(fs::metadata(&p).await.unwrap().len(), data.len() as u64);
        fs::write(&p, "short").await.unwrap(); // truncates
        assert_eq!(fs::read_to_string(&p).await.unwrap(), "short");
        fs::write(&p, [0xffu8, 0xfe]).await.unwrap();
        assert_eq!(fs::read_to_string(&p).await.unwrap_err().kind(), ErrorKind::InvalidData);
        assert_eq!(
            fs::read(s.join("missing")).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            fs::metadata(s.join("missing")).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            fs::write(s.join("no/dir/f"), b"x").await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        // A file whose statx size is 0 but which has contents.
        assert!(!fs::read("/proc/self/status").await.unwrap().is_empty());
        // Empty file.
        fs::write(&p, b"").await.unwrap();
        assert!(fs::read(&p).await.unwrap().is_empty());
    });
}

#[test]
fn rename_noreplace_exchange_links() {
    let s = Scratch::new("names");
    ringio_tests::runtime().block_on(async {
        let (a, b, c) = (s.join("a"), s.join("b"), s.join("c"));
        fs::write(&a, b"A").await.unwrap();
        fs::write(&b, b"B").await.unwrap();

        let err = fs::rename_with(&a, &b, RenameFlags::NOREPLACE).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists);
        assert_eq!(
            std::fs::read(&b).unwrap(),
            b"B",
            "NOREPLACE must leave the target alone"
        );

        fs::rename_with(&a, &b, RenameFlags::EXCHANGE).await.unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"B");
        assert_eq!(std::fs::read(&b).unwrap(), b"A");
        let err = fs::rename_with(&a, &c, RenameFlags::EXCHANGE).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);

        fs::rename_with(&a, &c, RenameFlags::NOREPLACE).await.unwrap();
        fs::rename(&c, &b).await.unwrap(); // replaces
        assert_eq!(std::fs::read(&b).unwrap(), b"B");
        assert!(!a.exists() && !c.exists());
        assert_eq!(fs::rename(&a, &c).await.unwrap_err().kind(), ErrorKind::NotFound);

        fs::hard_link(&b, &a).await.unwrap();
        assert_eq!(
            fs::metadata(&a).await.unwrap().ino(),
            fs::metadata(&b).await.unwrap().ino()
        );
        assert_eq!(
            fs::hard_link(&b, &a).await.unwrap_err().kind(),
            ErrorKind::AlreadyExists
        );
        assert_eq!(
            fs::hard_link(&c, s.join("d")).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );

        fs::symlink("b", &c).await.unwrap();
        assert!(fs::symlink_metadata(&c).await.unwrap().is_symlink());
        assert!(fs::metadata(&c).await.unwrap().is_file());
        assert_eq!(std::fs::read_link(&c).unwrap(), PathBuf::from("b"));
        assert_eq!(fs::symlink("x", &c).await.unwrap_err().kind(), ErrorKind::AlreadyExists);
        fs::symlink("nowhere", s.join("dangling")).await.unwrap();
        assert_eq!(
            fs::metadata(s.join("dangling")).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert!(fs::symlink_metadata(s.join("dangling")).await.unwrap().is_symlink());
    });
}

#[test]
fn openat2_resolve_beneath_refuses_escapes() {
    let s = Scratch::new("resolve");
    std::fs::create_dir(s.join("root")).unwrap();
    std::fs::create_dir(s.join("root/sub")).unwrap();
    std::fs::write(s.join("root/sub/inside"), b"in").unwrap();
    std::fs::write(s.join("outside"), b"out").unwrap();
    std::os::unix::fs::symlink("/etc/hostname", s.join("root/abs")).unwrap();
    std::os::unix::fs::symlink("../outside", s.join("root/rel_up")).unwrap();
    std::os::unix::fs::symlink("sub/inside", s.join("root/rel_in")).unwrap();
    ringio_tests::runtime().block_on(async {
        let root = File::open_dir(s.join("root")).await.unwrap();
        let beneath = |path: &'static str| {
            let root = &root;
            async move {
                OpenOptions::new()
                    .read(true)
                    .resolve(ResolveFlags::BENEATH)
                    .open_at(root, path)
                    .await
            }
        };
        let f = beneath("sub/inside").await.unwrap();
        let (n, buf) = f.read_at(Vec::with_capacity(8), 0).await;
        assert_eq!(&buf[..n.unwrap()], b"in");
        f.close().await.unwrap();
        assert!(beneath("rel_in").await.is_ok(), "a symlink that stays inside is fine");
        for escape in ["../outside", "sub/../../outside", "/etc/hostname", "abs", "rel_up"] {
            let err = beneath(escape).await.unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EXDEV), "{escape}: {err}");
            assert_eq!(err.kind(), ErrorKind::CrossesDevices, "{escape}");
        }
        assert_eq!(beneath("sub/missing").await.unwrap_err().kind(), ErrorKind::NotFound);

        // IN_ROOT: `..` and absolute symlinks resolve inside the root.
        let in_root = OpenOptions::new()
            .read(true)
            .resolve(ResolveFlags::IN_ROOT)
            .open_at(&root, "../../sub/inside")
            .await
            .unwrap();
        in_root.close().await.unwrap();
        let err = OpenOptions::new()
            .read(true)
            .resolve(ResolveFlags::IN_ROOT)
            .open_at(&root, "abs")
            .await
            .unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::NotFound,
            "/etc/hostname inside the root does not exist"
        );

        let err = OpenOptions::new()
            .read(true)
            .resolve(ResolveFlags::NO_SYMLINKS)
            .open_at(&root, "rel_in")
            .await
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP));

        // Create through openat2, relative to the directory.
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .resolve(ResolveFlags::BENEATH)
            .open_at(&root, "sub/new")
            .await
            .unwrap();
        f.write_all_at(b"new".to_vec(), 0).await.0.unwrap();
        f.close().await.unwrap();
        assert_eq!(std::fs::read(s.join("root/sub/new")).unwrap(), b"new");
        let err = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open_at(&root, "sub/new")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists);
        // A closed directory handle is a ringio error, not a stray number.
        root.close().await.unwrap();
        let err = OpenOptions::new()
            .read(true)
            .open_at(&root, "sub/inside")
            .await
            .unwrap_err();
        assert!(ringio::Error::is_closed(&err), "{err}");
    });
}
