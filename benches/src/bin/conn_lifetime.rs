//! What one accepted connection's lifetime costs the ring's owner thread:
//! accept, `--echoes` 64-byte echoes, close, `--conns` times over.
//!
//! The server is a ringio runtime on the main thread; the client is a plain
//! blocking `std` thread, so that `strace` without `-f` (see
//! `benches/scripts/conn_lifetime.sh`) sees only the server's system calls.
//! Prints one JSON line with the ring's counters per lifetime, from
//! `Runtime::stats()`: `io_uring_enter` calls, SQEs submitted, and fixed
//! slots registered.

use clap::Parser;
use ringio::net::TcpListener;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(about = "Ring cost of accept + N echoes + close, per connection")]
struct Args {
    /// Connection lifetimes to measure.
    #[arg(long, default_value_t = 2000)]
    conns: u32,
    /// 64-byte echoes per connection.
    #[arg(long, default_value_t = 10)]
    echoes: u32,
    /// Lifetimes run first and not counted (fills slot chunks and queues).
    #[arg(long, default_value_t = 100)]
    warmup: u32,
}

/// The client: `conns` connections in turn, each `echoes` round trips.
fn client(addr: SocketAddr, conns: u32, echoes: u32) -> std::io::Result<()> {
    let mut buf = [0u8; 64];
    for _ in 0..conns {
        let mut s = std::net::TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        for i in 0..echoes {
            buf.fill(i as u8);
            s.write_all(&buf)?;
            s.read_exact(&mut buf)?;
        }
    }
    Ok(())
}

/// The server side of `conns` lifetimes, one after another.
async fn serve(listener: &TcpListener, conns: u32, echoes: u32) -> std::io::Result<()> {
    for _ in 0..conns {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let mut buf = Vec::with_capacity(64);
        for _ in 0..echoes {
            let (res, b) = stream.read_exact(buf).await;
            res?;
            let (res, b) = stream.write_all(b).await;
            res?;
            buf = b;
            buf.clear();
        }
        stream.close().await?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("conn_lifetime: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> std::io::Result<()> {
    let rt = ringio::Runtime::new()?;
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let (total, echoes) = (args.warmup + args.conns, args.echoes);
        let client = std::thread::spawn(move || client(addr, total, echoes));
        serve(&listener, args.warmup, echoes).await?;
        let before = rt.stats();
        serve(&listener, args.conns, echoes).await?;
        let after = rt.stats();
        client.join().expect("client thread panicked")?;
        let per = |a: u64, b: u64| (a - b) as f64 / f64::from(args.conns);
        println!(
            "{{\"conns\":{},\"echoes\":{},\"enters_per_conn\":{:.2},\"sqes_per_conn\":{:.2},\"fixed_registered_per_conn\":{:.2},\"fixed_table_full\":{}}}",
            args.conns,
            echoes,
            per(after.enters, before.enters),
            per(after.submitted, before.submitted),
            per(after.fixed_registered, before.fixed_registered),
            after.fixed_table_full - before.fixed_table_full,
        );
        Ok(())
    })
}
