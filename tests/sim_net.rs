//! The simulated backend's network: streams, listeners, datagrams, the
//! virtual clock and the close semantics, each in a deterministic run.

use ringio::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};
use ringio::sim::{Link, Sim};
use ringio::time::{sleep, timeout};
use std::io::ErrorKind;
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::time::Duration;

const SERVER: &str = "127.0.1.1";
const CLIENT: &str = "127.0.1.2";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// An echo server on `SERVER:7`.
fn echo(sim: &mut Sim) -> &mut Sim {
    sim.host(SERVER, || async {
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
    })
}

#[test]
fn runs_on_the_sim_backend_with_real_descriptor_numbers() {
    Sim::new(1).run(CLIENT, || async {
        assert_eq!(ringio::runtime::backend(), Some(ringio::Backend::Sim));
        let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
        assert!(sock.as_raw_fd() >= 0);
        assert_eq!(sock.local_addr().unwrap().ip().to_string(), CLIENT);
        sock.close().await.unwrap();
        assert_eq!(sock.as_raw_fd(), -1);
    });
}

#[test]
fn stream_round_trip_takes_the_link_latency_in_virtual_time() {
    let mut sim = Sim::new(2);
    echo(&mut sim).link(SERVER, CLIENT, Link::new().latency(ms(10)));
    let (reply, took, peer, local) = sim.run(CLIENT, || async {
        let stream = TcpStream::connect("127.0.1.1:7").await.unwrap();
        let connected = ringio::sim::elapsed();
        assert_eq!(connected, ms(20)); // SYN and SYN-ACK
        stream.write_all(b"ping".to_vec()).await.0.unwrap();
        let (res, buf) = stream.read_exact(vec![0; 4]).await;
        res.unwrap();
        (
            buf,
            ringio::sim::elapsed() - connected,
            stream.peer_addr().unwrap(),
            stream.local_addr().unwrap(),
        )
    });
    assert_eq!(reply, b"ping");
    assert_eq!(took, ms(20));
    assert_eq!(peer.to_string(), "127.0.1.1:7");
    assert_eq!(local.ip().to_string(), CLIENT);
    assert!(local.port() >= 32768);
}

#[test]
fn connect_without_listener_is_refused() {
    let mut sim = Sim::new(3);
    sim.host(SERVER, || async { Ok(()) });
    let err = sim.run(CLIENT, || async {
        TcpStream::connect("127.0.1.1:9").await.unwrap_err()
    });
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn binding_a_taken_address_fails_and_port_zero_is_ephemeral() {
    Sim::new(4).run(SERVER, || async {
        let a = TcpListener::bind("127.0.1.1:80").unwrap();
        let err = TcpListener::bind("0.0.0.0:80").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse);
        let b = TcpListener::bind("127.0.1.1:0").unwrap();
        let c = TcpListener::bind("127.0.1.1:0").unwrap();
        assert_ne!(b.local_addr().unwrap(), c.local_addr().unwrap());
        let other = TcpListener::bind("127.0.9.9:80").unwrap_err();
        assert_eq!(other.kind(), ErrorKind::AddrNotAvailable);
        // Closing frees the address.
        a.close().await.unwrap();
        TcpListener::bind("127.0.1.1:80").unwrap();
    });
}

#[test]
fn a_full_queue_is_backpressure_not_memory() {
    let mut sim = Sim::new(5);
    sim.stream_buffer(1000);
    sim.run(CLIENT, || async {
        let listener = TcpListener::bind("0.0.0.0:1").unwrap();
        let client = TcpStream::connect("127.0.1.2:1").await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let mut sent = 0;
        loop {
            match client.try_write(&[7u8; 300]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(sent, 1000, "the window is the queue size");
        // A write waits while the queue is full...
        let blocked = timeout(Duration::from_secs(60), client.write(vec![1u8; 10])).await;
        assert!(blocked.is_err());
        // ...and goes on once the reader makes room.
        let (n, _) = server.read(Vec::with_capacity(400)).await;
        assert_eq!(n.unwrap(), 400);
        let (n, _) = client.write(vec![1u8; 1000]).await;
        assert_eq!(n.unwrap(), 400);
    });
}

#[test]
fn half_close_delivers_end_of_stream_and_keeps_the_other_way_open() {
    Sim::new(6).run(CLIENT, || async {
        let listener = TcpListener::bind("0.0.0.0:2").unwrap();
        let client = TcpStream::connect("127.0.1.2:2").await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        client.write_all(b"request".to_vec()).await.0.unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let (res, buf) = server.read_exact(vec![0; 7]).await;
        res.unwrap();
        assert_eq!(buf, b"request");
        let (n, _) = server.read(Vec::with_capacity(8)).await;
        assert_eq!(n.unwrap(), 0, "end of stream after the shutdown");
        server.write_all(b"reply".to_vec()).await.0.unwrap();
        let (res, buf) = client.read_exact(vec![0; 5]).await;
        res.unwrap();
        assert_eq!(buf, b"reply");
        let err = client.write(b"more".to_vec()).await.0.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe);
    });
}

#[test]
fn closing_with_unread_bytes_resets_the_peer() {
    Sim::new(7).run(CLIENT, || async {
        let listener = TcpListener::bind("0.0.0.0:3").unwrap();
        let client = TcpStream::connect("127.0.1.2:3").await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        client.write_all(b"unread".to_vec()).await.0.unwrap();
        sleep(ms(1)).await;
        server.close().await.unwrap();
        let err = client.read(Vec::with_capacity(8)).await.0.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset);
        let err = client.write(b"x".to_vec()).await.0.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe);
    });
}

#[test]
fn writing_to_a_closed_peer_ends_in_a_reset() {
    Sim::new(8).run(CLIENT, || async {
        let listener = TcpListener::bind("0.0.0.0:4").unwrap();
        let client = TcpStream::connect("127.0.1.2:4").await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        drop(server);
        let (n, _) = client.read(Vec::with_capacity(8)).await;
        assert_eq!(n.unwrap(), 0, "FIN first");
        // The first write is accepted; the peer answers it with RST.
        client.write(b"late".to_vec()).await.0.unwrap();
        sleep(ms(1)).await;
        let err = client.write(b"later".to_vec()).await.0.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset);
        let err = client.write(b"again".to_vec()).await.0.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe);
    });
}

#[test]
fn the_backlog_limit_holds_connections_back() {
    let mut sim = Sim::new(9);
    sim.somaxconn(2);
    sim.run(CLIENT, || async {
        let listener = TcpListener::bind("0.0.0.0:5").unwrap();
        let a = TcpStream::connect("127.0.1.2:5").await.unwrap();
        let b = TcpStream::connect("127.0.1.2:5").await.unwrap();
        // The third SYN is dropped while the backlog is full...
        let third = ringio::spawn(async { TcpStream::connect("127.0.1.2:5").await });
        sleep(ms(500)).await;
        assert!(!third.is_finished());
        // ...and its retransmission (after 1 s) gets in once there is room.
        let _first = listener.accept().await.unwrap();
        let c = third.await.unwrap().unwrap();
        assert_eq!(ringio::sim::elapsed(), Duration::from_secs(1));
        // With nobody accepting, a connect times out after its retries.
        let d = TcpStream::connect("127.0.1.2:5").await.unwrap_err();
        assert_eq!(d.kind(), ErrorKind::TimedOut);
        drop((a, b, c));
    });
}

#[test]
fn datagrams_queue_whole_and_bounded() {
    let mut sim = Sim::new(10);
    sim.datagram_queue(4);
    sim.run(CLIENT, || async {
        let a = UdpSocket::bind("0.0.0.0:0").unwrap();
        let b = UdpSocket::bind("127.0.1.2:53").unwrap();
        let to = b.local_addr().unwrap();
        for i in 0..10u8 {
            a.send_to(vec![i; 100], to).await.0.unwrap();
        }
        sleep(ms(1)).await;
        let mut got = Vec::new();
        let mut buf = [0u8; 50];
        loop {
            match b.try_recv_from(&mut buf) {
                Ok((n, from)) => {
                    assert_eq!(from, a.local_addr().unwrap());
                    got.push((n, buf[0]));
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        // Four fit; each truncated to the buffer, in order.
        assert_eq!(got, vec![(50, 0), (50, 1), (50, 2), (50, 3)]);
        a.connect(to).unwrap();
        a.send(b"connected".to_vec()).await.0.unwrap();
        let (res, buf) = b.recv_from(vec![0u8; 64]).await;
        let (n, from) = res.unwrap();
        assert_eq!((&buf[..n], from), (&b"connected"[..], a.local_addr().unwrap()));
    });
}

#[test]
fn an_hour_of_sleep_takes_no_time_and_timers_are_exact() {
    Sim::new(11).run(CLIENT, || async {
        let start = ringio::time::now();
        sleep(Duration::from_secs(3600)).await;
        assert_eq!(ringio::time::now() - start, Duration::from_secs(3600));
        let mut iv = ringio::time::interval(Duration::from_secs(60));
        for _ in 0..4 {
            iv.tick().await;
        }
        assert_eq!(ringio::sim::elapsed(), Duration::from_secs(3600 + 180));
        let never = std::future::pending::<()>();
        assert!(timeout(Duration::from_secs(30), never).await.is_err());
        assert_eq!(ringio::sim::elapsed(), Duration::from_secs(3600 + 210));
    });
}

#[test]
fn a_read_deadline_fires_in_virtual_time() {
    let mut sim = Sim::new(12);
    sim.host(SERVER, || async {
        let listener = TcpListener::bind("0.0.0.0:6")?;
        let (_silent, _) = listener.accept().await?;
        std::future::pending().await
    });
    sim.run(CLIENT, || async {
        let stream = TcpStream::connect("127.0.1.1:6").await.unwrap();
        let t0 = ringio::sim::elapsed();
        let read = timeout(Duration::from_secs(5), stream.read(Vec::with_capacity(8))).await;
        assert!(read.is_err());
        assert_eq!(ringio::sim::elapsed() - t0, Duration::from_secs(5));
    });
}

#[test]
fn close_ends_pending_operations_with_closed() {
    Sim::new(13).run(CLIENT, || async {
        let listener = std::rc::Rc::new(TcpListener::bind("0.0.0.0:8").unwrap());
        let client = std::rc::Rc::new(TcpStream::connect("127.0.1.2:8").await.unwrap());
        let (_server, _) = listener.accept().await.unwrap();
        let reader = {
            let client = client.clone();
            ringio::spawn(async move { client.read(Vec::with_capacity(8)).await.0 })
        };
        let acceptor = {
            let listener = listener.clone();
            ringio::spawn(async move { listener.accept().await.map(drop) })
        };
        sleep(ms(1)).await;
        client.close().await.unwrap();
        listener.close().await.unwrap();
        let err = reader.await.unwrap().unwrap_err();
        assert!(ringio::Error::is_closed(&err), "{err}");
        let err = acceptor.await.unwrap().unwrap_err();
        assert!(ringio::Error::is_closed(&err), "{err}");
        let err = client.write(b"x".to_vec()).await.0.unwrap_err();
        assert!(ringio::Error::is_closed(&err), "{err}");
    });
}

#[test]
fn files_stay_real() {
    let dir = std::env::temp_dir().join(format!("ringio-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("f");
    let back = Sim::new(14).run(CLIENT, || {
        let path = path.clone();
        async move {
            ringio::fs::write(&path, b"on disk".to_vec()).await.unwrap();
            ringio::fs::read(&path).await.unwrap()
        }
    });
    assert_eq!(back, b"on disk");
    assert_eq!(std::fs::read(&path).unwrap(), b"on disk");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn chosen_with_the_builder_it_serves_127_0_0_1() {
    let rt = ringio::Runtime::builder()
        .backend(ringio::Backend::Sim)
        .build()
        .unwrap();
    assert_eq!(rt.backend(), ringio::Backend::Sim);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        server.write_all(b"ok".to_vec()).await.0.unwrap();
        let (res, buf) = client.read_exact(vec![0; 2]).await;
        res.unwrap();
        assert_eq!(buf, b"ok");
        let start = ringio::time::now();
        sleep(Duration::from_secs(86_400)).await;
        assert_eq!(ringio::time::now() - start, Duration::from_secs(86_400));
    });
}

#[test]
fn a_dropped_write_all_still_sends_everything() {
    let mut sim = Sim::new(15);
    sim.stream_buffer(1000);
    sim.run(CLIENT, || async {
        let listener = TcpListener::bind("0.0.0.0:9").unwrap();
        let client = TcpStream::connect("127.0.1.2:9").await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        // Dropped while the queue is full: the rest goes in the background.
        assert!(timeout(ms(1), client.write_all(data.clone())).await.is_err());
        // A later write queues behind the remainder.
        let client = std::rc::Rc::new(client);
        let after = {
            let client = client.clone();
            ringio::spawn(async move { client.write_all(b"after".to_vec()).await.0 })
        };
        let (res, buf) = server.read_exact(vec![0; 20_005]).await;
        after.await.unwrap().unwrap();
        res.unwrap();
        assert_eq!(&buf[..20_000], &data[..]);
        assert_eq!(&buf[20_000..], b"after");
    });
}

#[test]
fn tcp_socket_binds_listens_with_its_backlog_and_connects_from_its_address() {
    Sim::new(16).run(CLIENT, || async {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind("0.0.0.0:70".parse().unwrap()).unwrap();
        assert_eq!(socket.local_addr().unwrap().to_string(), "127.0.1.2:70");
        let listener = socket.listen(1).unwrap();
        assert_eq!(listener.local_addr().unwrap().to_string(), "127.0.1.2:70");
        let first = TcpStream::connect("127.0.1.2:70").await.unwrap();
        // Backlog 1: the second waits for its SYN's retransmission.
        let second = ringio::spawn(async { TcpStream::connect("127.0.1.2:70").await });
        sleep(ms(100)).await;
        assert!(!second.is_finished());
        let (_a, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, first.local_addr().unwrap());
        let _second = second.await.unwrap().unwrap();
        let (_b, _) = listener.accept().await.unwrap();

        let client = TcpSocket::new_v4().unwrap();
        client.bind("127.0.1.2:4000".parse().unwrap()).unwrap();
        let stream = client.connect("127.0.1.2:70".parse().unwrap()).await.unwrap();
        assert_eq!(stream.local_addr().unwrap().to_string(), "127.0.1.2:4000");
        // A socket dropped before use frees its address.
        let unused = TcpSocket::new_v4().unwrap();
        unused.bind("127.0.1.2:4001".parse().unwrap()).unwrap();
        drop(unused);
        let again = TcpSocket::new_v4().unwrap();
        again.bind("127.0.1.2:4001".parse().unwrap()).unwrap();
    });
}

/// The example of `docs/simulation.md`, verbatim but for the names.
mod guide {
    use ringio::net::{TcpListener, TcpStream};
    use ringio::sim::{Link, Sim};
    use std::time::Duration;

    /// The server under test: echoes each connection's bytes.
    async fn serve(addr: &str) -> std::io::Result<()> {
        let listener = TcpListener::bind(addr)?;
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
    }

    #[test]
    fn echo_survives_a_bad_network() {
        ringio::sim::for_each_seed(100, |seed| {
            let mut sim = Sim::new(seed);
            sim.host("127.0.1.1", || serve("0.0.0.0:7"));
            sim.link(
                "127.0.1.1",
                "127.0.1.2",
                Link::new()
                    .latency(Duration::from_millis(20))
                    .jitter(Duration::from_millis(10))
                    .short_io(0.3),
            );
            let reply = sim.run("127.0.1.2", || async {
                let stream = TcpStream::connect("127.0.1.1:7").await.unwrap();
                // A partition for the next five seconds: bytes wait, then arrive.
                ringio::sim::partition("127.0.1.1", "127.0.1.2", Some(Duration::from_secs(5)));
                stream.write_all(b"hello".to_vec()).await.0.unwrap();
                let (res, buf) = stream.read_exact(vec![0; 5]).await;
                res.unwrap();
                assert!(ringio::sim::elapsed() >= Duration::from_secs(5));
                buf
            });
            assert_eq!(reply, b"hello");
        });
    }
}

#[test]
fn reads_cut_short_by_timeouts_lose_nothing() {
    let mut sim = Sim::new(17);
    sim.link(SERVER, CLIENT, Link::new().latency(ms(3)).jitter(ms(3)).short_io(0.5));
    sim.host(SERVER, || async {
        let listener = TcpListener::bind("0.0.0.0:11")?;
        let (stream, _) = listener.accept().await?;
        for i in 0..200u32 {
            let chunk: Vec<u8> = (0..500u32).map(|j| ((i * 500 + j) % 253) as u8).collect();
            stream.write_all(chunk).await.0?;
            if i % 7 == 0 {
                sleep(ms(5)).await;
            }
        }
        Ok(())
    });
    let got = sim.run(CLIENT, || async {
        let stream = TcpStream::connect("127.0.1.1:11").await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 700];
        loop {
            // Alternate the owned-buffer read (dropped by short timeouts)
            // with the readiness + try_read path of poll-style adapters.
            if got.len() % 2 == 0 {
                match timeout(ms(1), stream.read(Vec::with_capacity(700))).await {
                    Err(_) => continue,
                    Ok((res, b)) => match res.unwrap() {
                        0 => break,
                        _ => got.extend_from_slice(&b),
                    },
                }
            } else {
                stream.readable().await.unwrap();
                match stream.try_read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => panic!("{e}"),
                }
            }
        }
        got
    });
    let want: Vec<u8> = (0..100_000u32).map(|k| (k % 253) as u8).collect();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "bytes lost, duplicated or reordered");
}

#[test]
fn a_run_that_never_ends_hits_the_time_limit() {
    let stuck = std::panic::catch_unwind(|| {
        let mut sim = Sim::new(18);
        sim.time_limit(Duration::from_secs(3600));
        sim.run(CLIENT, || async {
            let mut tick = ringio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
            }
        })
    });
    let message = stuck.unwrap_err();
    let message = message.downcast_ref::<String>().expect("a formatted panic");
    assert!(
        message.contains("time limit") && message.contains("seed 18"),
        "{message}"
    );
}

#[test]
fn a_deadlock_panics_with_the_seed_instead_of_hanging() {
    let stuck = std::panic::catch_unwind(|| {
        Sim::new(19).run(CLIENT, || async {
            let listener = TcpListener::bind("0.0.0.0:12").unwrap();
            let _ = listener.accept().await; // nobody connects
        })
    });
    let message = stuck.unwrap_err();
    let message = message.downcast_ref::<String>().expect("a formatted panic");
    assert!(
        message.contains("deadlock") && message.contains("RINGIO_SIM_SEED=19"),
        "{message}"
    );
}

/// Run by `ringio_backend_sim_selects_the_simulator` in a child process
/// with `RINGIO_BACKEND=sim` (alone, it checks nothing).
#[test]
fn env_child() {
    if std::env::var_os("RINGIO_SIM_ENV_CHILD").is_none() {
        return;
    }
    let rt = ringio::Runtime::new().unwrap();
    assert_eq!(rt.backend(), ringio::Backend::Sim);
    let port = rt.block_on(async { TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port() });
    // The seed (RINGIO_SIM_SEED) picks the ephemeral port.
    println!("port={port}");
}

#[test]
fn ringio_backend_sim_selects_the_simulator() {
    let run = |seed: &str| {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "env_child", "--nocapture", "--test-threads=1"])
            .env("RINGIO_SIM_ENV_CHILD", "1")
            .env("RINGIO_BACKEND", "sim")
            .env("RINGIO_SIM_SEED", seed)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let at = stdout.find("port=").expect("the child printed its port");
        stdout[at..].split_whitespace().next().unwrap().to_owned()
    };
    assert_eq!(run("7"), run("7"), "the same seed, the same port");
    assert_ne!(run("7"), run("8"));
}
