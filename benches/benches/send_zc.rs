//! Zero-copy against copying sends, by size: `TcpStream::write_all_zc`
//! (`IORING_OP_SEND_ZC`) against `write_all` (`SEND`), over loopback to a
//! peer thread that reads and discards. One iteration is one buffer sent
//! (criterion reports bytes/s).
//!
//! On loopback the kernel copies zero-copy sends after all (the receive
//! path cannot keep the sender's pages; `Stats::zc_copied` counts it), so
//! this measures what zero-copy costs here, its second completion and
//! page pinning, not what it saves on a NIC. It is the lower bound the
//! size threshold in `docs/performance.md` is chosen against.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ringio::net::TcpStream;
use std::io::Read;
use std::time::{Duration, Instant};

const SIZES: [usize; 5] = [4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20];

fn connected(rt: &ringio::Runtime) -> TcpStream {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut peer, _) = listener.accept().unwrap();
        let mut sink = vec![0u8; 1 << 20];
        while peer.read(&mut sink).is_ok_and(|n| n > 0) {}
    });
    rt.block_on(TcpStream::connect(addr)).expect("connect")
}

fn sends(c: &mut Criterion) {
    let rt = ringio::Runtime::new().expect("ringio runtime");
    let stream = connected(&rt);
    let mut g = c.benchmark_group("send_by_size");
    for size in SIZES {
        g.throughput(Throughput::Bytes(size as u64));
        for zc in [false, true] {
            let id = BenchmarkId::new(if zc { "send_zc" } else { "send" }, size);
            g.bench_with_input(id, &size, |b, &size| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let mut buf = vec![0x5au8; size];
                        let start = Instant::now();
                        for _ in 0..iters {
                            let (res, back) = if zc {
                                stream.write_all_zc(buf).await
                            } else {
                                stream.write_all(buf).await
                            };
                            res.expect("send");
                            buf = back;
                        }
                        start.elapsed()
                    })
                })
            });
        }
    }
    g.finish();
    let stats = rt.stats();
    eprintln!(
        "zero-copy sends: {}, copied by the kernel: {}",
        stats.zc_sends, stats.zc_copied
    );
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = sends
}
criterion_main!(benches);
