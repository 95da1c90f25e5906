//! ringio: its own runtime; echo receives with one multishot receive per
//! connection into a shared provided-buffer group and writes each buffer
//! back as is (no copy, and an idle connection holds no buffer); the proxy
//! uses `ringio::io`'s copies. Connections come from `incoming()` (a
//! multishot accept on io_uring).

use super::{announce, report, Args, Copy, Proto};
use ringio::buf::BufRing;
use ringio::net::{TcpListener, TcpStream};
use std::io;
use std::net::SocketAddr;

/// Buffer group id of the echo server's receive buffers.
const GROUP: u16 = 1;

pub(super) fn serve(args: &Args) -> io::Result<()> {
    let rt = ringio::Runtime::builder().fixed_files(32 * 1024).build()?;
    eprintln!("net_server: ringio backend {}", rt.backend());
    let upstream = if args.proto == Proto::Proxy {
        Some(args.upstream()?)
    } else {
        None
    };
    let (len, copy, max_unread) = (args.buf_len(), args.copy, args.max_unread);
    let stats_every = std::time::Duration::try_from_secs_f64(args.stats_every).unwrap_or_default();
    rt.block_on(async move {
        if !stats_every.is_zero() {
            ringio::spawn(log_stats(stats_every));
        }
        let group = BufRing::new(GROUP, args.group_bufs, len)?;
        let listener = TcpListener::bind(args.addr)?;
        announce(listener.local_addr()?);
        let mut incoming = listener.incoming();
        while let Some(stream) = incoming.next().await {
            let stream = match stream {
                Ok(s) => s,
                Err(e) => {
                    // EMFILE and the like: `incoming` backs off by itself.
                    eprintln!("net_server: accept: {e}");
                    continue;
                }
            };
            stream.set_nodelay(true)?;
            match upstream {
                None => {
                    let group = group.clone();
                    ringio::spawn(async move { report(echo(stream, &group, max_unread).await) });
                }
                Some(up) => {
                    ringio::spawn(async move { report(proxy(stream, up, copy, len).await) });
                }
            }
        }
        Ok(())
    })
}

/// Prints the counters that explain a run (enters per request, buffer-group
/// pressure) every `every`, for the script's server log.
async fn log_stats(every: std::time::Duration) {
    loop {
        ringio::time::sleep(every).await;
        if let Some(s) = ringio::runtime::stats() {
            eprintln!(
                "net_server: stats: submitted {} completed {} enters {} in_flight {} bufs_out {} buf_rearms {} buf_enobufs {} cq_overflows {} fixed_table_full {}",
                s.submitted, s.completed, s.enters, s.in_flight, s.bufs_out, s.buf_rearms, s.buf_enobufs, s.cq_overflows, s.fixed_table_full
            );
        }
    }
}

async fn echo(stream: TcpStream, group: &BufRing, max_unread: usize) -> io::Result<()> {
    let mut rx = stream.recv_multi(group).max_unread(max_unread);
    while let Some(buf) = rx.next().await {
        let (res, _buf) = stream.write_all(buf?).await; // the buffer goes back to the group here
        res?;
    }
    drop(rx);
    stream.close().await
}

async fn proxy(client: TcpStream, upstream: SocketAddr, copy: Copy, len: usize) -> io::Result<()> {
    let up = TcpStream::connect(upstream).await?;
    up.set_nodelay(true)?;
    let res = match copy {
        Copy::Buffers => ringio::io::copy_bidirectional_with_size(&client, &up, len).await,
        Copy::Splice => ringio::io::splice_bidirectional(&client, &up).await,
    };
    let _ = up.close().await;
    let _ = client.close().await;
    res.map(drop)
}
