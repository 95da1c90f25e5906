//! The controls a running simulated test uses from inside its tasks: the
//! virtual time, host crash and restart, partitions and their healing, and
//! link changes. Each acts on the simulation of the calling thread.

use super::driver::current_net;
use super::fault::Link;
use super::net::Net;
use super::runner::{start, Factory, FACTORIES};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

fn with_net<R>(f: impl FnOnce(&Arc<Net>) -> R) -> R {
    let net = current_net().expect("ringio::sim: called outside a simulation");
    f(&net)
}

fn host_index(net: &Net, ip: &str) -> usize {
    let ip: Ipv4Addr = ip
        .parse()
        .unwrap_or_else(|_| panic!("ringio::sim: {ip:?} is not an IPv4 address"));
    net.with(|st| st.host_of(ip.into()))
        .unwrap_or_else(|| panic!("ringio::sim: no host {ip}"))
}

/// Virtual time since the simulation started.
///
/// # Panics
///
/// Outside a simulation.
///
/// # Examples
///
/// ```
/// ringio::sim::Sim::new(1).run("127.0.1.1", || async {
///     assert_eq!(ringio::sim::elapsed(), std::time::Duration::ZERO);
/// });
/// ```
pub fn elapsed() -> Duration {
    with_net(|net| net.with(|st| st.clock.now()))
}

/// Crashes host `ip`: its sockets reset (peers see `ECONNRESET`), its
/// addresses come free and its tasks are dropped.
///
/// # Panics
///
/// Outside a simulation, or if there is no such host.
///
/// # Examples
///
/// ```
/// let mut sim = ringio::sim::Sim::new(1);
/// sim.host("127.0.1.1", || async { Ok(()) });
/// sim.run("127.0.1.2", || async { ringio::sim::crash("127.0.1.1") });
/// ```
pub fn crash(ip: &str) {
    with_net(|net| {
        let host = host_index(net, ip);
        net.with(|st| st.crash(host));
    })
}

/// Restarts crashed host `ip`: its program (see [`Sim::host`]) starts again.
///
/// # Panics
///
/// Outside a simulation, or if there is no such host.
///
/// # Examples
///
/// ```
/// let mut sim = ringio::sim::Sim::new(1);
/// sim.host("127.0.1.1", || async { Ok(()) });
/// sim.run("127.0.1.2", || async {
///     ringio::sim::crash("127.0.1.1");
///     ringio::sim::restart("127.0.1.1");
/// });
/// ```
pub fn restart(ip: &str) {
    with_net(|net| {
        let host = host_index(net, ip);
        let alive = net.with(|st| st.hosts[host].alive);
        if alive {
            return;
        }
        net.with(|st| st.restart(host));
        let programs: Vec<Factory> = FACTORIES.with(|f| {
            f.borrow()
                .iter()
                .filter(|(h, _)| *h == host)
                .map(|(_, p)| p.clone())
                .collect()
        });
        for program in &programs {
            start(net, host, program);
        }
    })
}

/// Cuts hosts `a` and `b` apart; with `heal_after`, the cut heals then
/// (else at [`heal`]). Stream bytes wait (and retransmit) meanwhile;
/// datagrams and connection attempts across the cut are lost.
///
/// # Panics
///
/// Outside a simulation, or if there is no such host.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let mut sim = ringio::sim::Sim::new(1);
/// sim.host("127.0.1.1", || async { Ok(()) });
/// sim.run("127.0.1.2", || async {
///     ringio::sim::partition("127.0.1.1", "127.0.1.2", Some(Duration::from_secs(5)));
/// });
/// ```
pub fn partition(a: &str, b: &str, heal_after: Option<Duration>) {
    with_net(|net| {
        let (a, b) = (host_index(net, a), host_index(net, b));
        net.with(|st| {
            let heal = heal_after.map(|d| st.after(d));
            st.faults.partition(a, b, heal);
            let (ia, ib) = (st.host_ip(a), st.host_ip(b));
            st.log(format_args!("partition {ia} <-> {ib} until {heal:?}"));
            if let Some(at) = heal {
                st.clock.schedule(&mut st.rng, at, super::net::Event::Heal { a, b });
            }
        });
    })
}

/// Heals a partition between `a` and `b` now.
///
/// # Panics
///
/// Outside a simulation, or if there is no such host.
///
/// # Examples
///
/// ```
/// let mut sim = ringio::sim::Sim::new(1);
/// sim.host("127.0.1.1", || async { Ok(()) });
/// sim.run("127.0.1.2", || async {
///     ringio::sim::partition("127.0.1.1", "127.0.1.2", None);
///     ringio::sim::heal("127.0.1.1", "127.0.1.2");
/// });
/// ```
pub fn heal(a: &str, b: &str) {
    with_net(|net| {
        let (a, b) = (host_index(net, a), host_index(net, b));
        net.with(|st| {
            let now = st.clock.now();
            st.clock.schedule(&mut st.rng, now, super::net::Event::Heal { a, b });
        });
    })
}

/// Changes the link between `a` and `b` while the simulation runs.
///
/// # Panics
///
/// Outside a simulation, or if there is no such host.
///
/// # Examples
///
/// ```
/// let mut sim = ringio::sim::Sim::new(1);
/// sim.host("127.0.1.1", || async { Ok(()) });
/// sim.run("127.0.1.2", || async {
///     ringio::sim::set_link("127.0.1.1", "127.0.1.2", ringio::sim::Link::new().loss(1.0));
/// });
/// ```
pub fn set_link(a: &str, b: &str, link: Link) {
    with_net(|net| {
        let (a, b) = (host_index(net, a), host_index(net, b));
        net.with(|st| st.faults.set_link(a, b, link));
    })
}
