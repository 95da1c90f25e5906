//! EMFILE on accept: out of descriptors, `accept` returns a clear error, the
//! listener stays usable, and nothing is lost once descriptors are freed.
//! Its own test binary because it lowers this process's descriptor limit.

use ringio::net::{TcpListener, TcpStream};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

#[test]
fn accept_reports_emfile_and_recovers() {
    let rt = ringio_tests::runtime();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let clients: Vec<_> = (0..3).map(|_| std::net::TcpStream::connect(addr).unwrap()).collect();

        let saved = getrlimit(Resource::Nofile);
        // The limit caps descriptor numbers: set it to the lowest free number.
        let lowest_free = std::os::fd::AsRawFd::as_raw_fd(&std::fs::File::open("/dev/null").unwrap()) as u64;
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(lowest_free),
                maximum: saved.maximum,
            },
        )
        .unwrap();
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
