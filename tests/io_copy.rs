//! `ringio::io`: the owned-buffer traits on every stream type, `copy` and
//! `copy_bidirectional` (user buffers, pipes, a shared buffer group) with half-close and resets, and copies dropped at
//! random points that still move every byte exactly once, in order.

use ringio::buf::BufRing;
use ringio::io::{
    copy, copy_bidirectional, copy_bidirectional_buf_ring, splice_bidirectional, AsyncReadOwned, AsyncWriteOwned,
};
use ringio::net::{TcpListener, TcpStream, UnixStream};
use ringio_tests::{scaled, watchdog, Pattern, Seed, StreamCheck, STEP};
use std::io::{ErrorKind, Read, Write};
use std::time::Duration;

/// A connected pair of ringio TCP streams on this runtime.
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let c = ringio::spawn(async move { TcpStream::connect(addr).await.unwrap() });
    let (s, _) = l.accept().await.unwrap();
    (s, c.await.unwrap())
}

/// A ringio TCP stream and its blocking std peer.
fn tcp_with_std_peer() -> (TcpStream, std::net::TcpStream) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (ours, _) = l.accept().unwrap();
    (TcpStream::from_std(ours).unwrap(), peer)
}

/// Generic code sees the same stream through the traits.
async fn round_trip<S: AsyncReadOwned + AsyncWriteOwned>(a: &S, b: &S) {
    a.write_all(b"ping".to_vec()).await.0.unwrap();
    let (n, buf) = b.read(Vec::with_capacity(16)).await;
    assert_eq!(&buf[..n.unwrap()], b"ping");
    a.shutdown_write().await.unwrap();
    let (n, _) = b.read(Vec::with_capacity(16)).await;
    assert_eq!(n.unwrap(), 0, "end of stream after shutdown_write");
}

#[test]
fn the_traits_work_on_tcp_unix_and_fd() {
    ringio_tests::runtime()
        .block_on(ringio::time::timeout(STEP, async {
            let (a, b) = tcp_pair().await;
            round_trip(&a, &b).await;
            let (a, b) = UnixStream::pair().unwrap();
            round_trip(&a, &b).await;
            let (x, y) = std::os::unix::net::UnixStream::pair().unwrap();
            let (x, y) = (ringio::fd::Fd::new(x.into()), ringio::fd::Fd::new(y.into()));
            x.set_nonblocking(true).unwrap();
            y.set_nonblocking(true).unwrap();
            round_trip(&x, &y).await;
        }))
        .expect("hung");
}

/// Which pump a test runs.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pump {
    /// `copy_bidirectional`, through user-space buffers.
    Copy,
    /// `splice_bidirectional`, through pipes.
    Splice,
    /// `copy_bidirectional_buf_ring`, through a provided-buffer group small
    /// enough to run dry again and again.
    BufRing,
}

/// The group of the `BufRing` pumps: 8 buffers of 4 KiB, shared by both
/// directions (and, in the drop storm, by every dropped pump), so receives
/// keep finding it dry.
fn small_group() -> BufRing {
    BufRing::new(5, 8, 4096).unwrap()
}

async fn pump(which: Pump, a: &TcpStream, b: &TcpStream) -> std::io::Result<(u64, u64)> {
    match which {
        Pump::Copy => copy_bidirectional(a, b).await,
        Pump::Splice => splice_bidirectional(a, b).await,
        Pump::BufRing => copy_bidirectional_buf_ring(a, b, &small_group()).await,
    }
}

#[test]
fn copy_bidirectional_moves_both_directions_and_half_closes() {
    both_directions(Pump::Copy);
}

#[test]
fn splice_bidirectional_moves_both_directions_and_half_closes() {
    both_directions(Pump::Splice);
}

#[test]
fn buf_ring_copy_moves_both_directions_and_half_closes() {
    both_directions(Pump::BufRing);
}

/// client <-> [a | pump | b] <-> server, both directions at once, payloads
/// from 1 B to 4 MiB, then half-close each way.
fn both_directions(which: Pump) {
    for len in [1usize, 1000, 65_536, 4 << 20] {
        let rt = ringio_tests::runtime();
        let (a, mut client) = rt.block_on(async { tcp_with_std_peer() });
        let (b, mut server) = rt.block_on(async { tcp_with_std_peer() });
        let up = Pattern::new(len as u64).take(len);
        let down = Pattern::new(!(len as u64)).take(len);
        let (up2, down2) = (up.clone(), down.clone());
        let client_thread = std::thread::spawn(move || {
            let mut writer = client.try_clone().unwrap();
            let w = std::thread::spawn(move || {
                writer.write_all(&up2).unwrap();
                writer.shutdown(std::net::Shutdown::Write).unwrap();
            });
            let mut got = Vec::new();
            client.read_to_end(&mut got).unwrap();
            w.join().unwrap();
            got
        });
        let server_thread = std::thread::spawn(move || {
            let mut writer = server.try_clone().unwrap();
            let w = std::thread::spawn(move || {
                writer.write_all(&down2).unwrap();
                writer.shutdown(std::net::Shutdown::Write).unwrap();
            });
            let mut got = Vec::new();
            server.read_to_end(&mut got).unwrap();
            w.join().unwrap();
            got
        });
        let (n_up, n_down) = rt
            .block_on(ringio::time::timeout(STEP, pump(which, &a, &b)))
            .expect("the pump hung")
            .unwrap();
        assert_eq!((n_up, n_down), (len as u64, len as u64), "{which:?}");
        assert!(server_thread.join().unwrap() == up, "{len} B upstream differ");
        assert!(client_thread.join().unwrap() == down, "{len} B downstream differ");
    }
}

/// A peer that resets mid-stream ends the copy with the reset, not a hang.
#[test]
fn a_reset_mid_stream_is_an_error_not_a_hang() {
    let rt = ringio_tests::runtime();
    let (a, client) = rt.block_on(async { tcp_with_std_peer() });
    let (b, server) = rt.block_on(async { tcp_with_std_peer() });
    let resetter = std::thread::spawn(move || {
        let mut server = server;
        let mut first = [0u8; 1];
        server.read_exact(&mut first).unwrap();
        // SO_LINGER 0: close sends a RST.
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a plain setsockopt on a socket we own, with a valid struct.
        let rc = unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&server),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
        drop(server);
    });
    let feeder = std::thread::spawn(move || {
        let mut client = client;
        // Keeps sending until the proxy side breaks.
        while client.write_all(&[7u8; 16 * 1024]).is_ok() {}
    });
    let res = rt
        .block_on(ringio::time::timeout(STEP, copy_bidirectional(&a, &b)))
        .expect("a reset upstream hung copy_bidirectional");
    let err = res.expect_err("the reset is reported");
    assert!(
        matches!(err.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe),
        "{err:?}"
    );
    resetter.join().unwrap();
    // Closing the client side ends the feeder's blocked write.
    rt.block_on(async { (a.close().await, b.close().await) }).0.unwrap();
    feeder.join().unwrap();
}

const DROPS: usize = 2_000;

#[test]
fn dropped_copies_lose_and_duplicate_nothing() {
    drop_storm(Pump::Copy);
}

#[test]
fn dropped_splices_lose_and_duplicate_nothing() {
    drop_storm(Pump::Splice);
}

#[test]
fn dropped_buf_ring_copies_lose_and_duplicate_nothing() {
    drop_storm(Pump::BufRing);
}

/// The pump from `src` to `dst` under `timeout(0..50 µs)` again and again
/// until the source ends: every byte reaches the destination exactly once,
/// in order, although most pumps are dropped mid-read or mid-write. (The
/// splice runs both ways; `dst`'s peer sends nothing, so the other way ends
/// at once every time.)
fn drop_storm(which: Pump) {
    let what = format!("dropped {which:?}");
    let seed = Seed::new(&what);
    watchdog(&what.clone(), STEP * 6, move |progress| {
        let mut rng = seed.rng();
        let rt = ringio_tests::runtime();
        rt.block_on(async {
            let (src, mut src_peer) = tcp_with_std_peer();
            let (dst, mut dst_peer) = tcp_with_std_peer();
            dst_peer.shutdown(std::net::Shutdown::Write).unwrap();
            let total = scaled(DROPS) * 4096;
            let feeder_seed = seed.value();
            let feeder = std::thread::spawn(move || {
                let mut pattern = Pattern::new(feeder_seed);
                let mut left = total;
                while left > 0 {
                    let n = left.min(8192);
                    src_peer.write_all(&pattern.take(n)).unwrap();
                    left -= n;
                }
                src_peer.shutdown(std::net::Shutdown::Write).unwrap();
            });
            let checker = std::thread::spawn(move || {
                let mut check = StreamCheck::new(feeder_seed);
                let mut buf = vec![0u8; 65_536];
                loop {
                    let n = dst_peer.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    check.push(&buf[..n]);
                }
                check
            });
            let mut drops = 0;
            let group = small_group();
            loop {
                let limit = Duration::from_micros(rng.range(0, 50) as u64);
                let run = async {
                    match which {
                        Pump::Copy => copy(&src, &dst).await.map(drop),
                        Pump::Splice => splice_bidirectional(&src, &dst).await.map(drop),
                        Pump::BufRing => copy_bidirectional_buf_ring(&src, &dst, &group).await.map(drop),
                    }
                };
                match ringio::time::timeout(limit, run).await {
                    Ok(res) => {
                        res.unwrap();
                        break;
                    }
                    Err(_) => drops += 1,
                }
                progress.step(drops);
                assert!(drops < 100 * scaled(DROPS), "the copy never finished");
            }
            // `copy` leaves its destination open; the two-way pumps pass the
            // source's end of stream on themselves (the checker would wait
            // for it forever if they did not), and a second shutdown of a
            // connection both ends have closed says `NotConnected`.
            if which == Pump::Copy {
                dst.shutdown_write().await.unwrap();
            }
            feeder.join().unwrap();
            let check = checker.join().unwrap();
            eprintln!("{what}: {drops} drops, {} bytes checked", check.received());
            check.assert_exactly(total as u64, &what);
            assert_eq!(group.available(), group.count(), "{what}: a buffer never came back");
        });
    });
}
