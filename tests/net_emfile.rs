//! EMFILE on accept: out of descriptors, `accept` returns a clear error, the
//! listener stays usable, and nothing is lost once descriptors are freed;
//! `incoming()` (a multishot accept on io_uring) backs off between errors
//! instead of spinning. Its own test binary because it lowers this
//! process's descriptor limit (its tests take turns at it).

use ringio::net::{TcpListener, TcpStream};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use std::time::{Duration, Instant};

/// Lowers the descriptor limit to the lowest free number (so the next new
/// descriptor fails with EMFILE); returns the limit to restore.
fn exhaust_descriptors() -> Rlimit {
    let saved = getrlimit(Resource::Nofile);
    let lowest_free = std::os::fd::AsRawFd::as_raw_fd(&std::fs::File::open("/dev/null").unwrap()) as u64;
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(lowest_free),
            maximum: saved.maximum,
        },
    )
    .unwrap();
    saved
}

#[test]
fn incoming_backs_off_on_emfile_and_recovers() {
    let _serial = ringio_tests::fd_serial();
    ringio_tests::runtime().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let clients: Vec<_> = (0..2).map(|_| std::net::TcpStream::connect(addr).unwrap()).collect();
        let mut incoming = listener.incoming();
        let before = ringio::runtime::stats().unwrap();
        let saved = exhaust_descriptors();
        let start = Instant::now();
        let mut errors = Vec::new();
        for _ in 0..5 {
            errors.push(incoming.next().await.expect("incoming ended").map(drop));
        }
        let waited = start.elapsed();
        setrlimit(Resource::Nofile, saved).unwrap();
        for err in errors {
            assert_eq!(err.unwrap_err().raw_os_error(), Some(libc::EMFILE));
        }
        // Pauses of 1, 2, 4 and 8 ms came between the five errors: the loop
        // did not spin (a pause never ends early, so this holds however slow
        // the machine is).
        assert!(waited >= Duration::from_millis(15), "five EMFILE in {waited:?}");
        if ringio::runtime::backend() == Some(ringio::Backend::IoUring) {
            let armed = ringio::runtime::stats().unwrap().submitted - before.submitted;
            assert!(
                armed <= 5 + 4,
                "{armed} submissions for five EMFILE (one accept each, plus pauses)"
            );
        }
        // Recovered: both queued connections come in.
        for _ in 0..2 {
            let stream = ringio::time::timeout(ringio_tests::STEP, incoming.next())
                .await
                .expect("hung: incoming after descriptors came back")
                .expect("incoming ended")
                .unwrap();
            stream.close().await.unwrap();
        }
        drop(clients);
    });
}

#[test]
fn accept_reports_emfile_and_recovers() {
    let _serial = ringio_tests::fd_serial();
    let rt = ringio_tests::runtime();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let clients: Vec<_> = (0..3).map(|_| std::net::TcpStream::connect(addr).unwrap()).collect();

        // The limit caps descriptor numbers: set it to the lowest free number.
        let saved = exhaust_descriptors();
        let err = listener.accept().await.unwrap_err();
        setrlimit(Resource::Nofile, saved).unwrap();
        assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err:?}");

        // Every queued connection is still there to accept.
        for _ in 0..3 {
            let (s, _) = listener.accept().await.unwrap();
            s.close().await.unwrap();
        }
        let c = ringio::spawn(async move { TcpStream::connect(addr).await.unwrap() });
        listener.accept().await.unwrap();
        c.await.unwrap();
        drop(clients);
    });
}
