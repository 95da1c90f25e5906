//! The hosted reactor's life inside tokio: it starts on first use in each
//! runtime, serves both flavours, survives its runtime being dropped with
//! operations in flight (a fresh runtime on the same thread gets a fresh
//! reactor), and carries operations that other threads submit for its
//! descriptors.

use ringio_compat::net::{TcpListener, TcpStream};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn expected_backend() -> Option<ringio::Backend> {
    match std::env::var("RINGIO_BACKEND").as_deref() {
        Ok("epoll") => Some(ringio::Backend::Epoll),
        Ok("uring") => Some(ringio::Backend::IoUring),
        _ => None,
    }
}

async fn echo_once() {
    if let Some(expected) = expected_backend() {
        assert_eq!(ringio_compat::backend().unwrap(), expected);
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            s.write_all(&buf[..n]).await.unwrap();
        }
    });
    let mut c = TcpStream::connect(addr).await.unwrap();
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let (mut r, mut w) = c.split();
    let send = async {
        w.write_all(&payload).await.unwrap();
        w.shutdown().await.unwrap();
    };
    let mut got = Vec::new();
    let recv = async { r.read_to_end(&mut got).await.unwrap() };
    tokio::join!(send, recv);
    assert_eq!(got, payload);
    server.await.unwrap();
}

#[test]
fn echo_on_both_flavours() {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(echo_once());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(echo_once());
}

#[test]
fn runtime_dropped_with_reads_pending_then_a_new_one_works() {
    for _ in 0..3 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (listener, client) = rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            (listener, client)
        });
        // A read that never completes, left in flight when the runtime goes.
        rt.spawn(async move {
            let mut client = client;
            let mut buf = [0u8; 16];
            let _ = client.read(&mut buf).await;
        });
        rt.block_on(async { tokio::time::sleep(Duration::from_millis(5)).await });
        drop(rt);
        drop(listener);
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(echo_once());
}

#[test]
fn streams_moved_between_worker_threads_keep_working() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let (mut r, mut w) = s.into_split();
            // The halves run as separate tasks, wherever the scheduler puts them.
            tokio::spawn(async move { tokio::io::copy(&mut r, &mut w).await.unwrap() })
                .await
                .unwrap()
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        for round in 0..200u32 {
            let msg = [round as u8; 100];
            c.write_all(&msg).await.unwrap();
            // Give the scheduler a chance to move this task to the other worker.
            tokio::task::yield_now().await;
            let mut back = [0u8; 100];
            c.read_exact(&mut back).await.unwrap();
            assert_eq!(back, msg, "round {round}");
        }
        drop(c);
        server.await.unwrap();
    });
}
