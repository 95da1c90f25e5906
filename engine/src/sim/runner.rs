//! The test helper: [`Sim`] sets up hosts and links, runs a test body on
//! a simulated runtime and keeps the trace; [`for_each_seed`] runs a
//! scenario over many seeds. (The controls a running test uses, `crash`,
//! `partition`, ..., are in `control.rs`.)

use super::driver::set_next_net;
use super::fault::Link;
use super::host::Tagged;
use super::net::{Config, Net};
use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// A host's program, started again on restart.
pub(super) type Factory = Rc<dyn Fn() -> Pin<Box<dyn Future<Output = io::Result<()>>>>>;

thread_local! {
    /// The running simulation's host programs, for `restart`.
    pub(super) static FACTORIES: RefCell<Vec<(usize, Factory)>> = const { RefCell::new(Vec::new()) };
}

/// A deterministic simulation: hosts with their own 127.x.y.z addresses,
/// the links between them, and a seed that fixes every choice.
///
/// # Examples
///
/// ```
/// use ringio::net::{TcpListener, TcpStream};
/// use ringio::sim::Sim;
///
/// let echoed = Sim::new(7)
///     .host("127.0.1.1", || async {
///         let listener = TcpListener::bind("127.0.1.1:7")?;
///         loop {
///             let (stream, _) = listener.accept().await?;
///             ringio::spawn(async move {
///                 let (n, buf) = stream.read(Vec::with_capacity(64)).await;
///                 if n.is_ok() {
///                     let _ = stream.write_all(buf).await;
///                 }
///             });
///         }
///     })
///     .run("127.0.1.2", || async {
///         let stream = TcpStream::connect("127.0.1.1:7").await.unwrap();
///         stream.write_all(b"hi".to_vec()).await.0.unwrap();
///         let (n, buf) = stream.read(Vec::with_capacity(64)).await;
///         buf[..n.unwrap()].to_vec()
///     });
/// assert_eq!(echoed, b"hi");
/// ```
pub struct Sim {
    net: Arc<Net>,
    hosts: Vec<(usize, Factory)>,
}

impl Sim {
    /// A simulation with `seed` and no hosts yet.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::sim::Sim::new(3).seed(), 3);
    /// ```
    pub fn new(seed: u64) -> Sim {
        Sim {
            net: Arc::new(Net::new(seed, Config::default())),
            hosts: Vec::new(),
        }
    }

    /// A simulation with the seed `RINGIO_SIM_SEED` names, else `default`.
    ///
    /// # Panics
    ///
    /// If `RINGIO_SIM_SEED` is set but not a number.
    ///
    /// # Examples
    ///
    /// ```
    /// let sim = ringio::sim::Sim::from_env(1);
    /// # let _ = sim;
    /// ```
    pub fn from_env(default: u64) -> Sim {
        Sim::new(super::seed_from_env(default).expect("RINGIO_SIM_SEED"))
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.net.seed()
    }

    fn add_host(&mut self, ip: &str) -> usize {
        let ip: Ipv4Addr = ip
            .parse()
            .unwrap_or_else(|_| panic!("ringio::sim: {ip:?} is not an IPv4 address"));
        assert!(
            ip.is_loopback(),
            "ringio::sim: host addresses come from 127.0.0.0/8 (got {ip}), so a test run on a real \
             backend by mistake stays on this machine"
        );
        self.net.with(|st| st.add_host(ip))
    }

    /// Adds a host at `ip` (in 127.0.0.0/8) running `program`, which is
    /// started again after each [`restart`].
    ///
    /// # Examples
    ///
    /// ```
    /// let mut sim = ringio::sim::Sim::new(1);
    /// sim.host("127.0.1.1", || async { Ok(()) });
    /// ```
    pub fn host<F, Fut>(&mut self, ip: &str, program: F) -> &mut Sim
    where
        F: Fn() -> Fut + 'static,
        Fut: Future<Output = io::Result<()>> + 'static,
    {
        let host = self.add_host(ip);
        let factory: Factory = Rc::new(move || Box::pin(program()));
        self.hosts.push((host, factory));
        self
    }

    /// Sets the link between hosts `a` and `b` (both directions).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut sim = ringio::sim::Sim::new(1);
    /// sim.link("127.0.1.1", "127.0.1.2", ringio::sim::Link::new().latency(Duration::from_millis(10)));
    /// ```
    pub fn link(&mut self, a: &str, b: &str, link: Link) -> &mut Sim {
        let (a, b) = (self.add_host(a), self.add_host(b));
        self.net.with(|st| st.faults.set_link(a, b, link));
        self
    }

    /// Sets the link of every path to or from host `ip` that has no link of
    /// its own (see [`Sim::link`]): a slow or lossy machine.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut sim = ringio::sim::Sim::new(1);
    /// sim.host_link("127.0.1.1", ringio::sim::Link::new().latency(Duration::from_millis(100)));
    /// ```
    pub fn host_link(&mut self, ip: &str, link: Link) -> &mut Sim {
        let host = self.add_host(ip);
        self.net.with(|st| st.faults.set_host_link(host, link));
        self
    }

    /// Sets the link used between hosts that have none of their own.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut sim = ringio::sim::Sim::new(1);
    /// sim.default_link(ringio::sim::Link::new().short_io(0.5));
    /// ```
    pub fn default_link(&mut self, link: Link) -> &mut Sim {
        self.net.with(|st| st.faults.set_default(link));
        self
    }

    /// Bytes a stream direction holds in flight plus unread (default 64 KiB).
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::sim::Sim::new(1).stream_buffer(1024);
    /// ```
    pub fn stream_buffer(&mut self, bytes: usize) -> &mut Sim {
        self.net.with(|st| st.config.stream_buffer = bytes.max(1));
        self
    }

    /// Datagrams a socket queues before dropping more (default 256).
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::sim::Sim::new(1).datagram_queue(4);
    /// ```
    pub fn datagram_queue(&mut self, datagrams: usize) -> &mut Sim {
        self.net.with(|st| st.config.datagram_queue = datagrams);
        self
    }

    /// The cap on every listen backlog, like `net.core.somaxconn` (default 4096).
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::sim::Sim::new(1).somaxconn(2);
    /// ```
    pub fn somaxconn(&mut self, backlog: usize) -> &mut Sim {
        self.net.with(|st| st.config.somaxconn = backlog.max(1));
        self
    }

    /// Virtual time after which a run counts as stuck and panics (default
    /// 365 days): a task that wakes periodically forever would otherwise keep
    /// the clock running without end.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::sim::Sim::new(1).time_limit(std::time::Duration::from_secs(3600));
    /// ```
    pub fn time_limit(&mut self, limit: Duration) -> &mut Sim {
        self.net.with(|st| st.config.time_limit = limit);
        self
    }

    /// Runs `body` on host `ip` (added if new) with every host program
    /// started, on a runtime with [`crate::Backend::Sim`], and returns what
    /// `body` returns once it finishes. A panic inside prints the seed.
    ///
    /// # Panics
    ///
    /// If the runtime cannot be built, if `body` panics, or if the
    /// simulation deadlocks (every task waits and nothing is scheduled).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let slept = ringio::sim::Sim::new(1).run("127.0.1.1", || async {
    ///     ringio::time::sleep(Duration::from_secs(3600)).await;
    ///     ringio::sim::elapsed()
    /// });
    /// assert_eq!(slept, Duration::from_secs(3600));
    /// ```
    pub fn run<F, Fut>(&mut self, ip: &str, body: F) -> Fut::Output
    where
        F: FnOnce() -> Fut,
        Fut: Future + 'static,
    {
        let main_host = self.add_host(ip);
        REPORTED.with(|r| r.set(None));
        let report = SeedReport(self.seed());
        set_next_net(self.net.clone());
        let rt = crate::Runtime::builder()
            .backend(crate::Backend::Sim)
            .build()
            .expect("ringio::sim: building the simulated runtime");
        FACTORIES.with(|f| *f.borrow_mut() = self.hosts.clone());
        let net = self.net.clone();
        let hosts = self.hosts.clone();
        let out = rt.block_on(async move {
            for (host, program) in &hosts {
                start(&net, *host, program);
            }
            Tagged::new(net.clone(), main_host, body()).await
        });
        drop(rt);
        FACTORIES.with(|f| f.borrow_mut().clear());
        drop(report);
        out
    }

    /// Every event of the run so far, one line each (virtual time first):
    /// the same seed gives the same trace, byte for byte.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut sim = ringio::sim::Sim::new(1);
    /// sim.run("127.0.1.1", || async {});
    /// assert!(sim.trace().is_empty());
    /// ```
    pub fn trace(&self) -> Vec<String> {
        self.net.trace()
    }
}

/// Starts `program` as a task of `host`.
pub(super) fn start(net: &Arc<Net>, host: usize, program: &Factory) {
    let ip = net.with(|st| st.host_ip(host));
    let task = program();
    let log = net.clone();
    let fut = Tagged::new(net.clone(), host, async move {
        if let Err(e) = task.await {
            log.with(|st| st.log(format_args!("host {ip} program ended: {e}")));
        }
    });
    crate::runtime::context::with_core(|core| drop(core.tasks.spawn(&core.sched, fut)))
        .expect("inside the simulated runtime");
}

/// Prints the seed if dropped while unwinding (the run failed).
struct SeedReport(u64);

thread_local! {
    /// The seed whose failure was printed last, so one failure prints once.
    static REPORTED: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

impl Drop for SeedReport {
    fn drop(&mut self) {
        if std::thread::panicking() && REPORTED.with(|r| r.replace(Some(self.0))) != Some(self.0) {
            eprintln!(
                "ringio::sim: run with seed {0} failed; replay it with RINGIO_SIM_SEED={0}",
                self.0
            );
        }
    }
}

/// Runs `scenario` once per seed `0..count`, like a property test over
/// schedules: `RINGIO_SIM_SEED=n` runs only seed `n` (a replay), and
/// `RINGIO_SIM_SEEDS=n` runs `0..n` instead (a longer soak).
///
/// # Examples
///
/// ```
/// ringio::sim::for_each_seed(5, |seed| {
///     ringio::sim::Sim::new(seed).run("127.0.1.1", || async {});
/// });
/// ```
pub fn for_each_seed(count: u64, mut scenario: impl FnMut(u64)) {
    match std::env::var("RINGIO_SIM_SEED") {
        Ok(_) => {
            let seed = super::seed_from_env(0).expect("RINGIO_SIM_SEED");
            let _report = SeedReport(seed);
            scenario(seed)
        }
        Err(_) => {
            let count = match std::env::var("RINGIO_SIM_SEEDS") {
                Ok(n) => n.trim().parse().expect("RINGIO_SIM_SEEDS: a number of seeds"),
                Err(_) => count,
            };
            for seed in 0..count {
                // Prints the seed if `scenario` fails outside `Sim::run` too.
                let _report = SeedReport(seed);
                scenario(seed);
            }
        }
    }
}
