//! tokio: `current_thread` runtime, `tokio::net`, a `vec![0; buf]` per echo
//! connection, and `tokio::io::copy_bidirectional_with_sizes` for the proxy.

use super::{announce, report, Args, Proto};
use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub(super) fn serve(args: &Args) -> io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (proto, len) = (args.proto, args.buf_len());
    let upstream = if proto == Proto::Proxy {
        Some(args.upstream()?)
    } else {
        None
    };
    rt.block_on(async move {
        let listener = TcpListener::bind(args.addr).await?;
        announce(listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            match upstream {
                None => tokio::spawn(async move { report(echo(stream, len).await) }),
                Some(up) => tokio::spawn(async move { report(proxy(stream, up, len).await) }),
            };
        }
    })
}

async fn echo(mut stream: TcpStream, len: usize) -> io::Result<()> {
    let mut buf = vec![0u8; len];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

async fn proxy(mut client: TcpStream, upstream: std::net::SocketAddr, len: usize) -> io::Result<()> {
    let mut up = TcpStream::connect(upstream).await?;
    up.set_nodelay(true)?;
    tokio::io::copy_bidirectional_with_sizes(&mut client, &mut up, len, len).await?;
    Ok(())
}
