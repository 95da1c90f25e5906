//! tokio-uring: `tokio_uring::start`, owned-buffer reads and `write_all`,
//! the proxy's two directions as two loops over shared (`Rc`) streams.

use super::{announce, report, Args, Proto};
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use tokio_uring::net::{TcpListener, TcpStream};

pub(super) fn serve(args: &Args) -> io::Result<()> {
    let upstream = if args.proto == Proto::Proxy {
        Some(args.upstream()?)
    } else {
        None
    };
    let len = args.buf_len();
    let addr = args.addr;
    tokio_uring::start(async move {
        let listener = TcpListener::bind(addr)?;
        announce(listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            match upstream {
                None => tokio_uring::spawn(async move { report(echo(stream, len).await) }),
                Some(up) => tokio_uring::spawn(async move { report(proxy(stream, up, len).await) }),
            };
        }
    })
}

async fn echo(stream: TcpStream, len: usize) -> io::Result<()> {
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
    let up = Rc::new(TcpStream::connect(upstream).await?);
    up.set_nodelay(true)?;
    let client = Rc::new(client);
    let (a, b) = tokio::join!(pump(client.clone(), up.clone(), len), pump(up, client, len));
    a.and(b)
}

/// Reads until end of stream, writing every chunk out; then ends the
/// writer's direction.
async fn pump(r: Rc<TcpStream>, w: Rc<TcpStream>, len: usize) -> io::Result<()> {
    let mut buf = Vec::with_capacity(len);
    loop {
        let (res, b) = r.read(buf).await;
        if res? == 0 {
            return w.shutdown(Shutdown::Write);
        }
        let (res, mut b) = w.write_all(b).await;
        res?;
        b.clear();
        buf = b;
    }
}
