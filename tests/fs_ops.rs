//! File operations beyond read and write: fallocate modes, fadvise,
//! sync_file_range, set_len, vectored I/O at offsets, and splice from a file
//! to a socket served over loopback.

use ringio::fs::{Advice, FallocateFlags, File, OpenOptions, SyncRangeFlags};
use ringio::net::{TcpListener, TcpStream};
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ringio-ops-{}-{name}", std::process::id()))
}

async fn rw(path: &std::path::Path) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .await
        .unwrap()
}

#[test]
fn fallocate_modes() {
    ringio_tests::runtime().block_on(async {
        let path = temp_path("falloc");
        let f = rw(&path).await;
        f.allocate(0, 1 << 20, FallocateFlags::empty()).await.unwrap();
        assert_eq!(f.metadata().await.unwrap().len(), 1 << 20);
        f.allocate(1 << 20, 1 << 20, FallocateFlags::KEEP_SIZE).await.unwrap();
        assert_eq!(f.metadata().await.unwrap().len(), 1 << 20, "KEEP_SIZE");
        assert!(std::fs::metadata(&path).unwrap().blocks() * 512 >= 2 << 20);

        f.write_all_at(vec![0xaa; 64 * 1024], 0).await.0.unwrap();
        let punch = FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE;
        f.allocate(4096, 8192, punch).await.unwrap();
        f.allocate(32 * 1024, 4096, FallocateFlags::ZERO_RANGE).await.unwrap();
        let (res, back) = f.read_exact_at(Vec::with_capacity(64 * 1024), 0).await;
        res.unwrap();
        assert!(back[..4096].iter().all(|&b| b == 0xaa));
        assert!(back[4096..12288].iter().all(|&b| b == 0), "punched");
        assert!(back[12288..32768].iter().all(|&b| b == 0xaa));
        assert!(back[32768..36864].iter().all(|&b| b == 0), "zeroed");
        assert_eq!(f.metadata().await.unwrap().len(), 1 << 20);

        let err = f.allocate(0, 4096, FallocateFlags::PUNCH_HOLE).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::InvalidInput | ErrorKind::Unsupported),
            "{err}"
        );
        assert_eq!(
            f.allocate(0, 0, FallocateFlags::empty()).await.unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        f.close().await.unwrap();
        assert!(ringio::Error::is_closed(
            &f.allocate(0, 1, FallocateFlags::empty()).await.unwrap_err()
        ));
        std::fs::remove_file(&path).unwrap();
    });
}

#[test]
fn fadvise_sync_range_set_len() {
    ringio_tests::runtime().block_on(async {
        let path = temp_path("hints");
        let f = rw(&path).await;
        f.write_all_at(vec![1u8; 100_000], 0).await.0.unwrap();
        for advice in [
            Advice::Sequential,
            Advice::Random,
            Advice::WillNeed,
            Advice::DontNeed,
            Advice::NoReuse,
            Advice::Normal,
        ] {
            f.advise(0, 0, advice).await.unwrap();
        }
        f.sync_range(0, 0, SyncRangeFlags::WRITE).await.unwrap();
        let all = SyncRangeFlags::WAIT_BEFORE | SyncRangeFlags::WRITE | SyncRangeFlags::WAIT_AFTER;
        f.sync_range(4096, 8192, all).await.unwrap();
        f.sync_range(0, 1 << 33, all).await.unwrap(); // longer than an SQE can say: pool
        let bad = SyncRangeFlags::from_bits_retain(0x80);
        assert_eq!(
            f.sync_range(0, 0, bad).await.unwrap_err().kind(),
            ErrorKind::InvalidInput
        );

        f.set_len(10).await.unwrap();
        assert_eq!(f.metadata().await.unwrap().len(), 10);
        f.set_len(1 << 20).await.unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 1 << 20);
        let (n, buf) = f.read_at(Vec::with_capacity(20), 5).await;
        assert_eq!(n.unwrap(), 20);
        assert_eq!(&buf[..], &[1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        f.close().await.unwrap();

        let ro = File::open(&path).await.unwrap();
        assert_eq!(ro.set_len(0).await.unwrap_err().kind(), ErrorKind::InvalidInput);
        ro.close().await.unwrap();
        std::fs::remove_file(&path).unwrap();
    });
}

#[test]
fn vectored_at_offsets_and_short_read_at_eof() {
    ringio_tests::runtime().block_on(async {
        let path = temp_path("vec");
        let f = rw(&path).await;
        let (n, _) = f
            .writev_at(vec![b"0123".to_vec(), b"".to_vec(), b"456789".to_vec()], 100)
            .await;
        assert_eq!(n.unwrap(), 10);
        let (n, bufs) = f
            .readv_at(
                vec![Vec::with_capacity(3), Vec::with_capacity(3), Vec::with_capacity(100)],
                102,
            )
            .await;
        assert_eq!(n.unwrap(), 8, "short at end of file");
        assert_eq!(bufs[0], b"234");
        assert_eq!(bufs[1], b"567");
        assert_eq!(bufs[2], b"89");
        let (n, bufs) = f.readv_at(vec![Vec::with_capacity(4)], 110).await;
        assert_eq!(n.unwrap(), 0);
        assert!(bufs[0].is_empty());
        let (res, _) = f.read_exact_at(Vec::with_capacity(20), 100).await;
        assert_eq!(res.unwrap_err().kind(), ErrorKind::UnexpectedEof);
        // The gap before offset 100 reads as zeros.
        let (n, buf) = f.read_at(Vec::with_capacity(4), 0).await;
        assert_eq!((n.unwrap(), &buf[..]), (4, &[0u8; 4][..]));
        f.close().await.unwrap();
        std::fs::remove_file(&path).unwrap();
    });
}

#[test]
fn splice_serves_a_file_over_loopback() {
    let path = temp_path("splice");
    // Larger than one pipe round, not a multiple of a page.
    let data: Vec<u8> = (0..3 * 1024 * 1024 + 12345u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    std::fs::write(&path, &data).unwrap();
    ringio_tests::runtime().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let expect = data.clone();
        // The client reads slowly at first, so the socket buffer fills and
        // the sender has to wait for writability.
        let client = ringio::spawn(async move {
            let stream = TcpStream::connect(addr).await.unwrap();
            ringio::time::sleep(std::time::Duration::from_millis(50)).await;
            let mut got = Vec::with_capacity(expect.len());
            loop {
                let (n, buf) = stream.read(Vec::with_capacity(256 * 1024)).await;
                let n = n.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            got
        });
        let (stream, _) = listener.accept().await.unwrap();
        let file = File::open(&path).await.unwrap();
        let len = file.metadata().await.unwrap().len();
        // The middle part, then the rest asked past the end.
        let sent = file.splice_to(&stream, 0, 1000).await.unwrap();
        assert_eq!(sent, 1000);
        let sent = file.splice_to(&stream, 1000, len).await.unwrap();
        assert_eq!(sent, len - 1000, "stops at end of file");
        assert_eq!(file.splice_to(&stream, len, 10).await.unwrap(), 0);
        stream.close().await.unwrap();
        let got = client.await.unwrap();
        assert_eq!(got.len(), data.len());
        assert!(got == data, "bytes differ");

        // To a closed stream: a ringio error.
        let err = file.splice_to(&stream, 0, 10).await.unwrap_err();
        assert!(ringio::Error::is_closed(&err), "{err}");
        file.close().await.unwrap();
    });
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn splice_to_a_peer_that_left_is_an_error_not_a_hang() {
    let path = temp_path("splice-reset");
    std::fs::write(&path, vec![9u8; 8 << 20]).unwrap();
    ringio_tests::runtime().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::thread::spawn(move || {
            let s = std::net::TcpStream::connect(addr).unwrap();
            let mut buf = [0u8; 4096];
            use std::io::Read;
            let _ = (&s).read(&mut buf);
            drop(s); // unread data queued: the kernel resets the connection
        });
        let (stream, _) = listener.accept().await.unwrap();
        let file = File::open(&path).await.unwrap();
        let err = file.splice_to(&stream, 0, 8 << 20).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset),
            "{err:?}"
        );
        client.join().unwrap();
        file.close().await.unwrap();
    });
    std::fs::remove_file(&path).unwrap();
}
