//! Poll-style readiness and non-blocking syscalls on ringio sockets, and
//! the routing of operations to the driver a descriptor is registered with:
//! what `ringio-compat` builds on.

use ringio::net::{TcpListener, TcpStream, UdpSocket};
use std::future::{poll_fn, Future};
use std::io::ErrorKind;
use std::sync::mpsc;
use std::time::Duration;

async fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let c = ringio::spawn(async move { TcpStream::connect(addr).await.unwrap() });
    let (s, _) = poll_fn(|cx| l.poll_accept(cx)).await.unwrap();
    (s, c.await.unwrap())
}

#[test]
fn try_read_would_block_until_readable() {
    ringio_tests::runtime().block_on(async {
        let (server, client) = pair().await;
        let mut buf = [0u8; 64];
        assert_eq!(server.try_read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
        let writer = ringio::spawn(async move {
            ringio::time::sleep(Duration::from_millis(20)).await;
            assert_eq!(client.try_write(b"hello").unwrap(), 5);
            client
        });
        server.readable().await.unwrap();
        assert_eq!(server.try_read(&mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"hello");
        // End of stream is readable too, and reads 0.
        drop(writer.await.unwrap());
        poll_fn(|cx| server.poll_read_ready(cx)).await.unwrap();
        assert_eq!(server.try_read(&mut buf).unwrap(), 0);
    });
}

/// Readiness is a level, not a token: every task in `readable()` is woken
/// by one arrival, and a wait that starts while the data is still unread
/// ends at once, however many looked before it. (A backend that handed the
/// readiness to the first waiter only, or waited for the next edge, would
/// strand the rest: nothing more arrives.)
#[test]
fn every_readable_wait_sees_data_that_nobody_read() {
    const WAITERS: usize = 8;
    ringio_tests::runtime().block_on(async {
        let (server, client) = pair().await;
        let server = std::rc::Rc::new(server);
        let waiters: Vec<_> = (0..WAITERS)
            .map(|_| {
                let server = server.clone();
                ringio::spawn(async move { ringio::time::timeout(ringio_tests::STEP, server.readable()).await })
            })
            .collect();
        // Let every waiter start its wait before anything arrives.
        ringio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(client.try_write(b"once").unwrap(), 4);
        for (i, waiter) in waiters.into_iter().enumerate() {
            let woken = waiter.await.unwrap();
            assert!(woken.is_ok(), "waiter {i} of {WAITERS} was never woken");
            woken.unwrap().unwrap();
        }
        // Still unread: later waits, one after another, end at once.
        for i in 0..WAITERS {
            let ready = ringio::time::timeout(ringio_tests::STEP, server.readable()).await;
            assert!(ready.is_ok(), "wait {i} on unread data did not end");
        }
        let mut buf = [0u8; 8];
        assert_eq!(server.try_read(&mut buf).unwrap(), 4);
    });
}

#[test]
fn try_write_stops_at_a_full_buffer_and_resumes_when_writable() {
    ringio_tests::runtime().block_on(async {
        let (server, client) = pair().await;
        let chunk = vec![7u8; 64 * 1024];
        let mut sent = 0usize;
        loop {
            match client.try_write(&chunk) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(sent > 0);
        let reader = ringio::spawn(async move {
            let mut total = 0usize;
            let mut buf = vec![0u8; 64 * 1024];
            while total < sent {
                server.readable().await.unwrap();
                match server.try_read(&mut buf) {
                    Ok(n) => total += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => panic!("{e}"),
                }
            }
            total
        });
        poll_fn(|cx| client.poll_write_ready(cx)).await.unwrap();
        assert_eq!(reader.await.unwrap(), sent);
    });
}

#[test]
fn close_ends_a_pending_readiness_wait_with_closed() {
    ringio_tests::runtime().block_on(async {
        let (server, _client) = pair().await;
        let server = std::rc::Rc::new(server);
        let waiter = ringio::spawn({
            let server = server.clone();
            async move { server.readable().await }
        });
        ringio::time::sleep(Duration::from_millis(10)).await;
        server.close().await.unwrap();
        let err = waiter.await.unwrap().unwrap_err();
        assert!(ringio::Error::is_closed(&err), "{err:?}");
    });
}

#[test]
fn udp_try_recv_from_after_readable() {
    ringio_tests::runtime().block_on(async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(b.try_recv_from(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
        a.writable().await.unwrap();
        a.try_send_to(b"dgram", b.local_addr().unwrap()).unwrap();
        poll_fn(|cx| b.poll_recv_ready(cx)).await.unwrap();
        let (n, from) = b.try_recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"dgram"[..], a.local_addr().unwrap()));
    });
}

/// A stream made on one runtime thread and used from another: its operations
/// go to the driver it is registered with (through that driver's queue), and
/// closing it from the second thread cancels a wait there.
#[test]
fn operations_follow_the_descriptor_to_its_home_runtime() {
    let (to_other, from_home) = mpsc::channel::<(TcpStream, TcpStream)>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let home = std::thread::spawn(move || {
        ringio_tests::runtime().block_on(async move {
            to_other.send(pair().await).unwrap();
            // Keep this runtime turning until the other thread is done.
            while done_rx.try_recv().is_err() {
                ringio::time::sleep(Duration::from_millis(1)).await;
            }
        });
    });
    let (server, client) = from_home.recv().unwrap();
    ringio_tests::runtime().block_on(async move {
        for i in 0..50u32 {
            let msg = i.to_le_bytes().to_vec();
            client.write_all(msg.clone()).await.0.unwrap();
            let (res, buf) = server.read_exact(Vec::with_capacity(4)).await;
            res.unwrap();
            assert_eq!(buf, msg);
        }
        // Nothing is left to read. The wait is tokio's loop: readiness may
        // be stale (on epoll it is kept until a `WouldBlock`, and a report
        // of the last message may still be on its way from the home
        // thread), so it waits again until a read says `WouldBlock`.
        let server = std::rc::Rc::new(server);
        let waiter = ringio::spawn({
            let server = server.clone();
            async move {
                let mut buf = [0u8; 8];
                loop {
                    server.readable().await?;
                    match server.try_read(&mut buf) {
                        Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                        Err(e) => return Err::<(), _>(e),
                        Ok(n) => panic!("read {n} bytes nobody sent"),
                    }
                }
            }
        });
        ringio::time::sleep(Duration::from_millis(10)).await;
        // Without routing, the wait would sit on this thread's driver, out of
        // reach of close's cancel, and close would never finish.
        let step = ringio_tests::STEP;
        ringio::time::timeout(step, server.close())
            .await
            .expect("close hung")
            .unwrap();
        let waited = ringio::time::timeout(step, waiter).await.expect("wait not cancelled");
        assert!(ringio::Error::is_closed(&waited.unwrap().unwrap_err()));
    });
    done_tx.send(()).unwrap();
    home.join().unwrap();
}

/// The embedding API by hand: a reactor turned by a loop of our own.
#[test]
fn a_hosted_reactor_runs_operations_when_turned() {
    let reactor = ringio::Builder::new().build_reactor().unwrap();
    let mut op = std::pin::pin!(async {
        let listener = {
            let _entered = reactor.enter();
            TcpListener::bind("127.0.0.1:0").unwrap()
        };
        let addr = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(addr).unwrap();
        let (server, _) = poll_fn(|cx| {
            let _entered = reactor.enter();
            listener.poll_accept(cx)
        })
        .await
        .unwrap();
        std::io::Write::write_all(&mut &client, b"hosted").unwrap();
        server.readable().await.unwrap();
        let mut buf = [0u8; 6];
        server.try_read(&mut buf).unwrap();
        buf
    });
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let deadline = std::time::Instant::now() + ringio_tests::STEP;
    let buf = loop {
        if let std::task::Poll::Ready(buf) = op.as_mut().poll(&mut cx) {
            break buf;
        }
        reactor.turn().unwrap();
        assert!(std::time::Instant::now() < deadline, "hosted reactor never completed");
        std::thread::yield_now();
    };
    assert_eq!(&buf, b"hosted");
    reactor.shutdown();
}

/// A poll-style wait parked in the stream itself (the one `poll_read_ready`
/// keeps between polls) must not keep the descriptor alive: close cancels it
/// and returns, whether the wait is still pending or already fired.
#[test]
fn close_is_not_held_up_by_a_stored_readiness_wait() {
    ringio_tests::runtime().block_on(async {
        let step = ringio_tests::STEP;
        // Pending: nothing to read.
        let (server, _client) = pair().await;
        assert!(!ringio_tests::poll_once(poll_fn(|cx| server.poll_read_ready(cx))).await);
        ringio::time::timeout(step, server.close())
            .await
            .expect("close hung on a pending wait")
            .unwrap();
        // Fired but never polled again.
        let (server, client) = pair().await;
        assert!(!ringio_tests::poll_once(poll_fn(|cx| server.poll_read_ready(cx))).await);
        client.try_write(b"x").unwrap();
        ringio::time::sleep(Duration::from_millis(10)).await;
        ringio::time::timeout(step, server.close())
            .await
            .expect("close hung on a fired wait")
            .unwrap();
        let mut buf = [0u8; 1];
        assert!(ringio::Error::is_closed(&server.try_read(&mut buf).unwrap_err()));
    });
}

/// A caller's own non-blocking call through `try_io` tells the readiness
/// waits what it found: after its `WouldBlock`, `readable()` waits for the
/// next arrival instead of completing on readiness nobody has left (which
/// would make a `readable()` + `MSG_PEEK` loop spin), and the next
/// datagram ends the wait.
#[test]
fn try_io_would_block_makes_the_next_readable_wait() {
    use ringio::fd::Interest;
    use rustix::net::RecvFlags;
    ringio_tests::runtime().block_on(async {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = a.local_addr().unwrap();
        let peek = |s: &UdpSocket| {
            s.try_io(Interest::READABLE, |fd| {
                let mut buf = [0u8; 16];
                Ok(rustix::net::recv(fd, &mut buf, RecvFlags::PEEK | RecvFlags::DONTWAIT)?.0)
            })
        };
        let take = |s: &UdpSocket| {
            s.try_io(Interest::READABLE, |fd| {
                let mut buf = [0u8; 16];
                Ok(rustix::net::recv(fd, &mut buf, RecvFlags::DONTWAIT)?.0)
            })
        };
        b.send_to(b"one".to_vec(), to).await.0.unwrap();
        a.readable().await.unwrap();
        assert_eq!(peek(&a).unwrap(), 3, "a peek leaves the datagram");
        a.readable().await.unwrap();
        assert_eq!(take(&a).unwrap(), 3);
        assert_eq!(peek(&a).unwrap_err().kind(), ErrorKind::WouldBlock);
        // Nothing left: the wait must not complete before the next datagram.
        let mut wait = std::pin::pin!(a.readable());
        for _ in 0..10 {
            ringio::runtime::yield_now().await;
            let polled = poll_fn(|cx| std::task::Poll::Ready(wait.as_mut().poll(cx))).await;
            assert!(polled.is_pending(), "readable() completed with nothing to read");
        }
        b.send_to(b"two".to_vec(), to).await.0.unwrap();
        ringio::time::timeout(ringio_tests::STEP, wait)
            .await
            .expect("the next datagram did not end the wait")
            .unwrap();
        assert_eq!(take(&a).unwrap(), 3);
    });
}
