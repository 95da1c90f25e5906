//! `--idle N`: what a server's memory grows by per idle connection.
//!
//! Connects [`WARM`] connections, each doing one request (so the server's
//! per-connection task has run and its buffers, if it keeps any, are
//! allocated), and reads the server's resident memory; then grows to `N`
//! connections the same way and reads it again. Reported: the slope,
//! `(rss(N) - rss(WARM)) / (N - WARM)` bytes per connection. Fixed costs
//! that the first connections pay (a shared buffer group whose pages the
//! first requests touch, allocator arenas, the accept queue) fall out of the
//! slope; what stays is what every further idle connection costs.
//!
//! The kernel's socket buffers are not in the server's resident memory and
//! are the same for every contender.

use super::{Client, Proto};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// Connections before the first reading.
pub const WARM: usize = 1000;

/// Time for the server to finish its side of the last requests (free what a
/// request used, re-arm its receive) before its memory is read.
const SETTLE: Duration = Duration::from_millis(500);

/// Resident set of `pid` in bytes (`VmRSS` of `/proc/<pid>/status`).
fn rss_bytes(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| io::Error::other(format!("no VmRSS in /proc/{pid}/status")))
}

/// Lets this process hold `conns` connections (up to the hard limit).
fn raise_nofile() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    lim.current = lim.maximum;
    let _ = setrlimit(Resource::Nofile, lim);
}

/// Opens connections up to `total` (one request each, all in flight at once),
/// keeping them in `clients`.
async fn grow(clients: &mut Vec<Client>, total: usize, addr: SocketAddr, proto: Proto, size: usize) -> io::Result<()> {
    let mut tasks = Vec::with_capacity(total.saturating_sub(clients.len()));
    for _ in clients.len()..total {
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect(addr, proto, size).await?;
            c.request().await?;
            // The reusable buffer is the loadgen's own; drop it.
            c.buf = Vec::new();
            Ok::<Client, io::Error>(c)
        }));
    }
    for t in tasks {
        clients.push(t.await.map_err(io::Error::other)??);
    }
    Ok(())
}

/// Runs the measurement and prints one JSON line.
pub async fn run(addr: SocketAddr, proto: Proto, size: usize, conns: usize, pid: u32) -> Result<(), String> {
    if conns <= WARM {
        return Err(format!("--idle must be more than {WARM}"));
    }
    raise_nofile();
    let mut clients = Vec::with_capacity(conns);
    let err = |e: io::Error| format!("idle connections to {addr}: {e}");
    let rss = |e: io::Error| format!("server memory: {e}");
    let base = rss_bytes(pid).map_err(rss)?;
    grow(&mut clients, WARM, addr, proto, size).await.map_err(err)?;
    tokio::time::sleep(SETTLE).await;
    let warm = rss_bytes(pid).map_err(rss)?;
    grow(&mut clients, conns, addr, proto, size).await.map_err(err)?;
    tokio::time::sleep(SETTLE).await;
    let full = rss_bytes(pid).map_err(rss)?;
    let per_conn = full.saturating_sub(warm) as f64 / (conns - WARM) as f64;
    println!(
        "{{\"proto\":\"{}\",\"idle_conns\":{conns},\"size\":{size},\"rss_start_kb\":{},\"rss_warm_kb\":{},\"rss_kb\":{},\"idle_bytes_per_conn\":{per_conn:.0}}}",
        proto.name(),
        base / 1024,
        warm / 1024,
        full / 1024
    );
    drop(clients);
    Ok(())
}
