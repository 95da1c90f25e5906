//! `logstore bench`: N clients, each a closed loop of PUTs on its own
//! connection, for a fixed time; reports puts/s and latency percentiles.

use crate::protocol;
use ringio::net::TcpStream;
use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// What one run measured.
#[derive(Debug)]
pub struct Report {
    pub clients: usize,
    pub puts: usize,
    pub seconds: f64,
    pub p50_us: f64,
    pub p99_us: f64,
}

pub async fn run(addr: SocketAddr, clients: usize, size: usize, duration: Duration) -> io::Result<Report> {
    let latencies = Rc::new(RefCell::new(Vec::new()));
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let latencies = latencies.clone();
        tasks.push(ringio::spawn(async move {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let blob = vec![(c % 251) as u8; size];
            let request = protocol::put(&blob);
            let mut mine = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let (res, _) = stream.write_all(request.clone()).await;
                res?;
                let (res, resp) = stream.read_exact(Vec::with_capacity(9)).await;
                res?;
                if resp[0] != protocol::OK {
                    return Err(io::Error::other("put refused"));
                }
                mine.push(t.elapsed());
            }
            latencies.borrow_mut().extend(mine);
            stream.close().await?;
            Ok::<(), io::Error>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| io::Error::other(e.to_string()))??;
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut l = latencies.take();
    l.sort_unstable();
    let pct = |p: f64| {
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    Ok(Report {
        clients,
        puts: l.len(),
        seconds,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
    })
}
