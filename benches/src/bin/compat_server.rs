//! The server under test for `benches/scripts/compat_compare.sh`: the same echo
//! server and the same hyper HTTP/1.1 server, on `tokio::net` or on
//! `ringio-compat`, inside an ordinary tokio runtime; plus the echo server on
//! ringio's own runtime (`--stack ringio`) as a reference point.
//!
//! Prints the bound address as the first line of stdout, then serves until it
//! is killed or its stdin reaches end of file (`--no-stdin` turns that off, for
//! running it by hand in the background).
//!
//! ```sh
//! cargo run --release -p ringio-benches --bin compat_server -- --stack compat --proto http
//! ```
//!
//! The two tokio-runtime stacks differ only in where `TcpListener` and
//! `TcpStream` come from (modules `stack_tokio` and `stack_compat` below); the
//! accept loop is stamped into both modules by `accept_loop!`, and everything
//! after `accept` (the echo loop, the hyper connection) is one generic function
//! over `AsyncRead + AsyncWrite`.

use clap::{Parser, ValueEnum};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Echo read buffer (one `read` moves at most this many bytes).
const ECHO_BUF: usize = 16 * 1024;

/// Body of every HTTP response.
const HELLO: &[u8] = b"hello world";

#[derive(Parser, Debug)]
#[command(about = "echo / HTTP server on tokio::net, ringio-compat or ringio (for compat_compare.sh)")]
struct Args {
    /// Where `TcpListener` and `TcpStream` come from. `ringio`: ringio's own
    /// runtime and owned-buffer sockets (echo only, one thread).
    #[arg(long, value_enum, default_value_t = Stack::Tokio)]
    stack: Stack,
    /// What to serve.
    #[arg(long, value_enum, default_value_t = Proto::Echo)]
    proto: Proto,
    /// Address to bind (port 0: any free port; the bound one is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// tokio runtime flavour (ignored by `--stack ringio`, which is one thread).
    #[arg(long, value_enum, default_value_t = Flavour::Current)]
    flavour: Flavour,
    /// Do not exit when stdin closes (run until killed).
    #[arg(long)]
    no_stdin: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Stack {
    /// `tokio::net`.
    Tokio,
    /// `ringio_compat::net` (see `stack_compat`) in a tokio runtime.
    Compat,
    /// ringio's own runtime (echo only).
    Ringio,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Proto {
    /// Write back whatever is read.
    Echo,
    /// hyper 1.x HTTP/1.1 with keep-alive; every request gets "hello world".
    Http,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Flavour {
    /// `new_current_thread`.
    Current,
    /// `new_multi_thread` (one worker per CPU the process may run on).
    Multi,
}

/// Binds with this module's `TcpListener`, prints the address, and spawns the
/// stack-independent [`handle`] for every accepted `TcpStream`. Written once,
/// expanded in `stack_tokio` and `stack_compat`, where `TcpListener` and
/// `TcpStream` resolve to that module's imports.
macro_rules! accept_loop {
    () => {
        pub async fn serve(addr: std::net::SocketAddr, proto: super::Proto) -> std::io::Result<()> {
            let listener = TcpListener::bind(addr).await?;
            super::announce(listener.local_addr()?);
            loop {
                let (stream, _peer): (TcpStream, _) = listener.accept().await?;
                stream.set_nodelay(true)?;
                tokio::spawn(super::handle(stream, proto));
            }
        }
    };
}

mod stack_tokio {
    pub use tokio::net::{TcpListener, TcpStream};
    accept_loop!();
}

mod stack_compat {
    pub use ringio_compat::net::{TcpListener, TcpStream};
    accept_loop!();
}

/// First line of stdout: the bound address, for the script to read.
fn announce(addr: SocketAddr) {
    println!("{addr}");
}

/// Serves one accepted connection until the peer closes it.
async fn handle<S>(stream: S, proto: Proto)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let res = match proto {
        Proto::Echo => echo(stream).await,
        Proto::Http => http(stream).await.map_err(io::Error::other),
    };
    // A peer that resets instead of closing is normal at the end of a run.
    if let Err(e) = res {
        if !matches!(e.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe) {
            eprintln!("compat_server: connection: {e}");
        }
    }
}

async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) -> io::Result<()> {
    let mut buf = vec![0u8; ECHO_BUF];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

async fn http<S>(stream: S) -> hyper::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        // No timer is configured, so hyper would skip its default 30 s header
        // timeout anyway; saying so keeps it from checking on every connection.
        .header_read_timeout(None)
        .serve_connection(TokioIo::new(stream), service_fn(hello))
        .await
}

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(HELLO))))
}

/// Echo on ringio's own runtime and owned-buffer sockets (one thread).
fn serve_ringio(addr: SocketAddr) -> io::Result<()> {
    let rt = ringio::Runtime::new()?;
    eprintln!("compat_server: ringio backend {}", rt.backend());
    rt.block_on(async {
        let listener = ringio::net::TcpListener::bind(addr)?;
        announce(listener.local_addr()?);
        loop {
            let (stream, _peer) = listener.accept().await?;
            stream.set_nodelay(true)?;
            ringio::spawn(async move {
                let mut buf = Vec::with_capacity(ECHO_BUF);
                loop {
                    let (res, b) = stream.read(buf).await; // appends up to the spare capacity
                    if !matches!(res, Ok(n) if n > 0) {
                        break;
                    }
                    let (res, mut b) = stream.write_all(b).await;
                    if res.is_err() {
                        break;
                    }
                    b.clear();
                    buf = b;
                }
                let _ = stream.close().await;
            });
        }
    })
}

fn serve_tokio_runtime(args: &Args) -> io::Result<()> {
    let rt = match args.flavour {
        Flavour::Current => tokio::runtime::Builder::new_current_thread().enable_all().build()?,
        Flavour::Multi => tokio::runtime::Builder::new_multi_thread().enable_all().build()?,
    };
    rt.block_on(async {
        match args.stack {
            Stack::Tokio => stack_tokio::serve(args.addr, args.proto).await,
            Stack::Compat => stack_compat::serve(args.addr, args.proto).await,
            Stack::Ringio => unreachable!("handled in main"),
        }
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !args.no_stdin {
        // End of stdin (the driving script closed its end, or died) ends the server.
        std::thread::spawn(|| {
            let _ = io::copy(&mut io::stdin().lock(), &mut io::sink());
            std::process::exit(0);
        });
    }
    let res = match args.stack {
        Stack::Ringio if args.proto != Proto::Echo => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "--stack ringio serves --proto echo only",
        )),
        Stack::Ringio => serve_ringio(args.addr),
        Stack::Tokio | Stack::Compat => serve_tokio_runtime(&args),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compat_server: {e}");
            ExitCode::FAILURE
        }
    }
}
