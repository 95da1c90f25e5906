//! The proxy's command line.

use clap::{Parser, ValueEnum};
use std::net::SocketAddr;
use std::time::Duration;

/// A TCP proxy on ringio: round-robin upstreams, failover, idle timeouts,
/// graceful shutdown.
#[derive(Parser, Debug, Clone)]
#[command(name = "proxy")]
pub struct Config {
    /// Address to listen on (repeat for several; port 0 picks a free one).
    #[arg(long, required = true)]
    pub listen: Vec<SocketAddr>,
    /// Upstream server (repeat for several; chosen round-robin).
    #[arg(long, required = true)]
    pub upstream: Vec<SocketAddr>,
    /// Runtimes (threads, one per core); 0 = one per available CPU.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Seconds a connect to one upstream may take before the next is tried.
    #[arg(long, default_value_t = 2.0)]
    pub connect_timeout: f64,
    /// Seconds without a byte either way before a connection is closed.
    #[arg(long, default_value_t = 300.0)]
    pub idle_timeout: f64,
    /// Seconds open connections may go on after a stop signal.
    #[arg(long, default_value_t = 10.0)]
    pub drain: f64,
    /// Seconds between stats lines.
    #[arg(long, default_value_t = 5.0)]
    pub stats_every: f64,
    /// Copy buffer per direction, in KiB (`--copy buffers`).
    #[arg(long, default_value_t = 64)]
    pub buffer_kib: usize,
    /// How bytes move between the two sockets.
    #[arg(long, value_enum, default_value_t = Copy::Buffers)]
    pub copy: Copy,
    /// Buffers in each core's shared buffer ring (`--copy bufring`; a power
    /// of two).
    #[arg(long, default_value_t = 1024)]
    pub ring_buffers: usize,
    /// Size of each buffer-ring buffer, in KiB (`--copy bufring`).
    #[arg(long, default_value_t = 16)]
    pub ring_buffer_kib: usize,
}

/// How the proxy moves bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Copy {
    /// Owned user-space buffers (`ringio::io::copy_bidirectional`).
    Buffers,
    /// Pipes, without user memory (`ringio::io::splice_bidirectional`).
    Splice,
    /// One buffer ring per core shared by all its connections
    /// (`recv_multi`): an idle connection holds no buffer.
    Bufring,
}

impl Config {
    pub fn cores(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.connect_timeout.max(0.001))
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.idle_timeout.max(0.001))
    }

    pub fn drain(&self) -> Duration {
        Duration::from_secs_f64(self.drain.max(0.0))
    }
}
