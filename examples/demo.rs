//! A self-contained ringio demo on loopback: an echo server and N clients over
//! TCP, then a file written, synced, read back and verified. Prints which
//! backend the runtime chose (io_uring, or epoll where io_uring is denied;
//! `RINGIO_BACKEND=epoll` forces it) and the driver counters.
//!
//! ```text
//! cargo run --release -p ringio-examples --bin demo -- --connections 8 --messages 2000
//! ```

use clap::Parser;
use ringio::fs::OpenOptions;
use ringio::net::{TcpListener, TcpStream};
use std::io;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(about = "ringio loopback demo: TCP echo plus file I/O")]
struct Args {
    /// Concurrent client connections.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Messages each client sends (and reads back).
    #[arg(long, default_value_t = 2000)]
    messages: usize,
    /// Bytes per message.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Size of the file written and read back, in MiB.
    #[arg(long, default_value_t = 8)]
    file_mib: usize,
}

fn main() -> io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let rt = ringio::Runtime::new()?;
    match rt.setup_mode() {
        Some(flags) => println!("backend: {} (setup flags: {flags:?})", rt.backend()),
        None => println!("backend: {}", rt.backend()),
    }
    rt.block_on(async {
        echo(&args).await?;
        file(&args).await
    })?;
    println!("driver: {:?}", rt.stats());
    Ok(())
}

async fn echo(args: &Args) -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let connections = args.connections;
    let server = ringio::spawn(async move {
        for _ in 0..connections {
            let (stream, _) = listener.accept().await?;
            ringio::spawn(async move {
                let mut buf = Vec::with_capacity(4096);
                loop {
                    let (res, b) = stream.read(buf).await;
                    match res {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    let (res, mut b) = stream.write_all(b).await;
                    if res.is_err() {
                        break;
                    }
                    b.clear();
                    buf = b;
                }
            });
        }
        Ok::<(), io::Error>(())
    });
    let start = Instant::now();
    let clients: Vec<_> = (0..args.connections)
        .map(|c| {
            let (messages, size) = (args.messages, args.size);
            ringio::spawn(async move {
                let stream = TcpStream::connect(addr).await?;
                stream.set_nodelay(true)?;
                let mut out = vec![c as u8; size];
                let mut back = Vec::with_capacity(size);
                for i in 0..messages {
                    out[0] = i as u8;
                    let (res, o) = stream.write_all(out).await;
                    res?;
                    out = o;
                    back.clear();
                    let (res, b) = stream.read_exact(back).await;
                    res?;
                    if b != out {
                        return Err(io::Error::other("echo mismatch"));
                    }
                    back = b;
                }
                stream.close().await
            })
        })
        .collect();
    for client in clients {
        client.await.map_err(io::Error::other)??;
    }
    server.await.map_err(io::Error::other)??;
    let elapsed = start.elapsed();
    let total = args.connections * args.messages;
    println!(
        "tcp echo: {total} round trips of {} B over {} connections in {elapsed:.2?} ({:.0} round trips/s)",
        args.size,
        args.connections,
        total as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}

async fn file(args: &Args) -> io::Result<()> {
    let path = std::env::temp_dir().join(format!("ringio-demo-{}", std::process::id()));
    const CHUNK: usize = 1 << 20;
    let start = Instant::now();
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .await?;
    for i in 0..args.file_mib {
        let chunk = vec![(i % 251) as u8; CHUNK];
        f.write_all_at(chunk, (i * CHUNK) as u64).await.0?;
    }
    f.sync_all().await?;
    let len = f.metadata().await?.len();
    let mut buf = Vec::with_capacity(CHUNK);
    for i in 0..args.file_mib {
        buf.clear();
        let (res, b) = f.read_exact_at(buf, (i * CHUNK) as u64).await;
        res?;
        if b.iter().any(|&x| x != (i % 251) as u8) {
            return Err(io::Error::other("file content mismatch"));
        }
        buf = b;
    }
    f.close().await?;
    std::fs::remove_file(&path)?;
    println!(
        "file: wrote, synced and verified {len} bytes in {:.2?}",
        start.elapsed()
    );
    Ok(())
}
