//! The proxy example (`examples/proxy`) as a user runs it: a child process
//! in front of test upstreams. Payloads from 1 B to 64 MiB come back byte for
//! byte (with buffers, splice and buffer rings), a refused upstream fails over to the next, an upstream's reset
//! reaches the client as a reset, running out of descriptors is survived,
//! idle connections are closed, and SIGINT drains and exits cleanly.
//! Every wait is bounded; nothing depends on which core the kernel picks.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const STEP: Duration = Duration::from_secs(20);

struct Proxy {
    child: Child,
    addr: SocketAddr,
    /// What the proxy has logged so far (its stderr, line by line).
    log: Arc<Mutex<String>>,
    stderr: Option<thread::JoinHandle<()>>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proxy {
    /// Starts the proxy with `args`, and `nofile` as its descriptor limit.
    fn start(upstreams: &[SocketAddr], args: &[&str], nofile: Option<u64>) -> Proxy {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_proxy"));
        cmd.args(["--listen", "127.0.0.1:0", "--threads", "2", "--stats-every", "0.5"]);
        for u in upstreams {
            cmd.arg("--upstream").arg(u.to_string());
        }
        cmd.args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(n) = nofile {
            // SAFETY: between fork and exec only async-signal-safe calls:
            // setrlimit is one, and nothing is allocated.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: n,
                        rlim_max: n,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().expect("start the proxy");
        let err = BufReader::new(child.stderr.take().unwrap());
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = {
            let log = log.clone();
            thread::spawn(move || {
                for line in err.lines().map_while(Result::ok) {
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            })
        };
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("proxy said {line:?}"))
            .trim()
            .parse()
            .unwrap();
        Proxy {
            child,
            addr,
            log,
            stderr: Some(stderr),
        }
    }

    /// Waits (bounded) until the proxy has logged `needle`.
    fn wait_for_log(&self, needle: &str) {
        let deadline = Instant::now() + STEP;
        while !self.log.lock().unwrap().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "the proxy never logged {needle:?}:\n{}",
                self.log.lock().unwrap()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).expect("connect to the proxy");
        s.set_read_timeout(Some(STEP)).unwrap();
        s.set_write_timeout(Some(STEP)).unwrap();
        s
    }

    /// Sends SIGINT and waits (bounded) for the exit; returns its status and
    /// what it logged.
    fn interrupt(mut self) -> (std::process::ExitStatus, String) {
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) }, 0);
        let deadline = Instant::now() + STEP;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "the proxy did not exit after SIGINT");
            thread::sleep(Duration::from_millis(20));
        };
        self.stderr.take().unwrap().join().unwrap();
        let log = self.log.lock().unwrap().clone();
        (status, log)
    }
}

/// An upstream that echoes every connection until its end of stream.
fn echo_upstream() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            thread::spawn(move || {
                let mut r = s.try_clone().unwrap();
                let _ = std::io::copy(&mut r, &mut s);
                let _ = s.shutdown(Shutdown::Write);
            });
        }
    });
    addr
}

/// An address nobody listens on.
fn refused_upstream() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap() // closed when `l` drops here
}

/// Sends `payload` through `s` (shutting down its write side after) while
/// reading everything back; returns what came back.
fn echo_through(s: TcpStream, payload: Vec<u8>) -> Vec<u8> {
    let mut w = s.try_clone().unwrap();
    let writer = thread::spawn(move || {
        w.write_all(&payload).unwrap();
        w.shutdown(Shutdown::Write).unwrap();
    });
    let mut back = Vec::new();
    let mut s = s;
    s.read_to_end(&mut back).expect("reading the echo");
    writer.join().unwrap();
    back
}

fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn payloads_from_one_byte_to_64_mib_come_back_exactly() {
    payloads(&[]);
}

#[test]
fn payloads_come_back_exactly_through_splice() {
    payloads(&["--copy", "splice"]);
}

#[test]
fn payloads_come_back_exactly_through_buffer_rings() {
    payloads(&["--copy", "bufring"]);
}

/// Eight 4 KiB buffers per core for six clients both ways: the group runs
/// dry again and again, and receives wait for buffers to come back.
#[test]
fn payloads_come_back_exactly_through_a_buffer_ring_that_runs_dry() {
    payloads(&["--copy", "bufring", "--ring-buffers", "8", "--ring-buffer-kib", "4"]);
}

fn payloads(args: &[&str]) {
    let proxy = Proxy::start(&[echo_upstream()], args, None);
    let sizes = [1usize, 7, 1000, 65_536, 1 << 20, 64 << 20];
    let clients: Vec<_> = sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            let s = proxy.connect();
            thread::spawn(move || {
                let sent = payload(len, i as u64 + 1);
                let back = echo_through(s, sent.clone());
                assert_eq!(back.len(), len, "{len} B: length");
                assert!(back == sent, "{len} B: the bytes differ");
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let (status, log) = proxy.interrupt();
    assert!(status.success(), "{status}\n{log}");
}

#[test]
fn a_refused_upstream_fails_over_to_the_next() {
    let proxy = Proxy::start(
        &[refused_upstream(), echo_upstream()],
        &["--connect-timeout", "5"],
        None,
    );
    for i in 0..6 {
        let back = echo_through(proxy.connect(), payload(100, i));
        assert_eq!(back, payload(100, i), "client {i}");
    }
    let (status, log) = proxy.interrupt();
    assert!(status.success(), "{status}\n{log}");
}

#[test]
fn an_upstream_reset_reaches_the_client_as_a_reset() {
    upstream_reset(&[]);
}

#[test]
fn an_upstream_reset_reaches_the_client_as_a_reset_through_splice() {
    upstream_reset(&["--copy", "splice"]);
}

#[test]
fn an_upstream_reset_reaches_the_client_as_a_reset_through_buffer_rings() {
    upstream_reset(&["--copy", "bufring"]);
}

fn upstream_reset(args: &[&str]) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let up = l.local_addr().unwrap();
    thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut some = [0u8; 1000];
            let _ = s.read_exact(&mut some);
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: setsockopt on a socket we own, with a valid struct.
            unsafe {
                libc::setsockopt(
                    std::os::fd::AsRawFd::as_raw_fd(&s),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&linger as *const libc::linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                );
            }
            drop(s); // RST
        }
    });
    let proxy = Proxy::start(&[up], args, None);
    let mut s = proxy.connect();
    // Exactly what the upstream reads before it resets, and no more: a
    // write of ours after the reset could take the error the read is to see
    // (the kernel reports a reset once).
    s.write_all(&[1u8; 1000]).unwrap();
    let mut buf = [0u8; 4096];
    let err = loop {
        match s.read(&mut buf) {
            Ok(0) => panic!("the client saw an orderly end, not the upstream's reset"),
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err:?}");
    let (status, log) = proxy.interrupt();
    assert!(status.success(), "{status}\n{log}");
    assert!(log.contains("1 resets"), "the stats line counts the reset:\n{log}");
}

#[test]
fn running_out_of_descriptors_is_survived() {
    let up = echo_upstream();
    let proxy = Proxy::start(&[up], &[], Some(64));
    // Each proxied connection takes two descriptors; 60 clients need 120.
    let mut clients = Vec::new();
    for _ in 0..60 {
        match TcpStream::connect(proxy.addr) {
            Ok(s) => clients.push(s),
            Err(e) => panic!("connect to the proxy: {e}"),
        }
    }
    // Some of them are past what the proxy can take: it runs out of
    // descriptors, accepting (and backs off) or connecting upstream (and
    // closes that client), and goes on either way.
    proxy.wait_for_log("Too many open files");
    drop(clients);
    // Once descriptors come back, a new client is served.
    let deadline = Instant::now() + STEP;
    loop {
        let s = proxy.connect();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut w = s.try_clone().unwrap();
        if w.write_all(b"again").is_ok() {
            let mut back = [0u8; 5];
            let mut r = s;
            if r.read_exact(&mut back).is_ok() && &back == b"again" {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the proxy did not recover from EMFILE");
        thread::sleep(Duration::from_millis(100));
    }
    let (status, log) = proxy.interrupt();
    assert!(status.success(), "{status}\n{log}");
    assert!(
        log.contains("Too many open files"),
        "the proxy never ran out of descriptors:\n{log}"
    );
}

#[test]
fn an_idle_connection_is_closed() {
    idle_close(&[]);
}

#[test]
fn an_idle_connection_is_closed_with_buffer_rings() {
    idle_close(&["--copy", "bufring"]);
}

fn idle_close(args: &[&str]) {
    let args = [&["--idle-timeout", "0.3"], args].concat();
    let proxy = Proxy::start(&[echo_upstream()], &args, None);
    let mut s = proxy.connect();
    s.write_all(b"hi").unwrap();
    let mut back = [0u8; 2];
    s.read_exact(&mut back).unwrap();
    // Then nothing: the proxy closes it; the read sees the end.
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).expect("the idle connection was not closed");
    assert!(rest.is_empty());
    let (status, log) = proxy.interrupt();
    assert!(status.success(), "{status}\n{log}");
    assert!(log.contains("1 idle closes"), "{log}");
}

#[test]
fn sigint_stops_accepting_and_lets_open_connections_finish() {
    let proxy = Proxy::start(&[echo_upstream()], &["--drain", "15"], None);
    let addr = proxy.addr;
    let mut open = proxy.connect();
    open.write_all(b"before").unwrap();
    let mut back = [0u8; 6];
    open.read_exact(&mut back).unwrap();
    // SIGINT in another thread; the open connection keeps working meanwhile.
    let waiter = thread::spawn(move || proxy.interrupt());
    let deadline = Instant::now() + STEP;
    while TcpStream::connect(addr).is_ok() {
        assert!(Instant::now() < deadline, "the proxy kept accepting after SIGINT");
        thread::sleep(Duration::from_millis(20));
    }
    open.write_all(b"during").unwrap();
    open.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"during");
    open.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    open.read_to_end(&mut rest).unwrap();
    drop(open);
    let (status, log) = waiter.join().unwrap();
    assert!(status.success(), "{status}\n{log}");
}
