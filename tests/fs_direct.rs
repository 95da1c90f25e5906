//! Direct I/O: alignment from statx, aligned transfers, misaligned ones
//! refused with a typed error before anything is submitted, short reads at
//! the end of the file, O_DSYNC writes.

use ringio::buf::AlignedBuf;
use ringio::fs::{File, OpenOptions};
use std::io::ErrorKind;

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ringio-direct-{}-{name}", std::process::id()))
}

/// Opens `path` for direct reads and writes, or `None` (with the reason)
/// where the filesystem has no direct I/O.
async fn open_direct(path: &std::path::Path) -> Option<File> {
    match OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .direct(true)
        .open(path)
        .await
    {
        Ok(f) => Some(f),
        Err(e) if e.kind() == ErrorKind::Unsupported => {
            eprintln!("skipped: {}: {e}", path.display());
            None
        }
        Err(e) => panic!("open O_DIRECT: {e}"),
    }
}

#[test]
fn aligned_round_trip_and_short_read_at_eof() {
    ringio_tests::runtime().block_on(async {
        let path = temp_path("rt");
        let Some(f) = open_direct(&path).await else { return };
        assert!(f.is_direct());
        let a = f.dio_alignment().await.unwrap();
        assert!(a.memory().is_power_of_two() && a.offset().is_power_of_two(), "{a:?}");
        eprintln!("alignment {a:?}");
        let block = a.offset();
        let mut buf = a.buf(4 * block).unwrap();
        assert_eq!(buf.as_ptr() as usize % a.memory(), 0);
        for i in 0..4 * block {
            buf.extend_from_slice(&[(i % 251) as u8]);
        }
        let expect = buf.to_vec();
        let (res, _) = f.write_all_at(buf, block as u64).await;
        res.unwrap();
        f.sync_data().await.unwrap();
        assert_eq!(f.metadata().await.unwrap().len(), 5 * block as u64);

        // One aligned read of 8 blocks at block 1: only 4 are there.
        let (n, back) = f.read_at(a.buf(8 * block).unwrap(), block as u64).await;
        assert_eq!(n.unwrap(), 4 * block);
        assert_eq!(&back[..], &expect[..]);
        // At the end: 0.
        let (n, _) = f.read_at(a.buf(block).unwrap(), 5 * block as u64).await;
        assert_eq!(n.unwrap(), 0);
        // read_exact past the end: UnexpectedEof, not a misalignment error.
        let (res, _) = f.read_exact_at(a.buf(8 * block).unwrap(), block as u64).await;
        assert_eq!(res.unwrap_err().kind(), ErrorKind::UnexpectedEof);
        // The page cache never saw it, but a buffered reader sees the same bytes.
        let plain = std::fs::read(&path).unwrap();
        assert_eq!(&plain[block..], &expect[..]);
        f.close().await.unwrap();
        std::fs::remove_file(&path).unwrap();
    });
}

#[test]
fn misaligned_requests_are_typed_errors_before_submission() {
    ringio_tests::runtime().block_on(async {
        let path = temp_path("mis");
        let Some(f) = open_direct(&path).await else { return };
        let a = f.dio_alignment().await.unwrap();
        let block = a.offset();
        let (res, _) = f
            .write_all_at(
                a.buf(block)
                    .map(|mut b| {
                        b.resize(block, 1);
                        b
                    })
                    .unwrap(),
                0,
            )
            .await;
        res.unwrap();
        let before = ringio::runtime::stats().unwrap().submitted;

        // A Vec's address is rarely 4096-aligned; an AlignedBuf offset by one byte never is.
        let mut odd = AlignedBuf::new(2 * block, a.memory().max(2)).unwrap();
        odd.resize(2 * block, 0);
        let odd = ringio::buf::IoBuf::slice(odd, 1..block + 1);
        let (res, _) = f.read_at(odd, 0).await;
        let err = res.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.raw_os_error().is_none(), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("address") && msg.contains(&a.memory().to_string()),
            "{msg}"
        );

        let (res, _) = f.read_at(a.buf(block).unwrap(), 1).await;
        let msg = res.unwrap_err().to_string();
        assert!(msg.contains("offset 1") && msg.contains(&block.to_string()), "{msg}");

        let mut short = AlignedBuf::new(block, a.memory()).unwrap();
        short.resize(block - 1, 7);
        let (res, _) = f.write_at(short, 0).await;
        let err = res.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains(&format!("length {}", block - 1)), "{err}");

        let bufs = vec![a.buf(block).unwrap(), AlignedBuf::new(block + 1, a.memory()).unwrap()];
        let (res, _) = f.readv_at(bufs, 0).await;
        assert!(res.unwrap_err().to_string().contains("length"));

        // None of these reached the kernel.
        assert_eq!(ringio::runtime::stats().unwrap().submitted, before);
        f.close().await.unwrap();
        std::fs::remove_file(&path).unwrap();
    });
}

#[test]
fn custom_flags_o_direct_and_from_std_are_checked_too() {
    ringio_tests::runtime().block_on(async {
        let path = temp_path("custom");
        std::fs::write(&path, vec![3u8; 8192]).unwrap();
        let f = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECT)
            .open(&path)
            .await
        {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::Unsupported => return eprintln!("skipped: {e}"),
            Err(e) => panic!("{e}"),
        };
        assert!(f.is_direct());
        let (res, _) = f.read_at(Vec::with_capacity(4097), 1).await;
        assert_eq!(res.unwrap_err().kind(), ErrorKind::InvalidInput);
        f.close().await.unwrap();

        use std::os::unix::fs::OpenOptionsExt;
        let std_file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECT)
            .open(&path)
            .unwrap();
        let f = File::from_std(std_file);
        assert!(f.is_direct());
        let a = f.dio_alignment().await.unwrap();
        let (res, _) = f.read_at(a.buf(4096).unwrap(), 3).await;
        assert_eq!(res.unwrap_err().kind(), ErrorKind::InvalidInput);
        let (n, buf) = f.read_at(a.buf(8192).unwrap(), 0).await;
        assert_eq!(n.unwrap(), 8192);
        assert!(buf.iter().all(|&b| b == 3));
        f.close().await.unwrap();
        std::fs::remove_file(&path).unwrap();
    });
}

#[test]
fn alignment_is_reported_for_buffered_files_and_dsync_writes_land() {
    ringio_tests::runtime().block_on(async {
        let path = temp_path("dsync");
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .dsync(true)
            .open(&path)
            .await
            .unwrap();
        assert!(!f.is_direct());
        f.write_all_at(b"durable".to_vec(), 0).await.0.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"durable");
        match f.dio_alignment().await {
            Ok(a) => assert!(a.offset() >= 1, "{a:?}"),
            Err(e) => assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}"),
        }
        // Buffered files take any buffer.
        let (n, _) = f.read_at(Vec::with_capacity(3), 1).await;
        assert_eq!(n.unwrap(), 3);
        f.close().await.unwrap();
        std::fs::remove_file(&path).unwrap();
    });
}

#[test]
fn tmpfs_direct_io_is_a_clear_error_or_works() {
    let dir = std::path::Path::new("/dev/shm");
    if !dir.is_dir() {
        return eprintln!("skipped: no /dev/shm here");
    }
    ringio_tests::runtime().block_on(async {
        let path = dir.join(format!("ringio-direct-{}", std::process::id()));
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .direct(true)
            .open(&path)
            .await
        {
            Ok(f) => {
                eprintln!("tmpfs accepts O_DIRECT on this kernel (Linux 6.6+)");
                f.close().await.unwrap();
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
                assert!(e.to_string().contains("direct I/O"), "{e}");
            }
        }
        let _ = std::fs::remove_file(&path);
    });
}
