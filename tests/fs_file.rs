//! Files: every operation and its errors.

use ringio::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::fd::AsRawFd;

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ringio-test-{}-{name}", std::process::id()))
}

#[test]
fn write_read_sync_metadata_close() {
    ringio_tests::runtime().block_on(async {
        let path = temp_path("rw");
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .await
            .unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        f.write_all_at(data.clone(), 0).await.0.unwrap();
        f.sync_all().await.unwrap();
        f.sync_data().await.unwrap();
        assert_eq!(f.metadata().await.unwrap().len(), data.len() as u64);
        assert!(f.metadata().await.unwrap().is_file());
        let (res, back) = f.read_exact_at(Vec::with_capacity(data.len()), 0).await;
        res.unwrap();
        assert_eq!(back, data);
        let (n, part) = f.read_at(Vec::with_capacity(10), 500).await;
        assert_eq!(&part[..n.unwrap()], &data[500..510]);
        // Reading past the end returns 0; read_exact past the end is UnexpectedEof.
        let (n, _) = f.read_at(Vec::with_capacity(10), data.len() as u64).await;
        assert_eq!(n.unwrap(), 0);
        let (res, _) = f.read_exact_at(Vec::with_capacity(10), data.len() as u64 - 5).await;
        assert_eq!(res.unwrap_err().kind(), ErrorKind::UnexpectedEof);
        f.close().await.unwrap();
        assert_eq!(f.as_raw_fd(), -1);
        let (res, _) = f.read_at(Vec::with_capacity(1), 0).await;
        assert!(ringio::Error::is_closed(&res.unwrap_err()));
        assert!(ringio::Error::is_closed(&f.sync_all().await.unwrap_err()));
        assert!(ringio::Error::is_closed(&f.metadata().await.unwrap_err()));
        std::fs::remove_file(&path).unwrap();
    });
}

#[test]
fn vectored_read_and_write() {
    ringio_tests::runtime().block_on(async {
        let path = temp_path("vec");
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .await
            .unwrap();
        let (n, _) = f
            .writev_at(vec![b"hello ".to_vec(), b"vectored ".to_vec(), b"world".to_vec()], 0)
            .await;
        assert_eq!(n.unwrap(), 20);
        let (n, bufs) = f.readv_at(vec![Vec::with_capacity(5), Vec::with_capacity(15)], 0).await;
        assert_eq!(n.unwrap(), 20);
        assert_eq!(bufs[0], b"hello");
        assert_eq!(bufs[1], b" vectored world");
        f.close().await.unwrap();
        std::fs::remove_file(&path).unwrap();
    });
}

#[test]
fn open_errors_are_clear() {
    ringio_tests::runtime().block_on(async {
        let err = File::open("/nonexistent/ringio/file").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        let err = OpenOptions::new().open(temp_path("noaccess")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let err = File::open("bad\0path").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let path = temp_path("excl");
        let f = File::create(&path).await.unwrap();
        let err = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists);
        f.close().await.unwrap();
        std::fs::remove_file(&path).unwrap();
    });
}

#[test]
fn append_and_create_modes() {
    ringio_tests::runtime().block_on(async {
        let path = temp_path("append");
        let f = File::create(&path).await.unwrap();
        f.write_all_at(b"one".to_vec(), 0).await.0.unwrap();
        f.close().await.unwrap();
        let f = OpenOptions::new().append(true).open(&path).await.unwrap();
        f.write_all_at(b"two".to_vec(), 0).await.0.unwrap(); // O_APPEND ignores the offset
        f.close().await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"onetwo");
        std::fs::remove_file(&path).unwrap();
    });
}

#[test]
fn misaligned_o_direct_buffer_is_an_error_not_a_crash() {
    ringio_tests::runtime().block_on(async {
        let path = temp_path("direct");
        std::fs::write(&path, vec![7u8; 8192]).unwrap();
        let f = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECT)
            .open(&path)
            .await
        {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::Unsupported => {
                eprintln!("skipped: the temp filesystem does not support O_DIRECT: {e}");
                return;
            }
            Err(e) => panic!("{e}"),
        };
        // A Vec<u8> of 4097 bytes at offset 1: refused before submission
        // with a message, not the kernel's bare EINVAL (tests/fs_direct.rs).
        let (res, _) = f.read_at(Vec::with_capacity(4097), 1).await;
        let err = res.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("O_DIRECT read"), "{err}");
        f.close().await.unwrap();
        std::fs::remove_file(&path).unwrap();
    });
}

/// Durable writes land where plain ones do, on buffered and direct files,
/// and a closed file refuses them. (That the kernel is asked for
/// `RWF_DSYNC` is checked on the SQE itself, in `engine/src/op/rw.rs`.)
#[test]
fn durable_writes_read_back() {
    ringio_tests::runtime().block_on(async {
        let path = temp_path("durable");
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .await
            .unwrap();
        let data: Vec<u8> = (0..70_000u32).map(|i| (i % 241) as u8).collect();
        f.write_all_at_durable(data.clone(), 0).await.0.unwrap();
        let (n, _) = f.write_at_durable(b"tail".to_vec(), data.len() as u64).await;
        assert_eq!(n.unwrap(), 4);
        let (res, back) = f.read_exact_at(Vec::with_capacity(data.len() + 4), 0).await;
        res.unwrap();
        assert_eq!(&back[..data.len()], &data[..]);
        assert_eq!(&back[data.len()..], b"tail");
        f.close().await.unwrap();
        let (res, _) = f.write_at_durable(vec![1u8], 0).await;
        assert!(ringio::Error::is_closed(&res.unwrap_err()));
        std::fs::remove_file(&path).unwrap();
    });
}
