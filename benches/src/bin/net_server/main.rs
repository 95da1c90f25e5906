//! The server under test for `benches/scripts/net_compare.sh`: the same echo
//! server and the same layer-4 proxy on four stacks, each one thread on its
//! own runtime: tokio (`current_thread`, readiness), ringio (buffer ring +
//! multishot receive for echo; `ringio::io` copies for the proxy), monoio
//! and tokio-uring (both io_uring, owned buffers).
//!
//! Prints the bound address as the first line of stdout, then serves until it
//! is killed or its stdin reaches end of file (`--no-stdin` turns that off).
//!
//! ```sh
//! cargo run --release -p ringio-benches --bin net_server -- --stack monoio --proto echo
//! cargo run --release -p ringio-benches --bin net_server -- --stack ringio --proto proxy --upstream 127.0.0.1:7000
//! ```
//!
//! Every stack does the same work per connection, written the way its own
//! documentation writes it: echo reads into a `--buf-kib` buffer and writes
//! back what it read; the proxy connects to `--upstream` and copies both ways
//! with `--buf-kib` buffers, passing a half-close on. Each stack is one file.

mod monoio_stack;
mod ringio_stack;
mod tokio_stack;
mod tokio_uring_stack;

use clap::{Parser, ValueEnum};
use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(about = "echo / L4 proxy server on tokio, ringio, monoio or tokio-uring (for net_compare.sh)")]
struct Args {
    /// Which runtime and socket types serve.
    #[arg(long, value_enum)]
    stack: Stack,
    /// What to serve.
    #[arg(long, value_enum, default_value_t = Proto::Echo)]
    proto: Proto,
    /// Where the proxy connects (required with `--proto proxy`).
    #[arg(long)]
    upstream: Option<SocketAddr>,
    /// Address to bind (port 0: any free port; the bound one is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Read buffer per connection (echo) or per direction (proxy), KiB.
    #[arg(long, default_value_t = 16)]
    buf_kib: usize,
    /// ringio echo: buffers in the shared provided-buffer group (each `--buf-kib`). The default,
    /// 4096 x 16 KiB = 64 MiB, holds what 512 connections with a 64 KiB message each have in
    /// flight; 1024 ran dry on nearly every such request (`buf_enobufs` in the stats lines).
    #[arg(long, default_value_t = 4096)]
    group_bufs: usize,
    /// ringio echo: buffers one connection may hold unread before its receive pauses.
    #[arg(long, default_value_t = 8)]
    max_unread: usize,
    /// ringio proxy: how bytes move.
    #[arg(long, value_enum, default_value_t = Copy::Buffers)]
    copy: Copy,
    /// ringio: print the runtime's counters (`ringio::Stats`) to stderr this often, seconds (0: never).
    #[arg(long, default_value_t = 2.0)]
    stats_every: f64,
    /// Do not exit when stdin closes (run until killed).
    #[arg(long)]
    no_stdin: bool,
}

impl Args {
    fn buf_len(&self) -> usize {
        self.buf_kib.max(1) * 1024
    }

    fn upstream(&self) -> io::Result<SocketAddr> {
        self.upstream
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "--proto proxy needs --upstream"))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Stack {
    /// tokio `current_thread` and `tokio::net`.
    Tokio,
    /// ringio's own runtime.
    Ringio,
    /// monoio's io_uring runtime.
    Monoio,
    /// tokio-uring.
    TokioUring,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Proto {
    /// Write back whatever is read.
    Echo,
    /// Connect to `--upstream` and copy both ways.
    Proxy,
}

/// ringio proxy copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Copy {
    /// `ringio::io::copy_bidirectional_with_size` (owned user-space buffers).
    Buffers,
    /// `ringio::io::splice_bidirectional` (pipes; no user memory).
    Splice,
}

/// First line of stdout: the bound address, for the script to read.
fn announce(addr: SocketAddr) {
    println!("{addr}");
}

/// Reports a connection's error unless it is the usual end of a run (the
/// load generator resets its connections when it stops).
fn report(res: io::Result<()>) {
    if let Err(e) = res {
        if !matches!(
            e.kind(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe | io::ErrorKind::NotConnected
        ) {
            eprintln!("net_server: connection: {e}");
        }
    }
}

/// Lets this process hold as many descriptors as its hard limit allows: the
/// idle-memory workload holds 10,000 connections (20,000 when proxying).
fn raise_nofile() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    lim.current = lim.maximum;
    if let Err(e) = setrlimit(Resource::Nofile, lim) {
        eprintln!("net_server: cannot raise RLIMIT_NOFILE: {e}");
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    raise_nofile();
    if !args.no_stdin {
        // End of stdin (the driving script closed its end, or died) ends the server.
        std::thread::spawn(|| {
            let _ = io::copy(&mut io::stdin().lock(), &mut io::sink());
            std::process::exit(0);
        });
    }
    let res = match args.stack {
        Stack::Tokio => tokio_stack::serve(&args),
        Stack::Ringio => ringio_stack::serve(&args),
        Stack::Monoio => monoio_stack::serve(&args),
        Stack::TokioUring => tokio_uring_stack::serve(&args),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("net_server: {e}");
            ExitCode::FAILURE
        }
    }
}
