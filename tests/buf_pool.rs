//! Registered buffers (`BufPool`, `FixedBuf`): file reads and writes through
//! them on both backends, buffers that go back to their pool (also from a
//! dropped operation, only once the kernel is done), buffers of another
//! ring's pool, O_DIRECT, and the table entries a dropped pool gives back.

use ringio::buf::{BufPool, FixedBuf};
use ringio::fs::{File, OpenOptions};
use ringio::Backend;
use ringio_tests::{settle, STEP};
use std::io::ErrorKind;

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ringio-bufpool-{}-{name}", std::process::id()))
}

async fn scratch_file(name: &str) -> (File, std::path::PathBuf) {
    let path = temp_path(name);
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .await
        .expect("open scratch file");
    (f, path)
}

/// A block of `len` bytes that says which block it is.
fn block(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 31 + j * 7) as u8).collect()
}

fn filled(pool: &BufPool, data: &[u8]) -> FixedBuf {
    let mut buf = pool.try_get().expect("a free buffer");
    assert_eq!(buf.append(data), data.len());
    buf
}

#[test]
fn fixed_writes_and_reads_round_trip_and_are_registered_on_io_uring() {
    let rt = ringio_tests::runtime();
    let on_ring = rt.backend() == Backend::IoUring;
    rt.block_on(ringio::time::timeout(STEP, async {
        const N: usize = 16;
        const SIZE: usize = 8192;
        let pool = BufPool::new(N as u16, SIZE).unwrap();
        assert_eq!(pool.is_registered(), on_ring, "{pool:?}");
        let (f, path) = scratch_file("round-trip").await;
        let f = std::sync::Arc::new(f);
        // All N buffers in flight at once, each at its own offset.
        let writes: Vec<_> = (0..N)
            .map(|i| {
                let (f, buf) = (f.clone(), filled(&pool, &block(i, SIZE)));
                ringio::spawn(async move { f.write_fixed_at(buf, (i * SIZE) as u64).await.0 })
            })
            .collect();
        for w in writes {
            assert_eq!(w.await.unwrap().unwrap(), SIZE);
        }
        assert_eq!(pool.available(), N, "every buffer went back after its write");
        for i in 0..N {
            let buf = pool.try_get().unwrap();
            let (n, buf) = f.read_fixed_at(buf, (i * SIZE) as u64).await;
            assert_eq!(n.unwrap(), SIZE);
            assert_eq!(&buf[..], &block(i, SIZE)[..], "block {i}");
        }
        // Past the end: 0 bytes, like read_at.
        let (n, buf) = f.read_fixed_at(pool.try_get().unwrap(), (N * SIZE) as u64).await;
        assert_eq!((n.unwrap(), buf.len()), (0, 0));
        f.close().await.unwrap();
        let (res, _) = f.read_fixed_at(pool.try_get().unwrap(), 0).await;
        assert!(ringio::Error::is_closed(&res.unwrap_err()));
        std::fs::remove_file(path).unwrap();
    }))
    .expect("hung");
}

/// A buffer of a pool registered with another runtime's ring is plain
/// memory here: the read lands in it, not in whatever this ring's table
/// holds at that index (this ring has a pool of its own at the same index).
#[test]
fn a_buffer_of_another_rings_pool_reads_into_itself() {
    let other = ringio_tests::runtime();
    let foreign_pool = other.block_on(async { BufPool::new(1, 4096) }).unwrap();
    let rt = ringio_tests::runtime();
    rt.block_on(ringio::time::timeout(STEP, async {
        let own_pool = BufPool::new(1, 4096).unwrap();
        let (f, path) = scratch_file("foreign").await;
        f.write_all_at(block(5, 4096), 0).await.0.unwrap();
        let own = own_pool.try_get().unwrap();
        let (n, foreign) = f.read_fixed_at(foreign_pool.try_get().unwrap(), 0).await;
        assert_eq!(n.unwrap(), 4096);
        assert_eq!(&foreign[..], &block(5, 4096)[..]);
        assert!(own.is_empty(), "this ring's own buffer was written");
        std::fs::remove_file(path).unwrap();
    }))
    .expect("hung");
    drop(other);
}

/// Waits (bounded) until every buffer of `pool` is back.
async fn all_back(pool: &BufPool, what: &str) {
    let deadline = std::time::Instant::now() + STEP;
    while pool.available() < usize::from(pool.count()) {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: buffers never came back: {pool:?}"
        );
        ringio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

/// A read dropped mid-flight keeps its buffer until the kernel (or the
/// blocking pool) is done; then the buffer is back in the pool, for every
/// one of many drops, and the reads that were not dropped got their data.
#[test]
fn dropped_fixed_reads_give_their_buffers_back() {
    ringio_tests::runtime()
        .block_on(ringio::time::timeout(STEP * 3, async {
            let pool = BufPool::new(4, 65536).unwrap();
            let (f, path) = scratch_file("drops").await;
            let data: Vec<u8> = (0..4 * 65536).map(|i| (i % 253) as u8).collect();
            f.write_all_at(data.clone(), 0).await.0.unwrap();
            let (mut dropped, mut finished) = (0, 0);
            for round in 0..2000u64 {
                let buf = match pool.try_get() {
                    Some(buf) => buf,
                    None => {
                        all_back(&pool, "mid-storm").await;
                        pool.try_get().unwrap()
                    }
                };
                let at = (round % 4) * 65536;
                match ringio_tests::poll_once_output(f.read_fixed_at(buf, at)).await {
                    None => dropped += 1,
                    Some((n, buf)) => {
                        finished += 1;
                        assert_eq!(&buf[..n.unwrap()], &data[at as usize..][..65536]);
                    }
                }
            }
            all_back(&pool, "after the storm").await;
            eprintln!("{dropped} reads dropped in flight, {finished} finished in their first poll");
            settle().await;
            std::fs::remove_file(path).unwrap();
        }))
        .expect("hung");
}

/// A dropped pool gives its table entries back, also when dropped on
/// another thread: a pool as large as the whole table is registered again
/// and again.
#[test]
fn a_dropped_pools_entries_are_reused() {
    let rt = ringio_tests::runtime();
    if rt.backend() != Backend::IoUring {
        return; // nothing is registered on readiness backends
    }
    rt.block_on(ringio::time::timeout(STEP, async {
        for round in 0..4 {
            let pool = BufPool::new(4096, 512).unwrap();
            assert!(
                pool.is_registered(),
                "round {round}: the table's entries did not come back"
            );
            if round % 2 == 0 {
                drop(pool);
            } else {
                std::thread::spawn(move || drop(pool)).join().unwrap();
                // The owner clears the entries on its next turn.
                for _ in 0..3 {
                    ringio::nop().await.unwrap();
                }
            }
        }
    }))
    .expect("hung");
}

#[test]
fn bad_pools_are_refused_and_buffers_fill_only_to_capacity() {
    assert_eq!(BufPool::new(0, 4096).unwrap_err().kind(), ErrorKind::InvalidInput);
    assert_eq!(BufPool::new(4, 0).unwrap_err().kind(), ErrorKind::InvalidInput);
    assert_eq!(
        BufPool::new(1, (1 << 30) + 1).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let pool = BufPool::new(2, 4).unwrap();
    let mut a = pool.try_get().unwrap();
    let _b = pool.try_get().unwrap();
    assert!(pool.try_get().is_none());
    assert_eq!(a.append(b"abcdef"), 4);
    assert_eq!(a.append(b"x"), 0);
    assert_eq!(&a[..], b"abcd");
    drop(a);
    assert_eq!(pool.available(), 1);
}

/// Registered buffers are page-aligned, so they serve O_DIRECT.
#[test]
fn fixed_buffers_serve_o_direct() {
    ringio_tests::runtime()
        .block_on(ringio::time::timeout(STEP, async {
            let path = temp_path("direct");
            let f = match OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .direct(true)
                .open(&path)
                .await
            {
                Ok(f) => f,
                Err(e) if e.kind() == ErrorKind::Unsupported => return eprintln!("skipped: {e}"),
                Err(e) => panic!("open O_DIRECT: {e}"),
            };
            let pool = BufPool::new(2, 4096).unwrap();
            let (n, _) = f.write_fixed_at(filled(&pool, &block(3, 4096)), 0).await;
            assert_eq!(n.unwrap(), 4096);
            let (n, buf) = f.read_fixed_at(pool.try_get().unwrap(), 0).await;
            assert_eq!(n.unwrap(), 4096);
            assert_eq!(&buf[..], &block(3, 4096)[..]);
            // A misaligned length is refused before submission, as for AlignedBuf.
            let (res, _) = f.write_fixed_at(filled(&pool, b"short"), 0).await;
            assert_eq!(res.unwrap_err().kind(), ErrorKind::InvalidInput);
            std::fs::remove_file(path).unwrap();
        }))
        .expect("hung");
}
