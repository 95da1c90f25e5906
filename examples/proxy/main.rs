//! `proxy`: a TCP (layer 4) proxy on ringio. Listens on one or more
//! addresses, picks an upstream round-robin for each client (trying the next
//! one when a connect fails or times out), and copies both ways until both
//! sides end, a side resets (the reset is passed on), or the connection is
//! idle for too long.
//!
//! One ringio runtime per core, each with its own `SO_REUSEPORT` listener
//! per address; the kernel spreads connections among them. `SIGINT`/`SIGTERM`
//! stop accepting, let open connections finish for `--drain` seconds, then
//! exit. A stats line is logged every `--stats-every` seconds. Running out
//! of descriptors (`EMFILE`) is survived: accepting backs off and resumes.
//!
//! Prints `listening <addr>` on stdout for each address once it is bound
//! (port 0 picks a free port, the same on every core).
//!
//! ```text
//! cargo run -p ringio-examples --bin proxy -- \
//!     --listen 127.0.0.1:8000 --upstream 127.0.0.1:9000 --upstream 127.0.0.1:9001
//! ```

mod accept;
mod bufring;
mod config;
mod connection;
mod stats;
mod upstream;

use clap::Parser;
use config::Config;
use ringio::linux::{Signal, SignalFd};
use ringio::net::TcpListener;
use stats::Stats;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use upstream::Upstreams;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    match run(Config::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(%e, "proxy failed");
            ExitCode::FAILURE
        }
    }
}

fn run(config: Config) -> std::io::Result<()> {
    // Before any thread starts, so every runtime thread inherits the mask
    // and the signals reach only the signalfd.
    let signals = SignalFd::new(&[Signal::INT, Signal::TERM])?;
    // The first core's listeners are bound here, so the addresses (and a
    // port 0's pick) are known, and served, before anything is printed; the
    // other cores join them on the same addresses.
    let first = config
        .listen
        .iter()
        .map(TcpListener::bind_reuseport)
        .collect::<std::io::Result<Vec<_>>>()?;
    let addrs = first
        .iter()
        .map(TcpListener::local_addr)
        .collect::<std::io::Result<Vec<SocketAddr>>>()?;
    let first = Arc::new(std::sync::Mutex::new(Some(first)));
    let cores = config.cores();
    let upstreams = Arc::new(Upstreams::new(config.upstream.clone()));
    let stats = Arc::new(Stats::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // Each core says when its runtime runs and its listeners are bound.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<std::io::Result<()>>();
    let per_core = {
        let (config, addrs, upstreams, stats) = (config.clone(), addrs.clone(), upstreams.clone(), stats.clone());
        ringio::runtime::spawn_per_core(&ringio::Runtime::builder(), cores, move |core| {
            let (config, addrs, upstreams, stats, stop, ready) = (
                config.clone(),
                addrs.clone(),
                upstreams.clone(),
                stats.clone(),
                stop_rx.clone(),
                ready_tx.clone(),
            );
            let bound = first.lock().unwrap_or_else(|p| p.into_inner()).take();
            async move {
                let listeners = match bound {
                    Some(listeners) => Ok(listeners),
                    None => addrs
                        .iter()
                        .map(TcpListener::bind_reuseport)
                        .collect::<std::io::Result<_>>(),
                };
                let _ = ready.send(
                    listeners
                        .as_ref()
                        .map(drop)
                        .map_err(|e| std::io::Error::new(e.kind(), e.to_string())),
                );
                accept::serve_core(core, &config, listeners?, upstreams, stats, stop).await
            }
        })?
    };
    // Everything that needs a descriptor at start is made before the first
    // client can take the last one.
    let supervisor = ringio::Runtime::new()?;
    for _ in 0..cores {
        match ready_rx.recv_timeout(std::time::Duration::from_secs(10)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(std::io::Error::other("a core's runtime did not start")),
        }
    }
    for addr in &addrs {
        println!("listening {addr}");
    }
    tracing::info!(?addrs, cores, upstreams = ?config.upstream, "proxy running");
    supervisor.block_on(supervise(&config, &signals, &stats))?;
    tracing::info!(drain_secs = config.drain, "stopping: no new connections; draining");
    let _ = stop_tx.send(true);
    let mut first_error = None;
    for result in per_core.join() {
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    }
    tracing::info!("{}", stats.line());
    first_error.map_or(Ok(()), Err)
}

/// Logs stats every `--stats-every` seconds until a stop signal arrives.
async fn supervise(config: &Config, signals: &SignalFd, stats: &Stats) -> std::io::Result<()> {
    let every = std::time::Duration::from_secs_f64(config.stats_every.max(0.1));
    loop {
        match ringio::time::timeout(every, signals.recv()).await {
            Ok(signal) => {
                tracing::info!(signal = ?signal?.signal(), "signal received");
                return Ok(());
            }
            Err(_) => tracing::info!("{}", stats.line()),
        }
    }
}
