//! Zero-copy sends (`TcpStream::write_all_zc`, `IORING_OP_SEND_ZC`): bytes
//! arrive exactly, and the buffer is handed back only after the kernel's
//! notification that it let go of the pages, not at the send's result.
//! On readiness backends the same calls are plain sends.

use ringio::net::TcpStream;
use ringio_tests::{Pattern, STEP};
use std::future::{poll_fn, Future};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::task::Poll;

fn set_int_opt(fd: i32, level: i32, name: i32, value: i32) {
    // SAFETY: setsockopt on a socket the caller owns, with a valid int.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt: {}", std::io::Error::last_os_error());
}

fn ioctl_int(fd: i32, request: libc::Ioctl) -> i32 {
    let mut n: i32 = 0;
    // SAFETY: SIOCOUTQ / FIONREAD write one int.
    assert_eq!(unsafe { libc::ioctl(fd, request, &mut n) }, 0);
    n
}

/// A ringio stream connected to a std peer whose receive window is tiny
/// (it reads only when told to), and whose own send buffer is large.
async fn stream_to_slow_peer() -> (TcpStream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    // Inherited by the accepted socket, before the handshake sets the window.
    set_int_opt(listener.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF, 4096);
    let stream = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    let (peer, _) = listener.accept().unwrap();
    set_int_opt(stream.as_raw_fd(), libc::SOL_SOCKET, libc::SO_SNDBUF, 8 << 20);
    stream.set_nodelay(true).unwrap();
    (stream, peer)
}

/// Polls `fut` once, keeping it.
async fn poll_pinned<F: Future>(fut: &mut Pin<&mut F>) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await
}

#[test]
fn zero_copy_sends_arrive_exactly() {
    let rt = ringio_tests::runtime();
    let on_ring = rt.backend() == ringio::Backend::IoUring;
    rt.block_on(ringio::time::timeout(STEP, async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        let sizes = [1usize, 4096, 65_536, 4 << 20];
        let total: usize = sizes.iter().sum();
        let reader = std::thread::spawn(move || {
            let mut got = vec![0u8; total];
            peer.read_exact(&mut got).unwrap();
            got
        });
        let before = ringio::runtime::stats().unwrap();
        let mut pattern = Pattern::new(42);
        let mut sent = Vec::new();
        for len in sizes {
            let chunk = pattern.take(len);
            sent.extend_from_slice(&chunk);
            let (res, back) = stream.write_all_zc(chunk).await;
            res.unwrap();
            assert_eq!(back.len(), len, "the buffer comes back whole");
        }
        assert!(reader.join().unwrap() == sent, "the bytes differ");
        let after = ringio::runtime::stats().unwrap();
        if on_ring {
            assert!(after.zc_sends >= before.zc_sends + sizes.len() as u64, "{after:?}");
        }
    }))
    .expect("hung");
}

/// The send's result comes as soon as the kernel queued the bytes; the
/// pages are the kernel's until the peer acknowledged them. With a peer that
/// does not read, the result arrives and the notification does not: the
/// future must stay pending (a version that hands the buffer back at the
/// first completion fails here), and finish once the peer reads.
#[test]
fn the_buffer_comes_back_only_after_the_notification() {
    let rt = ringio_tests::runtime();
    if rt.backend() != ringio::Backend::IoUring {
        return eprintln!("skipped: zero-copy sends exist only on io_uring");
    }
    rt.block_on(ringio::time::timeout(STEP, async {
        let (stream, peer) = stream_to_slow_peer().await;
        let before = ringio::runtime::stats().unwrap();
        let (mut peer_r, total) = (peer, 256 * 1024usize);
        let payload = Pattern::new(7).take(total);
        let mut send = std::pin::pin!(stream.write_all_zc(payload.clone()));
        // Turn the ring until every byte is either in our send queue or in the
        // peer's receive queue: the send's result has been posted by then.
        // Bounded by time, not by turns: on a loaded machine loopback may
        // take a while to move the bytes, so after the first turns each one
        // also sleeps a little to let it.
        let mut queued = false;
        let deadline = std::time::Instant::now() + STEP / 2;
        for turn in 0u32.. {
            if std::time::Instant::now() >= deadline {
                break;
            }
            assert!(
                poll_pinned(&mut send).await.is_pending(),
                "done before the peer read anything"
            );
            ringio::nop().await.unwrap();
            if turn >= 1_000 {
                ringio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            let ours = ioctl_int(stream.as_raw_fd(), libc::TIOCOUTQ as libc::Ioctl);
            let theirs = ioctl_int(peer_r.as_raw_fd(), libc::FIONREAD as libc::Ioctl);
            if ours as usize + theirs as usize == total {
                queued = true;
                break;
            }
        }
        assert!(queued, "the kernel never queued the whole send");
        // A few more turns, so the result is reaped for sure.
        for _ in 0..100 {
            ringio::nop().await.unwrap();
            assert!(
                poll_pinned(&mut send).await.is_pending(),
                "the buffer came back with the send's result, before the notification"
            );
        }
        assert_eq!(
            ringio::runtime::stats().unwrap().zc_sends,
            before.zc_sends,
            "no notification yet"
        );
        // Now the peer reads: the window opens, the data is acknowledged,
        // the notification comes, and the send finishes.
        let reader = std::thread::spawn(move || {
            let mut got = vec![0u8; total];
            peer_r.read_exact(&mut got).unwrap();
            got
        });
        let (res, back) = send.await;
        res.unwrap();
        assert!(back == payload);
        assert!(reader.join().unwrap() == payload);
        assert!(ringio::runtime::stats().unwrap().zc_sends > before.zc_sends);
    }))
    .expect("hung");
}
