//! Fault injection: what a [`Link`] between two hosts does to the traffic
//! on it (latency, jitter, bandwidth, datagram loss, duplication and
//! reordering, connection resets, short reads and writes), and partitions
//! that cut two hosts apart until they heal. Every random choice draws from
//! the simulation's seeded [`Rng`], so faults replay with the seed.

use super::rng::Rng;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// How the path between two hosts behaves. The default is a perfect link:
/// no delay, no loss, unlimited bandwidth.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let wan = ringio::sim::Link::new()
///     .latency(Duration::from_millis(20))
///     .jitter(Duration::from_millis(5))
///     .bandwidth(1_000_000)
///     .loss(0.01)
///     .duplicate(0.01)
///     .reorder(0.05)
///     .short_io(0.2);
/// assert_eq!(wan.latency, Duration::from_millis(20));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Link {
    /// One-way delay of every segment and datagram.
    pub latency: Duration,
    /// Up to this much extra delay, drawn per datagram and per stream write
    /// (stream bytes still arrive in order).
    pub jitter: Duration,
    /// Bytes per second in each direction (`None`: unlimited).
    pub bandwidth: Option<u64>,
    /// Probability that a datagram is lost.
    pub loss: f64,
    /// Probability that a datagram arrives twice.
    pub duplicate: f64,
    /// Probability that a datagram is held back (by up to four latencies
    /// plus jitter), so later ones overtake it.
    pub reorder: f64,
    /// Probability that a stream write makes the connection reset (both
    /// ends see `ECONNRESET`), as a middlebox dropping state would.
    pub reset: f64,
    /// Probability that a stream read or write moves only part of what it
    /// could (at least one byte).
    pub short_io: f64,
}

impl Link {
    /// A perfect link (see [`Link`]).
    pub fn new() -> Link {
        Link::default()
    }

    /// Sets [`Link::latency`].
    pub fn latency(mut self, latency: Duration) -> Link {
        self.latency = latency;
        self
    }

    /// Sets [`Link::jitter`].
    pub fn jitter(mut self, jitter: Duration) -> Link {
        self.jitter = jitter;
        self
    }

    /// Sets [`Link::bandwidth`] in bytes per second.
    pub fn bandwidth(mut self, bytes_per_sec: u64) -> Link {
        self.bandwidth = Some(bytes_per_sec.max(1));
        self
    }

    /// Sets [`Link::loss`].
    pub fn loss(mut self, p: f64) -> Link {
        self.loss = p;
        self
    }

    /// Sets [`Link::duplicate`].
    pub fn duplicate(mut self, p: f64) -> Link {
        self.duplicate = p;
        self
    }

    /// Sets [`Link::reorder`].
    pub fn reorder(mut self, p: f64) -> Link {
        self.reorder = p;
        self
    }

    /// Sets [`Link::reset`].
    pub fn reset(mut self, p: f64) -> Link {
        self.reset = p;
        self
    }

    /// Sets [`Link::short_io`].
    pub fn short_io(mut self, p: f64) -> Link {
        self.short_io = p;
        self
    }
}

/// The links of one simulation, its partitions and each direction's
/// bandwidth queue.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    default: Link,
    /// Links set for one pair of hosts (both directions), by host index.
    links: HashMap<(usize, usize), Link>,
    /// Links set for all of one host's paths that have none of their own.
    hosts: HashMap<usize, Link>,
    /// Cut pairs and when each heals (`None`: until healed by hand).
    partitions: BTreeMap<(usize, usize), Option<Duration>>,
    /// When each direction's bandwidth is next free.
    busy_until: HashMap<(usize, usize), Duration>,
}

fn pair(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

impl Faults {
    pub(crate) fn set_default(&mut self, link: Link) {
        self.default = link;
    }

    pub(crate) fn set_link(&mut self, a: usize, b: usize, link: Link) {
        self.links.insert(pair(a, b), link);
    }

    pub(crate) fn set_host_link(&mut self, host: usize, link: Link) {
        self.hosts.insert(host, link);
    }

    /// The link between `a` and `b`: the pair's own, else `a`'s or `b`'s
    /// host link, else the default.
    pub(crate) fn link(&self, a: usize, b: usize) -> &Link {
        self.links
            .get(&pair(a, b))
            .or_else(|| self.hosts.get(&a))
            .or_else(|| self.hosts.get(&b))
            .unwrap_or(&self.default)
    }

    pub(crate) fn partition(&mut self, a: usize, b: usize, heal_at: Option<Duration>) {
        if a != b {
            self.partitions.insert(pair(a, b), heal_at);
        }
    }

    pub(crate) fn heal(&mut self, a: usize, b: usize) {
        self.partitions.remove(&pair(a, b));
    }

    /// Whether `a` and `b` are cut apart at `now`: `Some(heal time)`
    /// (`None` inside: no heal scheduled).
    pub(crate) fn cut(&self, a: usize, b: usize, now: Duration) -> Option<Option<Duration>> {
        match self.partitions.get(&pair(a, b)) {
            Some(Some(heal)) if *heal <= now => None,
            Some(heal) => Some(*heal),
            None => None,
        }
    }

    /// When `bytes` sent from `a` to `b` at `now` arrive: after the
    /// direction's bandwidth queue, the latency and a draw of jitter.
    pub(crate) fn arrival(&mut self, rng: &mut Rng, a: usize, b: usize, now: Duration, bytes: usize) -> Duration {
        let link = self.link(a, b).clone();
        let mut sent = now;
        if let Some(bw) = link.bandwidth {
            let busy = self.busy_until.entry((a, b)).or_default();
            let start = (*busy).max(now);
            let nanos = (bytes as u128 * 1_000_000_000 / u128::from(bw)) as u64;
            *busy = start + Duration::from_nanos(nanos);
            sent = *busy;
        }
        sent + link.latency + jitter(rng, link.jitter)
    }
}

/// A uniform draw in `0..=max` (no draw at all when `max` is zero).
pub(crate) fn jitter(rng: &mut Rng, max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    Duration::from_nanos(rng.below(max.as_nanos() as u64 + 1))
}

/// How much of `len` a short read or write moves (`len` itself unless the
/// fault fires): at least one byte.
pub(crate) fn shorten(rng: &mut Rng, p: f64, len: usize) -> usize {
    if len > 1 && rng.chance(p) {
        1 + rng.below(len as u64 - 1) as usize
    } else {
        len
    }
}
