//! The simulated backend's faults, one kind per test: latency and jitter,
//! bandwidth, datagram loss, duplication and reordering, partitions that
//! heal, resets, short reads and writes, and host crashes with restart.

use ringio::net::{TcpListener, TcpStream, UdpSocket};
use ringio::sim::{Link, Sim};
use ringio::time::{sleep, timeout};
use std::io::ErrorKind;
use std::time::Duration;

const SERVER: &str = "127.0.2.1";
const CLIENT: &str = "127.0.2.2";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs `count` numbered datagrams from CLIENT to SERVER:53 over `link`
/// and returns the numbers the server received, in order.
fn udp_run(seed: u64, link: Link, count: u8) -> Vec<u8> {
    let mut sim = Sim::new(seed);
    sim.link(SERVER, CLIENT, link);
    sim.host(SERVER, move || async move {
        let sock = UdpSocket::bind("0.0.0.0:53")?;
        let mut got = Vec::new();
        while let Ok((res, buf)) = timeout(Duration::from_secs(10), sock.recv_from(vec![0u8; 8])).await {
            res?;
            got.push(buf[0]);
        }
        // Report back to the client over UDP, in one datagram.
        sock.send_to(got, "127.0.2.2:9".parse().unwrap()).await.0?;
        Ok(())
    });
    sim.run(CLIENT, move || async move {
        let report = UdpSocket::bind("0.0.0.0:9").unwrap();
        let tx = UdpSocket::bind("0.0.0.0:0").unwrap();
        for i in 0..count {
            tx.send_to(vec![i], "127.0.2.1:53".parse().unwrap()).await.0.unwrap();
            sleep(ms(1)).await;
        }
        // The report itself travels over a perfect link.
        ringio::sim::set_link(SERVER, CLIENT, Link::new());
        let (res, buf) = report.recv_from(vec![0u8; 1024]).await;
        let (n, _) = res.unwrap();
        buf[..n].to_vec()
    })
}

#[test]
fn latency_and_jitter_delay_in_virtual_time() {
    for seed in 0..20 {
        let mut sim = Sim::new(seed);
        sim.link(SERVER, CLIENT, Link::new().latency(ms(30)).jitter(ms(10)));
        sim.host(SERVER, || async {
            let listener = TcpListener::bind("0.0.0.0:1")?;
            let (stream, _) = listener.accept().await?;
            stream.write_all(vec![1u8; 10]).await.0
        });
        let took = sim.run(CLIENT, || async {
            let stream = TcpStream::connect("127.0.2.1:1").await.unwrap();
            let (res, _) = stream.read_exact(vec![0u8; 10]).await;
            res.unwrap();
            ringio::sim::elapsed()
        });
        // SYN, then SYN-ACK and data: two one-way trips of 30..=40 ms.
        assert!(took >= ms(60) && took <= ms(80), "seed {seed}: {took:?}");
    }
}

#[test]
fn bandwidth_limits_throughput() {
    let mut sim = Sim::new(1);
    sim.link(SERVER, CLIENT, Link::new().bandwidth(100_000));
    sim.host(SERVER, || async {
        let listener = TcpListener::bind("0.0.0.0:2")?;
        let (stream, _) = listener.accept().await?;
        stream.write_all(vec![1u8; 50_000]).await.0
    });
    let took = sim.run(CLIENT, || async {
        let stream = TcpStream::connect("127.0.2.1:2").await.unwrap();
        let (res, _) = stream.read_exact(vec![0u8; 50_000]).await;
        res.unwrap();
        ringio::sim::elapsed()
    });
    assert_eq!(took, ms(500), "50 kB at 100 kB/s");
}

#[test]
fn datagram_loss_drops_some() {
    let all = udp_run(2, Link::new(), 100);
    assert_eq!(all, (0..100).collect::<Vec<u8>>());
    let none = udp_run(2, Link::new().loss(1.0), 100);
    assert!(none.is_empty());
    let some = udp_run(2, Link::new().loss(0.3), 100);
    assert!(some.len() > 40 && some.len() < 95, "{}", some.len());
    assert!(some.windows(2).all(|w| w[0] < w[1]), "loss alone keeps order");
}

#[test]
fn datagram_duplication_delivers_twice() {
    let got = udp_run(3, Link::new().duplicate(1.0), 20);
    assert_eq!(got.len(), 40);
    for i in 0..20u8 {
        assert_eq!(got.iter().filter(|&&x| x == i).count(), 2);
    }
}

#[test]
fn datagram_reordering_lets_later_ones_overtake() {
    let got = udp_run(4, Link::new().latency(ms(5)).reorder(0.3), 100);
    let mut sorted = got.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..100).collect::<Vec<u8>>(), "nothing lost or duplicated");
    assert_ne!(got, sorted, "some arrived out of order");
}

#[test]
fn a_partition_holds_stream_bytes_until_it_heals_and_drops_datagrams() {
    let mut sim = Sim::new(5);
    sim.host(SERVER, || async {
        let listener = TcpListener::bind("0.0.0.0:3")?;
        let udp = UdpSocket::bind("0.0.0.0:53")?;
        let (stream, _) = listener.accept().await?;
        let (res, buf) = stream.read_exact(vec![0u8; 5]).await;
        res?;
        stream.write_all(buf).await.0?;
        // Count datagrams that got through.
        let mut n = 0u8;
        while timeout(Duration::from_secs(30), udp.recv_from(vec![0u8; 8]))
            .await
            .is_ok()
        {
            n += 1;
        }
        stream.write_all(vec![n]).await.0
    });
    sim.run(CLIENT, || async {
        let stream = TcpStream::connect("127.0.2.1:3").await.unwrap();
        ringio::sim::partition(SERVER, CLIENT, Some(Duration::from_secs(10)));
        stream.write_all(b"hello".to_vec()).await.0.unwrap();
        let udp = UdpSocket::bind("0.0.0.0:0").unwrap();
        udp.send_to(b"lost".to_vec(), "127.0.2.1:53".parse().unwrap())
            .await
            .0
            .unwrap();
        let (res, buf) = stream.read_exact(vec![0u8; 5]).await;
        res.unwrap();
        assert_eq!(buf, b"hello");
        let healed = ringio::sim::elapsed();
        assert!(healed >= Duration::from_secs(10), "{healed:?}");
        udp.send_to(b"through".to_vec(), "127.0.2.1:53".parse().unwrap())
            .await
            .0
            .unwrap();
        let (res, buf) = stream.read_exact(vec![0u8; 1]).await;
        res.unwrap();
        assert_eq!(buf, [1], "only the datagram sent after the heal arrived");
    });
}

#[test]
fn a_partition_that_never_heals_times_out() {
    let mut sim = Sim::new(6);
    sim.host(SERVER, || async {
        let _listener = TcpListener::bind("0.0.0.0:4")?;
        std::future::pending().await
    });
    sim.run(CLIENT, || async {
        ringio::sim::partition(SERVER, CLIENT, None);
        let err = TcpStream::connect("127.0.2.1:4").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert!(ringio::sim::elapsed() >= Duration::from_secs(31));
    });
}

#[test]
fn a_reset_fault_resets_both_ends() {
    let mut sim = Sim::new(7);
    sim.link(SERVER, CLIENT, Link::new().reset(1.0));
    sim.host(SERVER, || async {
        let listener = TcpListener::bind("0.0.0.0:5")?;
        let (stream, _) = listener.accept().await?;
        let (res, buf) = stream.read_exact(vec![0u8; 3]).await;
        res?;
        assert_eq!(buf, b"abc", "data before the reset arrives");
        let err = stream.read(Vec::with_capacity(8)).await.0.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset);
        Ok(())
    });
    sim.run(CLIENT, || async {
        let stream = TcpStream::connect("127.0.2.1:5").await.unwrap();
        stream.write_all(b"abc".to_vec()).await.0.unwrap();
        let err = stream.read(Vec::with_capacity(8)).await.0.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset);
        let err = stream.write(b"x".to_vec()).await.0.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe);
    });
}

#[test]
fn short_reads_and_writes_keep_every_byte() {
    let mut sim = Sim::new(8);
    sim.link(SERVER, CLIENT, Link::new().short_io(1.0));
    sim.host(SERVER, || async {
        let listener = TcpListener::bind("0.0.0.0:6")?;
        let (stream, _) = listener.accept().await?;
        let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        stream.write_all(data).await.0
    });
    let (reads, bytes) = sim.run(CLIENT, || async {
        let stream = TcpStream::connect("127.0.2.1:6").await.unwrap();
        let (mut reads, mut bytes) = (0, Vec::new());
        loop {
            let (res, buf) = stream.read(Vec::with_capacity(4096)).await;
            match res.unwrap() {
                0 => break,
                _ => {
                    reads += 1;
                    bytes.extend_from_slice(&buf);
                }
            }
        }
        (reads, bytes)
    });
    assert_eq!(bytes, (0..10_000u32).map(|i| i as u8).collect::<Vec<u8>>());
    assert!(reads > 3, "reads were cut short: {reads}");
}

#[test]
fn a_host_crash_resets_its_connections_and_a_restart_serves_again() {
    let mut sim = Sim::new(9);
    sim.link(SERVER, CLIENT, Link::new().latency(ms(1)));
    sim.host(SERVER, || async {
        let listener = TcpListener::bind("0.0.0.0:7")?;
        loop {
            let (stream, _) = listener.accept().await?;
            ringio::spawn(async move {
                let _ = stream.write_all(b"hi".to_vec()).await;
                std::future::pending::<()>().await;
            });
        }
    });
    sim.run(CLIENT, || async {
        let stream = TcpStream::connect("127.0.2.1:7").await.unwrap();
        let (res, _) = stream.read_exact(vec![0u8; 2]).await;
        res.unwrap();
        ringio::sim::crash(SERVER);
        let err = stream.read(Vec::with_capacity(8)).await.0.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset);
        // A crashed host answers nothing: the connect waits in retries...
        let retrying = ringio::spawn(async { TcpStream::connect("127.0.2.1:7").await });
        sleep(ms(1500)).await;
        assert!(!retrying.is_finished());
        // ...and gets through once the host is back.
        ringio::sim::restart(SERVER);
        let again = retrying.await.unwrap().unwrap();
        let (res, buf) = again.read_exact(vec![0u8; 2]).await;
        res.unwrap();
        assert_eq!(buf, b"hi");
    });
}

/// How long a connect from `client` to a server behind a slow host link
/// takes, with a faster link of its own between the server and 127.0.2.3.
fn connect_time(client: &str) -> Duration {
    let mut sim = Sim::new(10);
    sim.host_link(SERVER, Link::new().latency(ms(50)));
    sim.link(SERVER, "127.0.2.3", Link::new().latency(ms(5)));
    sim.host(SERVER, || async {
        let listener = TcpListener::bind("0.0.0.0:8")?;
        loop {
            drop(listener.accept().await?);
        }
    });
    sim.run(client, || async {
        let _stream = TcpStream::connect("127.0.2.1:8").await.unwrap();
        ringio::sim::elapsed()
    })
}

#[test]
fn a_host_link_applies_to_all_its_paths_unless_a_pair_has_its_own() {
    assert_eq!(connect_time(CLIENT), ms(100), "the host's link, both ways");
    assert_eq!(connect_time("127.0.2.3"), ms(10), "the pair's own link");
}

#[test]
fn a_partition_during_the_handshake_delays_the_connect() {
    let mut sim = Sim::new(11);
    sim.link(SERVER, CLIENT, Link::new().latency(ms(100)));
    sim.host(SERVER, || async {
        let listener = TcpListener::bind("0.0.0.0:9")?;
        let (_stream, _) = listener.accept().await?;
        std::future::pending().await
    });
    sim.run(CLIENT, || async {
        ringio::spawn(async {
            // The SYN is through; its answer is on the way when the cut comes.
            sleep(ms(150)).await;
            ringio::sim::partition(SERVER, CLIENT, Some(ms(2000)));
        });
        let _stream = TcpStream::connect("127.0.2.1:9").await.unwrap();
        // The SYN-ACK sent again 1 s after the lost one is lost too; the
        // one after another 2 s gets through.
        assert_eq!(ringio::sim::elapsed(), ms(200 + 1000 + 2000));
    });
}
