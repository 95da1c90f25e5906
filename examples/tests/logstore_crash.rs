//! Crash test of the log store (`examples/logstore`): start the server as a
//! child process, run clients doing puts, SIGKILL the server mid-load,
//! restart it on the same directory, and check that every acknowledged put
//! reads back with the right bytes and that nothing present is corrupt.
//! Then damage the tail of the last segment the way a torn write would and
//! check recovery truncates it without losing an acknowledged put.
//! Bounded: about 5 s of load in all, every step under a deadline.

#[allow(dead_code)]
#[path = "../logstore/protocol.rs"]
mod protocol;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CLIENTS: u32 = 8;

struct Server {
    child: Child,
    addr: SocketAddr,
    direct: bool,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_logstore"))
        .args(["serve", "--listen", "127.0.0.1:0", "--segment-mib", "2", "--dir"])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start logstore");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // "listening 127.0.0.1:PORT direct=true"
    let mut words = line.split_whitespace();
    assert_eq!(words.next(), Some("listening"), "server said {line:?}");
    let addr = words.next().unwrap().parse().unwrap();
    let direct = words.next() == Some("direct=true");
    Server { child, addr, direct }
}

/// The blob client `c` sends as its `n`th put: self-describing, so any
/// record found later can be checked without knowing whether it was acked.
fn blob(c: u32, n: u32) -> Vec<u8> {
    let len = 1 + (n.wrapping_mul(7919) ^ c.wrapping_mul(104_729)) as usize % 20_000;
    let mut b = Vec::with_capacity(len + 12);
    b.extend_from_slice(&c.to_le_bytes());
    b.extend_from_slice(&n.to_le_bytes());
    b.extend_from_slice(&(len as u32).to_le_bytes());
    b.extend((0..len).map(|i| (i as u32 ^ c.wrapping_mul(31) ^ n) as u8));
    b
}

fn parse(b: &[u8]) -> Option<(u32, u32)> {
    let c = u32::from_le_bytes(b.get(0..4)?.try_into().ok()?);
    let n = u32::from_le_bytes(b.get(4..8)?.try_into().ok()?);
    (blob(c, n) == b).then_some((c, n))
}

/// Puts from `CLIENTS` threads until `stop`; returns acked seq -> (client, n).
fn load(addr: SocketAddr, round: u32, stop: Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<Vec<(u64, u32, u32)>>> {
    (0..CLIENTS)
        .map(|c| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                let Ok(mut s) = TcpStream::connect(addr) else {
                    return acked;
                };
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let id = round * 1000 + c;
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    match protocol::blocking::put(&mut s, &blob(id, n)) {
                        Ok(seq) => acked.push((seq, id, n)),
                        Err(_) => break, // the server was killed
                    }
                    n += 1;
                }
                acked
            })
        })
        .collect()
}

/// Every acked put reads back exactly; every other record present is intact.
fn verify(addr: SocketAddr, acked: &HashMap<u64, (u32, u32)>) {
    let mut s = TcpStream::connect(addr).unwrap();
    let last = protocol::blocking::last(&mut s).unwrap();
    let max_acked = acked.keys().max().copied().unwrap_or(0);
    assert!(last >= max_acked, "last durable seq {last} < acknowledged {max_acked}");
    for seq in 1..=last {
        let got = protocol::blocking::get(&mut s, seq)
            .unwrap()
            .unwrap_or_else(|| panic!("seq {seq} missing"));
        let who = parse(&got).unwrap_or_else(|| panic!("seq {seq} holds a corrupt blob of {} bytes", got.len()));
        if let Some(expect) = acked.get(&seq) {
            assert_eq!(&who, expect, "seq {seq} holds another put's bytes");
        }
    }
    assert!(protocol::blocking::get(&mut s, last + 1).unwrap().is_none());
}

fn scratch() -> PathBuf {
    let d = std::env::temp_dir().join(format!("ringio-logstore-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn acknowledged_puts_survive_sigkill_and_a_torn_tail() {
    let deadline = Instant::now() + Duration::from_secs(60);
    let dir = scratch();
    let acked: Arc<Mutex<HashMap<u64, (u32, u32)>>> = Default::default();
    for round in 0..2 {
        let mut server = start(&dir);
        if round == 0 {
            if server.direct {
                eprintln!("segments are O_DIRECT");
            } else {
                eprintln!(
                    "skipped the O_DIRECT part: the filesystem of {} has no direct I/O; ran buffered",
                    dir.display()
                );
            }
        }
        verify(server.addr, &acked.lock().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let clients = load(server.addr, round + 1, stop.clone());
        std::thread::sleep(Duration::from_millis(1200));
        // Mid-load: SIGKILL, no chance to flush anything.
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        let mut total = 0;
        for c in clients {
            for (seq, id, n) in c.join().unwrap() {
                assert!(
                    acked.lock().unwrap().insert(seq, (id, n)).is_none(),
                    "seq {seq} acked twice"
                );
                total += 1;
            }
        }
        eprintln!("round {round}: {total} puts acknowledged before SIGKILL");
        assert!(total > 0, "no put was acknowledged in 1.2 s");
        assert!(Instant::now() < deadline);
    }

    // A torn last record: a valid-looking header followed by a short,
    // wrong payload, appended to the last segment.
    let last_segment = {
        let mut segs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        segs.sort();
        segs.pop().unwrap()
    };
    let before = std::fs::metadata(&last_segment).unwrap().len();
    {
        let mut torn = vec![0u8; 4096];
        torn[0..4].copy_from_slice(&0x4c4f_4752u32.to_le_bytes());
        torn[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        torn[16..20].copy_from_slice(&3000u32.to_le_bytes());
        torn[32..200].fill(0xab);
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&last_segment).unwrap();
        f.write_all(&torn).unwrap();
    }
    let server = start(&dir);
    verify(server.addr, &acked.lock().unwrap());
    // Recovery truncated the torn bytes, and writing goes on after the intact records.
    assert_eq!(std::fs::metadata(&last_segment).unwrap().len(), before);
    let mut s = TcpStream::connect(server.addr).unwrap();
    let seq = protocol::blocking::put(&mut s, &blob(9999, 0)).unwrap();
    assert_eq!(
        parse(&protocol::blocking::get(&mut s, seq).unwrap().unwrap()),
        Some((9999, 0))
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
