//! monoio: its io_uring runtime (`IoUringDriver`, no timer), owned-buffer
//! reads and `write_all`, the proxy's halves from `into_split`.

use super::{announce, report, Args, Proto};
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, Splitable};
use monoio::net::{TcpListener, TcpStream};
use std::io;
use std::net::SocketAddr;

pub(super) fn serve(args: &Args) -> io::Result<()> {
    let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .with_entries(1024)
        .build()?;
    let upstream = if args.proto == Proto::Proxy {
        Some(args.upstream()?)
    } else {
        None
    };
    let len = args.buf_len();
    let addr = args.addr;
    rt.block_on(async move {
        let listener = TcpListener::bind(addr)?;
        announce(listener.local_addr()?);
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("net_server: accept: {e}");
                    monoio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            };
            stream.set_nodelay(true)?;
            match upstream {
                None => monoio::spawn(async move { report(echo(stream, len).await) }),
                Some(up) => monoio::spawn(async move { report(proxy(stream, up, len).await) }),
            };
        }
    })
}

async fn echo(mut stream: TcpStream, len: usize) -> io::Result<()> {
    let mut buf = Vec::with_capacity(len);
    loop {
        let (res, b) = stream.read(buf).await;
        if res? == 0 {
            return Ok(());
        }
        let (res, mut b) = stream.write_all(b).await;
        res?;
        b.clear();
        buf = b;
    }
}

async fn proxy(client: TcpStream, upstream: SocketAddr, len: usize) -> io::Result<()> {
    let up = TcpStream::connect(upstream).await?;
    up.set_nodelay(true)?;
    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = up.into_split();
    let (a, b) = monoio::join!(pump(&mut cr, &mut uw, len), pump(&mut ur, &mut cw, len));
    a.and(b)
}

/// Reads until end of stream, writing every chunk out; then ends the
/// writer's direction.
async fn pump<R: AsyncReadRent, W: AsyncWriteRent>(r: &mut R, w: &mut W, len: usize) -> io::Result<()> {
    let mut buf = Vec::with_capacity(len);
    loop {
        let (res, b) = r.read(buf).await;
        if res? == 0 {
            return w.shutdown().await;
        }
        let (res, mut b) = w.write_all(b).await;
        res?;
        b.clear();
        buf = b;
    }
}
