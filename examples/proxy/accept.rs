//! One core's accept loops (one per listen address) and its drain: after a
//! stop, no new connections; open ones get `--drain` seconds, then are cut.

use crate::config::{Config, Copy};
use crate::connection::{self, race, Either};
use crate::stats::Stats;
use crate::upstream::Upstreams;
use ringio::buf::BufRing;
use ringio::net::TcpListener;
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The id of each core's buffer group (each core has its own ring).
const RING_GROUP: u16 = 0;
/// Longest pause between accepts while descriptors are exhausted.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// What the connection tasks of one core share.
pub struct Core {
    pub config: Config,
    pub upstreams: Arc<Upstreams>,
    pub stats: Arc<Stats>,
    /// Set when the drain deadline passes: connections still open are cut.
    pub cut: watch::Receiver<bool>,
    /// Connections of this core still open.
    pub open: std::cell::Cell<usize>,
    /// Signalled each time one of them ends.
    pub ended: tokio::sync::Notify,
    /// The buffers `--copy bufring` receives into, shared by this core's
    /// connections.
    pub ring: Option<BufRing>,
}

pub async fn serve_core(
    core: usize,
    config: &Config,
    listeners: Vec<TcpListener>,
    upstreams: Arc<Upstreams>,
    stats: Arc<Stats>,
    stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let (cut_tx, cut) = watch::channel(false);
    let ring = match config.copy {
        Copy::Bufring => Some(BufRing::new(
            RING_GROUP,
            config.ring_buffers,
            config.ring_buffer_kib.max(1) * 1024,
        )?),
        _ => None,
    };
    let shared = Rc::new(Core {
        config: config.clone(),
        upstreams,
        stats,
        cut,
        open: std::cell::Cell::new(0),
        ended: tokio::sync::Notify::new(),
        ring,
    });
    let loops: Vec<_> = listeners
        .into_iter()
        .map(|listener| ringio::spawn(accept_loop(core, listener, shared.clone(), stop.clone())))
        .collect();
    for l in loops {
        l.await.map_err(|e| io::Error::other(e.to_string()))??;
    }
    // Draining: wait for the open connections, then cut the rest.
    let deadline = Instant::now() + config.drain();
    if let Either::Right(()) = race(all_ended(&shared), ringio::time::sleep_until(deadline)).await {
        tracing::info!(
            core,
            open = shared.open.get(),
            "drain deadline passed; closing the rest"
        );
        let _ = cut_tx.send(true);
        all_ended(&shared).await;
    }
    Ok(())
}

/// Resolves once no connection of this core is open.
async fn all_ended(core: &Core) {
    loop {
        // Registered before the check, so an end in between is not missed.
        let ended = core.ended.notified();
        if core.open.get() == 0 {
            return;
        }
        ended.await;
    }
}

async fn accept_loop(
    core: usize,
    listener: TcpListener,
    shared: Rc<Core>,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let mut backoff = Duration::ZERO;
    loop {
        let accepted = match race(listener.accept(), stop.wait_for(|stop| *stop)).await {
            Either::Left(accepted) => accepted,
            Either::Right(_) => break,
        };
        match accepted {
            Ok((client, peer)) => {
                backoff = Duration::ZERO;
                Stats::add(&shared.stats.accepted, 1);
                tracing::debug!(core, %peer, "accepted");
                ringio::spawn(connection::handle(client, shared.clone()));
            }
            Err(e) if out_of_resources(&e) => {
                // The queued connection stays queued; try again once some
                // descriptors (or memory) may have come back.
                backoff = (backoff * 2).clamp(Duration::from_millis(5), MAX_BACKOFF);
                Stats::add(&shared.stats.accept_backoffs, 1);
                tracing::warn!(core, %e, ?backoff, "accept: out of resources; backing off");
                if let Either::Right(_) = race(ringio::time::sleep(backoff), stop.wait_for(|stop| *stop)).await {
                    break;
                }
            }
            Err(e) => tracing::debug!(core, %e, "accept failed"),
        }
    }
    listener.close().await?;
    tracing::debug!(core, open = shared.open.get(), "stopped accepting");
    Ok(())
}

fn out_of_resources(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}
