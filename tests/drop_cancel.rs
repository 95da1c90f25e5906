//! Dropping futures mid-operation, thousands of times: reads, accepts,
//! connects, timeouts and nops. No panic, no leaked descriptor (counted in
//! /proc/self/fd), no leaked slab entry, and the buffers stay alive until the
//! kernel lets go (run this file under valgrind or ASan to check that).

use ringio::net::{TcpListener, TcpStream, UnixStream};
use ringio_tests::{open_fds, poll_once, settle};
use std::time::Duration;

const ROUNDS: usize = 2000;

#[test]
fn dropped_operations_leak_nothing() {
    let _serial = ringio_tests::fd_serial();
    let before = open_fds();
    let rt = ringio_tests::runtime();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (a, b) = UnixStream::pair().unwrap();
        let mut kept = Vec::new();
        for i in 0..ROUNDS {
            // A read dropped while in the kernel; every 7th round the data
            // arrives first, so the completion is orphaned instead.
            if i % 7 == 0 {
                b.write_all(b"x".to_vec()).await.0.unwrap();
            }
            poll_once(a.read(vec![0u8; 4096])).await;
            // An accept dropped in flight; every 5th round a client connects
            // right after, so the kernel may accept for the dropped future and
            // the orphaned socket must be closed by the driver.
            poll_once(listener.accept()).await;
            if i % 5 == 0 {
                kept.push(std::net::TcpStream::connect(addr).unwrap());
            }
            // A connect dropped in flight (its socket must be closed).
            poll_once(TcpStream::connect(addr)).await;
            // Timers and nops dropped before they fire.
            poll_once(ringio::time::sleep(Duration::from_secs(1))).await;
            let _ = ringio::time::timeout(Duration::ZERO, ringio::time::sleep(Duration::from_secs(1))).await;
            poll_once(ringio::nop()).await;
            if i % 64 == 0 {
                ringio::runtime::yield_now().await;
            }
            // Connections queued by dropped connects: accept and drop them so
            // the backlog never fills.
            while let Ok(Ok((s, _))) = ringio::time::timeout(Duration::ZERO, listener.accept()).await {
                drop(s);
            }
        }
        let stats = settle().await;
        assert!(stats.orphaned >= ROUNDS as u64, "{stats:?}");
        drop(kept);
        drop((a, b));
        listener.close().await.unwrap();
        settle().await;
    });
    drop(rt);
    assert_eq!(open_fds(), before, "descriptors leaked");
}

#[test]
fn dropping_the_runtime_with_operations_in_flight_waits_and_leaks_nothing() {
    let _serial = ringio_tests::fd_serial();
    let before = open_fds();
    for _ in 0..20 {
        let rt = ringio_tests::runtime();
        let (a, b) = UnixStream::pair().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        rt.spawn(async move {
            let _ = a.read(vec![0u8; 1 << 16]).await;
        });
        rt.spawn(async move {
            let _ = listener.accept().await;
        });
        rt.spawn(ringio::time::sleep(Duration::from_secs(3600)));
        rt.block_on(async {
            ringio::runtime::yield_now().await;
            let stats = ringio::runtime::stats().unwrap();
            assert!(stats.in_flight >= 2, "{stats:?}");
        });
        drop(rt);
        drop(b);
    }
    assert_eq!(open_fds(), before, "descriptors leaked across runtime drops");
}
