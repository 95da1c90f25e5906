//! On io_uring, the file and directory operations whose opcode the kernel
//! lacks run on the blocking pool. `RINGIO_URING_NO_OPCODES` makes the probe
//! cache answer "absent" for the named opcodes, so this runs the fallback on
//! a kernel that has them all. (One test per binary: the variable is read
//! once per process.)

use ringio::fs::{self, FallocateFlags, File, OpenOptions, RenameFlags, ResolveFlags};
use std::io::ErrorKind;

#[test]
fn every_new_operation_works_without_its_opcode() {
    std::env::set_var(
        "RINGIO_URING_NO_OPCODES",
        "FALLOCATE,FADVISE,SYNC_FILE_RANGE,FTRUNCATE,STATX,MKDIRAT,UNLINKAT,RENAMEAT,LINKAT,SYMLINKAT,OPENAT2,SPLICE",
    );
    let dir = std::env::temp_dir().join(format!("ringio-fallback-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    ringio_tests::runtime().block_on(async {
        let on_ring = ringio::runtime::backend().unwrap() == ringio::Backend::IoUring;
        let before = ringio::runtime::stats().unwrap().submitted;
        fs::create_dir_all(dir.join("a/b")).await.unwrap();
        if on_ring {
            // mkdirat and statx went to the pool: nothing reached the ring.
            assert_eq!(ringio::runtime::stats().unwrap().submitted, before);
        }
        assert_eq!(
            fs::create_dir(dir.join("a")).await.unwrap_err().kind(),
            ErrorKind::AlreadyExists
        );
        let p = dir.join("a/b/f");
        fs::write(&p, b"hello").await.unwrap();
        assert_eq!(fs::metadata(&p).await.unwrap().len(), 5);
        fs::hard_link(&p, dir.join("a/h")).await.unwrap();
        fs::symlink("b/f", dir.join("a/s")).await.unwrap();
        assert!(fs::symlink_metadata(dir.join("a/s")).await.unwrap().is_symlink());
        let err = fs::rename_with(&p, dir.join("a/h"), RenameFlags::NOREPLACE)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists);
        fs::rename(dir.join("a/h"), dir.join("a/h2")).await.unwrap();

        let root = File::open_dir(dir.join("a")).await.unwrap();
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .resolve(ResolveFlags::BENEATH)
            .open_at(&root, "b/f")
            .await
            .unwrap();
        let err = OpenOptions::new()
            .read(true)
            .resolve(ResolveFlags::BENEATH)
            .open_at(&root, "../x")
            .await
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EXDEV));
        f.allocate(0, 1 << 16, FallocateFlags::KEEP_SIZE).await.unwrap();
        f.advise(0, 0, ringio::fs::Advice::Sequential).await.unwrap();
        f.sync_range(0, 0, ringio::fs::SyncRangeFlags::WRITE).await.unwrap();
        f.set_len(3).await.unwrap();
        assert_eq!(fs::read(&p).await.unwrap(), b"hel");
        f.close().await.unwrap();
        root.close().await.unwrap();

        // Splice on the pool: file side and socket side.
        let listener = ringio::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let data = vec![5u8; 300_000];
        fs::write(&p, &data).await.unwrap();
        let reader = ringio::spawn(async move {
            let s = ringio::net::TcpStream::connect(addr).await.unwrap();
            let mut n_total = 0;
            loop {
                let (n, _) = s.read(Vec::with_capacity(65536)).await;
                match n.unwrap() {
                    0 => break n_total,
                    n => n_total += n,
                }
            }
        });
        let (stream, _) = listener.accept().await.unwrap();
        let f = File::open(&p).await.unwrap();
        assert_eq!(f.splice_to(&stream, 0, 1 << 30).await.unwrap(), 300_000);
        stream.close().await.unwrap();
        assert_eq!(reader.await.unwrap(), 300_000);
        f.close().await.unwrap();

        fs::remove_file(dir.join("a/s")).await.unwrap();
        fs::remove_file(dir.join("a/h2")).await.unwrap();
        fs::remove_file(&p).await.unwrap();
        fs::remove_dir(dir.join("a/b")).await.unwrap();
        fs::remove_dir(dir.join("a")).await.unwrap();
        fs::remove_dir(&dir).await.unwrap();
    });
}
