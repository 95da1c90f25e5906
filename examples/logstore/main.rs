//! `logstore`: an append-only blob store on ringio. A TCP server takes PUTs
//! and GETs (protocol in `protocol.rs`), keeps records in `O_DIRECT` segment
//! files (format in `record.rs`), group-commits puts (one `fdatasync` per
//! batch, each put acknowledged once durable), rebuilds its index by scanning
//! the segments at start, and truncates a torn last record. See
//! `examples/logstore/README.md`.
//!
//! ```text
//! cargo run --release -p ringio-examples --bin logstore -- serve --dir /var/tmp/logstore --listen 127.0.0.1:7070
//! cargo run --release -p ringio-examples --bin logstore -- put --addr 127.0.0.1:7070 < some.file
//! cargo run --release -p ringio-examples --bin logstore -- get --addr 127.0.0.1:7070 1 > back.file
//! cargo run --release -p ringio-examples --bin logstore -- bench --addr 127.0.0.1:7070 --clients 16
//! ```

mod bench;
mod crc32c;
mod protocol;
mod record;
mod server;
mod store;

use clap::{Parser, Subcommand};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(about = "An append-only log store on ringio: O_DIRECT segments, group commit, crash recovery")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs the server.
    Serve {
        /// Data directory (created if missing).
        #[arg(long)]
        dir: PathBuf,
        /// Address to listen on (port 0: any free port; the bound address
        /// is printed on stdout as `listening <addr> direct=<bool>`).
        #[arg(long, default_value = "127.0.0.1:7070")]
        listen: SocketAddr,
        /// Segment size before rolling to a new file, in MiB.
        #[arg(long, default_value_t = 64)]
        segment_mib: u64,
        /// Most bytes one group commit writes, in KiB.
        #[arg(long, default_value_t = 4096)]
        max_batch_kib: usize,
        /// Use buffered I/O even where O_DIRECT works.
        #[arg(long)]
        buffered: bool,
    },
    /// Stores stdin as one blob and prints its sequence number.
    Put {
        #[arg(long, default_value = "127.0.0.1:7070")]
        addr: SocketAddr,
    },
    /// Writes the blob with this sequence number to stdout.
    Get {
        #[arg(long, default_value = "127.0.0.1:7070")]
        addr: SocketAddr,
        seq: u64,
    },
    /// Prints the highest durable sequence number.
    Last {
        #[arg(long, default_value = "127.0.0.1:7070")]
        addr: SocketAddr,
    },
    /// Load: closed-loop PUTs from concurrent clients; prints puts/s and latency.
    Bench {
        #[arg(long, default_value = "127.0.0.1:7070")]
        addr: SocketAddr,
        /// Concurrent clients (each on its own connection).
        #[arg(long, default_value_t = 16)]
        clients: usize,
        /// Blob size in bytes.
        #[arg(long, default_value_t = 256)]
        size: usize,
        /// How long to run, in seconds.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
}

fn main() -> io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&io::stderr()))
        .init();
    match Args::parse().command {
        Command::Serve {
            dir,
            listen,
            segment_mib,
            max_batch_kib,
            buffered,
        } => {
            let cfg = store::Config {
                dir,
                segment_bytes: segment_mib << 20,
                max_batch_bytes: max_batch_kib << 10,
                buffered,
            };
            let rt = ringio::Runtime::new()?;
            tracing::info!(backend = %rt.backend(), "runtime up");
            rt.block_on(async move {
                let (store, writer) = store::Store::open(cfg).await?;
                ringio::spawn(writer.run());
                let listener = ringio::net::TcpListener::bind(listen)?;
                // The one line on stdout: tools and tests wait for it.
                println!("listening {} direct={}", listener.local_addr()?, store.direct());
                io::stdout().flush()?;
                server::serve(listener, store).await
            })
        }
        Command::Put { addr } => {
            let mut blob = Vec::new();
            io::stdin().read_to_end(&mut blob)?;
            let mut s = std::net::TcpStream::connect(addr)?;
            println!("{}", protocol::blocking::put(&mut s, &blob)?);
            Ok(())
        }
        Command::Get { addr, seq } => {
            let mut s = std::net::TcpStream::connect(addr)?;
            match protocol::blocking::get(&mut s, seq)? {
                Some(blob) => io::stdout().write_all(&blob),
                None => Err(io::Error::new(io::ErrorKind::NotFound, format!("no record {seq}"))),
            }
        }
        Command::Last { addr } => {
            let mut s = std::net::TcpStream::connect(addr)?;
            println!("{}", protocol::blocking::last(&mut s)?);
            Ok(())
        }
        Command::Bench {
            addr,
            clients,
            size,
            seconds,
        } => {
            let rt = ringio::Runtime::new()?;
            let r = rt.block_on(bench::run(addr, clients, size, Duration::from_secs_f64(seconds)))?;
            println!(
                "clients={} puts={} seconds={:.2} puts_per_s={:.0} p50_us={:.0} p99_us={:.0}",
                r.clients,
                r.puts,
                r.seconds,
                r.puts as f64 / r.seconds,
                r.p50_us,
                r.p99_us
            );
            Ok(())
        }
    }
}
