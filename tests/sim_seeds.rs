//! The simulated backend over many seeds: the same seed gives the same
//! trace, different seeds different schedules; an echo client and server
//! lose and duplicate no stream byte under random faults; and a small proxy
//! fails over, sees resets and times out idle connections in virtual time.

use ringio::net::{TcpListener, TcpStream};
use ringio::sim::{Link, Sim};
use ringio::time::timeout;
use std::io::ErrorKind;
use std::rc::Rc;
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The test's own randomness, derived from the seed (SplitMix64).
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// An echo server on `ip:7`.
fn echo_server(sim: &mut Sim, ip: &str) {
    sim.host(ip, || async {
        let listener = TcpListener::bind("0.0.0.0:7")?;
        loop {
            let (stream, _) = listener.accept().await?;
            ringio::spawn(async move {
                loop {
                    let (res, buf) = stream.read(Vec::with_capacity(4096)).await;
                    match res {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            if stream.write_all(buf).await.0.is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
}

/// Sends `data` to the echo server at `addr` and reads it all back,
/// writing and reading concurrently (the queues are bounded).
async fn echo_round(addr: &'static str, data: Vec<u8>, chunk: usize) -> Vec<u8> {
    let stream = Rc::new(TcpStream::connect(addr).await.unwrap());
    let len = data.len();
    let writer = {
        let stream = stream.clone();
        ringio::spawn(async move {
            for part in data.chunks(chunk.max(1)) {
                stream.write_all(part.to_vec()).await.0.unwrap();
            }
            stream.shutdown(std::net::Shutdown::Write).unwrap();
        })
    };
    let mut back = Vec::with_capacity(len);
    loop {
        let (res, buf) = stream.read(Vec::with_capacity(8192)).await;
        match res.unwrap() {
            0 => break,
            _ => back.extend_from_slice(&buf),
        }
        if back.len() == len {
            break;
        }
    }
    writer.await.unwrap();
    back
}

/// A scenario that exercises every source of choice: three clients at
/// once over a jittery link with short reads and writes. Returns the trace
/// and the order in which the clients got their whole answer.
fn scenario(seed: u64) -> (Vec<String>, Vec<u8>) {
    let mut sim = Sim::new(seed);
    sim.link(
        "127.0.4.1",
        "127.0.4.2",
        Link::new().latency(ms(5)).jitter(ms(5)).short_io(0.3),
    );
    sim.host("127.0.4.1", || async {
        let listener = TcpListener::bind("0.0.0.0:7")?;
        loop {
            let (stream, _) = listener.accept().await?;
            ringio::spawn(async move {
                let (res, buf) = stream.read_exact(vec![0u8; 1]).await;
                if res.is_ok() {
                    for _ in 0..10 {
                        let _ = stream.write_all(vec![buf[0]; 300]).await;
                    }
                }
            });
        }
    });
    let order = sim.run("127.0.4.2", || async {
        let order = Rc::new(std::cell::RefCell::new(Vec::new()));
        let mut tasks = Vec::new();
        for who in 0..3u8 {
            let order = order.clone();
            tasks.push(ringio::spawn(async move {
                let stream = TcpStream::connect("127.0.4.1:7").await.unwrap();
                stream.write_all(vec![who]).await.0.unwrap();
                let (res, buf) = stream.read_exact(vec![0u8; 3000]).await;
                res.unwrap();
                assert!(buf.iter().all(|&b| b == who));
                order.borrow_mut().push(who);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        order.take()
    });
    (sim.trace(), order)
}

#[test]
fn the_same_seed_gives_the_same_trace_byte_for_byte() {
    let (a, order_a) = scenario(42);
    let (b, order_b) = scenario(42);
    assert!(a.len() > 40, "a real trace: {}", a.len());
    assert_eq!(a.join("\n"), b.join("\n"));
    assert_eq!(order_a, order_b);
    let (c, _) = scenario(43);
    assert_ne!(a.join("\n"), c.join("\n"));
}

#[test]
fn different_seeds_give_different_schedules() {
    let orders: std::collections::BTreeSet<Vec<u8>> = (0..20).map(|seed| scenario(seed).1).collect();
    assert!(
        orders.len() > 1,
        "the server accepted clients in one order only: {orders:?}"
    );
}

#[test]
fn echo_loses_and_duplicates_no_byte_under_random_faults() {
    const SEEDS: u64 = 1000;
    ringio::sim::for_each_seed(SEEDS, |seed| {
        let mut d = Draw(seed);
        let mut link = Link::new()
            .latency(ms(d.below(20)))
            .jitter(ms(d.below(10)))
            .short_io(d.below(50) as f64 / 100.0);
        if d.below(3) == 0 {
            link = link.bandwidth(50_000 + d.below(1_000_000));
        }
        let len = 1 + d.below(48_000) as usize;
        let chunk = 1 + d.below(8_000) as usize;
        let partition_at = ms(d.below(500));
        let partition_for = ms(d.below(3000));
        let data: Vec<u8> = (0..len).map(|_| d.next() as u8).collect();
        let mut sim = Sim::new(seed);
        sim.stream_buffer(1024 + d.below(64 * 1024) as usize);
        sim.link("127.0.5.1", "127.0.5.2", link);
        echo_server(&mut sim, "127.0.5.1");
        let expect = data.clone();
        let back = sim.run("127.0.5.2", move || async move {
            ringio::spawn(async move {
                ringio::time::sleep(partition_at).await;
                ringio::sim::partition("127.0.5.1", "127.0.5.2", Some(partition_for));
            });
            let a = ringio::spawn(echo_round("127.0.5.1:7", data.clone(), chunk));
            let b = echo_round("127.0.5.1:7", data, chunk / 2 + 1).await;
            (a.await.unwrap(), b)
        });
        assert!(back.0 == expect, "seed {seed}: first connection's echo differs");
        assert!(back.1 == expect, "seed {seed}: second connection's echo differs");
    });
}

/// A proxy on `PROXY:80` to the first of `UPSTREAMS` that accepts within
/// two seconds; it closes a connection idle for 30 s either way.
const PROXY: &str = "127.0.6.1";
const CLIENT: &str = "127.0.6.2";
const UPSTREAMS: [&str; 2] = ["127.0.6.10:7", "127.0.6.11:7"];
const IDLE: Duration = Duration::from_secs(30);

fn proxy(sim: &mut Sim) {
    sim.host(PROXY, || async {
        let listener = TcpListener::bind("0.0.0.0:80")?;
        loop {
            let (client, _) = listener.accept().await?;
            ringio::spawn(async move {
                let mut upstream = None;
                for addr in UPSTREAMS {
                    if let Ok(Ok(s)) = timeout(Duration::from_secs(2), TcpStream::connect(addr)).await {
                        upstream = Some(s);
                        break;
                    }
                }
                let Some(upstream) = upstream else { return };
                let (client, upstream) = (Rc::new(client), Rc::new(upstream));
                ringio::spawn(pipe(upstream.clone(), client.clone()));
                pipe(client, upstream).await;
            });
        }
    });
}

async fn pipe(from: Rc<TcpStream>, to: Rc<TcpStream>) {
    while let Ok((Ok(n), buf)) = timeout(IDLE, from.read(Vec::with_capacity(4096))).await {
        if n == 0 || to.write_all(buf).await.0.is_err() {
            break;
        }
    }
    let _ = to.close().await;
    let _ = from.close().await;
}

/// An upstream that answers each read with its name and the bytes.
fn upstream(sim: &mut Sim, ip: &'static str, name: &'static [u8]) {
    sim.host(ip, move || async move {
        let listener = TcpListener::bind("0.0.0.0:7")?;
        loop {
            let (stream, _) = listener.accept().await?;
            ringio::spawn(async move {
                loop {
                    let (res, buf) = stream.read(Vec::with_capacity(4096)).await;
                    match res {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            let mut reply = name.to_vec();
                            reply.extend_from_slice(&buf);
                            if stream.write_all(reply).await.0.is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
}

fn proxy_sim(seed: u64) -> Sim {
    let mut sim = Sim::new(seed);
    sim.default_link(Link::new().latency(ms(2)).jitter(ms(1)));
    proxy(&mut sim);
    upstream(&mut sim, "127.0.6.10", b"A:");
    upstream(&mut sim, "127.0.6.11", b"B:");
    sim
}

async fn ask(stream: &TcpStream, what: &[u8], reply_len: usize) -> Vec<u8> {
    stream.write_all(what.to_vec()).await.0.unwrap();
    let (res, buf) = stream.read_exact(vec![0u8; reply_len]).await;
    res.unwrap();
    buf
}

#[test]
fn the_proxy_fails_over_when_an_upstream_is_partitioned() {
    ringio::sim::for_each_seed(20, |seed| {
        let mut sim = proxy_sim(seed);
        sim.run(CLIENT, || async {
            let stream = TcpStream::connect("127.0.6.1:80").await.unwrap();
            assert_eq!(ask(&stream, b"one", 5).await, b"A:one");
            ringio::sim::partition(PROXY, "127.0.6.10", Some(Duration::from_secs(60)));
            let stream = TcpStream::connect("127.0.6.1:80").await.unwrap();
            let t0 = ringio::sim::elapsed();
            assert_eq!(ask(&stream, b"two", 5).await, b"B:two");
            assert!(
                ringio::sim::elapsed() - t0 >= Duration::from_secs(2),
                "after A's connect timed out"
            );
            // Healed, new connections go to A again.
            ringio::time::sleep(Duration::from_secs(60)).await;
            let stream = TcpStream::connect("127.0.6.1:80").await.unwrap();
            assert_eq!(ask(&stream, b"three", 7).await, b"A:three");
        });
    });
}

#[test]
fn the_client_sees_a_reset_mid_stream() {
    ringio::sim::for_each_seed(20, |seed| {
        let mut sim = proxy_sim(seed);
        sim.run(CLIENT, || async {
            let stream = TcpStream::connect("127.0.6.1:80").await.unwrap();
            assert_eq!(ask(&stream, b"one", 5).await, b"A:one");
            ringio::sim::set_link(CLIENT, PROXY, Link::new().reset(1.0));
            stream.write_all(b"two".to_vec()).await.0.unwrap();
            let err = stream.read(Vec::with_capacity(16)).await.0.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionReset);
        });
    });
}

#[test]
fn an_upstream_crash_ends_the_clients_stream_and_a_restart_serves_again() {
    ringio::sim::for_each_seed(20, |seed| {
        let mut sim = proxy_sim(seed);
        sim.run(CLIENT, || async {
            let stream = TcpStream::connect("127.0.6.1:80").await.unwrap();
            assert_eq!(ask(&stream, b"one", 5).await, b"A:one");
            ringio::sim::crash("127.0.6.10");
            stream.write_all(b"lost".to_vec()).await.0.unwrap();
            let (res, _) = stream.read(Vec::with_capacity(16)).await;
            assert!(matches!(res, Ok(0)) || res.is_err(), "the stream ended: {res:?}");
            // Meanwhile new connections fail over to B; after the restart, A.
            let stream = TcpStream::connect("127.0.6.1:80").await.unwrap();
            assert_eq!(ask(&stream, b"two", 5).await, b"B:two");
            ringio::sim::restart("127.0.6.10");
            let stream = TcpStream::connect("127.0.6.1:80").await.unwrap();
            assert_eq!(ask(&stream, b"three", 7).await, b"A:three");
        });
    });
}

#[test]
fn idle_connections_time_out_in_virtual_time() {
    let mut sim = proxy_sim(1);
    sim.run(CLIENT, || async {
        let stream = TcpStream::connect("127.0.6.1:80").await.unwrap();
        assert_eq!(ask(&stream, b"one", 5).await, b"A:one");
        let quiet_since = ringio::sim::elapsed();
        let (res, _) = stream.read(Vec::with_capacity(16)).await;
        assert_eq!(res.unwrap(), 0, "the proxy closed the idle connection");
        let idle = ringio::sim::elapsed() - quiet_since;
        // The proxy's clock started when it read the request, a trip earlier.
        assert!(idle > IDLE - ms(20) && idle < IDLE + ms(20), "{idle:?}");
    });
}
