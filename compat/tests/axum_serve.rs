//! An axum application served by `axum::serve` on compat listeners (the
//! `axum` feature's `Listener` impls), with compat streams on the client
//! side too: routes with path parameters, request bodies up to 1 MiB echoed
//! back, streamed responses, `ConnectInfo` through `tap_io`, 32 clients at
//! once over HTTP/1.1 and HTTP/2; graceful shutdown that stops accepting and
//! still finishes every request in flight; a Unix socket; and a drop storm
//! on `Listener::accept` that must lose no connection.

mod common;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, State};
use axum::routing::{get, post};
use axum::serve::{Listener, ListenerExt};
use axum::Router;
use common::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use common::{assert_bytes, flavours, joined, payload, scaled, seed, TempPath, XorShift};
use futures_util::stream;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1 as client1, http2 as client2};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::future::{poll_fn, Future, IntoFuture};
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{oneshot, Semaphore};
use tokio::task::JoinSet;

/// Clients at once in the concurrency test.
const CLIENTS: usize = 32;
/// Requests held in flight across the graceful shutdown.
const IN_FLIGHT: usize = 8;
/// The largest request body.
const MIB: usize = 1 << 20;

/// What the `/slow` handler shares with the test: a permit per request that
/// has arrived, and the permits that let them answer.
#[derive(Clone)]
struct Gate {
    arrived: Arc<Semaphore>,
    release: Arc<Semaphore>,
}

impl Gate {
    fn new() -> Gate {
        Gate {
            arrived: Arc::new(Semaphore::new(0)),
            release: Arc::new(Semaphore::new(0)),
        }
    }
}

/// `count` chunks of a seeded payload, one per poll with a yield in between,
/// so the response goes out as a stream of frames.
fn streamed(seed: u64, count: usize) -> Body {
    let chunks = stream::unfold(0, move |i| async move {
        if i == count {
            return None;
        }
        tokio::task::yield_now().await;
        let chunk = Bytes::from(payload(seed + i as u64, 1000 + i));
        Some((Ok::<_, std::convert::Infallible>(chunk), i + 1))
    });
    Body::from_stream(chunks)
}

/// What `/stream/{seed}/{count}` sends.
fn streamed_bytes(seed: u64, count: usize) -> Vec<u8> {
    (0..count).flat_map(|i| payload(seed + i as u64, 1000 + i)).collect()
}

fn app(gate: Gate) -> Router {
    Router::new()
        .route(
            "/users/{user}/posts/{post}",
            get(|Path((user, post)): Path<(u32, String)>| async move { format!("user {user}, post {post}") }),
        )
        .route("/echo", post(|body: Bytes| async move { body }))
        .route(
            "/stream/{seed}/{count}",
            get(|Path((seed, count)): Path<(u64, usize)>| async move { streamed(seed, count) }),
        )
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
        .route(
            "/slow",
            get(|State(gate): State<Gate>| async move {
                gate.arrived.add_permits(1);
                gate.release.acquire().await.unwrap().forget();
                "released"
            }),
        )
        .with_state(gate)
}

/// Serves [`app`] on a compat TCP listener until `shutdown` fires; the
/// handle's output is `axum::serve`'s.
async fn serve(
    gate: Gate,
    shutdown: oneshot::Receiver<()>,
) -> (SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // `tap_io` is what gives `ConnectInfo<SocketAddr>` for a listener that is
    // not axum's own.
    let listener = listener.tap_io(|stream| stream.set_nodelay(true).expect("TCP_NODELAY"));
    let service = app(gate).into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, service).with_graceful_shutdown(async {
        let _ = shutdown.await;
    });
    (addr, tokio::spawn(server.into_future()))
}

/// A client connection over a compat stream, HTTP/1.1 or HTTP/2.
enum Client {
    Http1(client1::SendRequest<Full<Bytes>>),
    Http2(client2::SendRequest<Full<Bytes>>),
}

impl Client {
    async fn connect<S>(stream: S, http2: bool) -> Client
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let io = TokioIo::new(stream);
        if http2 {
            let (send, conn) = client2::handshake(TokioExecutor::new(), io).await.unwrap();
            tokio::spawn(conn);
            Client::Http2(send)
        } else {
            let (send, conn) = client1::handshake(io).await.unwrap();
            tokio::spawn(conn);
            Client::Http1(send)
        }
    }

    /// Sends a request; the status, the headers' `transfer-encoding`, and the body.
    async fn request(&mut self, method: Method, path: &str, body: Vec<u8>) -> (StatusCode, Option<String>, Vec<u8>) {
        let request = Request::builder()
            .method(method)
            .uri(format!("http://localhost{path}"))
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        // hyper takes a request only once the connection is ready for one:
        // after a response's body has been read, the connection task must
        // still run before an HTTP/1 connection takes the next request
        // (without waiting, `send_request` can fail with "connection was
        // not ready", whichever I/O types are underneath).
        let response = match self {
            Client::Http1(send) => {
                send.ready().await.unwrap();
                send.send_request(request).await
            }
            Client::Http2(send) => {
                send.ready().await.unwrap();
                send.send_request(request).await
            }
        }
        .unwrap();
        let status = response.status();
        let encoding = response
            .headers()
            .get(hyper::header::TRANSFER_ENCODING)
            .map(|v| v.to_str().unwrap().to_string());
        let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        (status, encoding, body)
    }
}

/// One client's session on a keep-alive connection: path parameters, an
/// echoed body (client 0 sends exactly 1 MiB), a streamed response, and its
/// own address through `ConnectInfo`.
async fn session(addr: SocketAddr, id: usize) {
    let http2 = id % 2 == 1;
    let stream = TcpStream::connect(addr).await.unwrap();
    let local = stream.local_addr().unwrap();
    let mut client = Client::connect(stream, http2).await;
    let mut rng = XorShift::new(id as u64);

    for post in ["first", "second-post", "3"] {
        let (status, _, body) = client
            .request(Method::GET, &format!("/users/{id}/posts/{post}"), Vec::new())
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(String::from_utf8(body).unwrap(), format!("user {id}, post {post}"));
    }
    let (status, _, _) = client
        .request(Method::GET, "/users/not-a-number/posts/1", Vec::new())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a path parameter that does not parse");

    let len = if id == 0 { MIB } else { rng.range(0, MIB) };
    let sent = payload(rng.next_u64(), len);
    let (status, _, echoed) = client.request(Method::POST, "/echo", sent.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_bytes(&echoed, &sent, "echoed body");

    let (stream_seed, count) = (rng.next_u64() >> 1, rng.range(1, 64));
    let (status, encoding, body) = client
        .request(Method::GET, &format!("/stream/{stream_seed}/{count}"), Vec::new())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_bytes(&body, &streamed_bytes(stream_seed, count), "streamed body");
    if !http2 {
        assert_eq!(
            encoding.as_deref(),
            Some("chunked"),
            "a streamed HTTP/1.1 response is chunked"
        );
    }

    let (status, _, body) = client.request(Method::GET, "/peer", Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        local.to_string(),
        "ConnectInfo is the client's address"
    );
}

#[test]
fn routes_bodies_and_streams_for_many_clients_at_once() {
    flavours(|| async {
        let (stop, shutdown) = oneshot::channel();
        let (addr, server) = serve(Gate::new(), shutdown).await;
        let mut clients = JoinSet::new();
        for id in 0..CLIENTS {
            clients.spawn(session(addr, id));
        }
        while let Some(done) = clients.join_next().await {
            joined(done);
        }
        stop.send(()).unwrap();
        joined(server.await).unwrap();
    });
}

#[test]
fn graceful_shutdown_stops_accepting_and_drains_requests_in_flight() {
    flavours(|| async {
        let gate = Gate::new();
        let (stop, shutdown) = oneshot::channel();
        let (addr, server) = serve(gate.clone(), shutdown).await;
        let mut in_flight = JoinSet::new();
        for id in 0..IN_FLIGHT {
            in_flight.spawn(async move {
                let mut client = Client::connect(TcpStream::connect(addr).await.unwrap(), id % 2 == 1).await;
                client.request(Method::GET, "/slow", Vec::new()).await
            });
        }
        // Every request is in its handler before the shutdown starts.
        gate.arrived.acquire_many(IN_FLIGHT as u32).await.unwrap().forget();
        stop.send(()).unwrap();

        // axum drops the listener once it has seen the signal: from then on a
        // connection is refused. A connect that still gets through (the
        // signal not seen yet) is closed again without a request; one that
        // reached the backlog as the listener closed is reset.
        loop {
            match TcpStream::connect(addr).await {
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
                Err(e) => panic!("connect during shutdown: {e}"),
                Ok(early) => drop(early),
            }
            tokio::task::yield_now().await;
        }
        assert!(
            !server.is_finished(),
            "axum::serve returned with {IN_FLIGHT} requests in flight"
        );

        gate.release.add_permits(IN_FLIGHT);
        while let Some(done) = in_flight.join_next().await {
            let (status, _, body) = joined(done);
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body, b"released");
        }
        joined(server.await).unwrap();
    });
}

#[test]
fn serves_on_a_unix_listener() {
    flavours(|| async {
        let path = TempPath::new("axum.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let (stop, shutdown) = oneshot::channel::<()>();
        let app = Router::new().route(
            "/hello/{name}",
            get(|Path(name): Path<String>| async move { format!("hello, {name}") }),
        );
        let server = tokio::spawn(
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = shutdown.await;
                })
                .into_future(),
        );
        for http2 in [false, true] {
            let mut client = Client::connect(UnixStream::connect(&path).await.unwrap(), http2).await;
            let (status, _, body) = client.request(Method::GET, "/hello/unix", Vec::new()).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body, b"hello, unix");
        }
        stop.send(()).unwrap();
        joined(server.await).unwrap();
    });
}

/// Accepts dropped per storm at the CI size.
const ACCEPT_DROPS: usize = 10_000;
/// Connections made in the storm.
const STORM_CLIENTS: usize = 500;

/// Polls `Listener::accept` once: the connection if it is ready, `None` if
/// the future had to wait (it is dropped, its readiness wait in flight).
async fn accept_once(listener: &mut TcpListener) -> Option<(TcpStream, SocketAddr)> {
    let mut accept = pin!(Listener::accept(listener));
    match poll_fn(|cx| Poll::Ready(accept.as_mut().poll(cx))).await {
        Poll::Ready(accepted) => Some(accepted),
        Poll::Pending => None,
    }
}

/// `Listener::accept` futures dropped while they wait, 10^4 times (times
/// `RINGIO_STRESS`): before each client connects (so the client's
/// connection arrives while a cancelled wait may still be in the kernel),
/// and at random while it connects. Every client must be accepted, in
/// order, exactly once: each sends its number and the server answers it.
/// The seed is printed; `RINGIO_TEST_SEED` replays it.
#[test]
fn dropped_listener_accepts_lose_no_connection() {
    let seed = seed("dropped_listener_accepts_lose_no_connection");
    flavours(move || async move {
        let mut listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // One permit per client the server is ready for.
        let go = Arc::new(Semaphore::new(0));
        let clients = tokio::spawn({
            let go = Arc::clone(&go);
            async move {
                let mut answered = JoinSet::new();
                for id in 0..STORM_CLIENTS as u32 {
                    go.acquire().await.unwrap().forget();
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    answered.spawn(async move {
                        stream.write_all(&id.to_le_bytes()).await.unwrap();
                        let mut answer = [0u8; 4];
                        stream.read_exact(&mut answer).await.unwrap();
                        assert_eq!(u32::from_le_bytes(answer), id, "answered by the server");
                    });
                }
                while let Some(done) = answered.join_next().await {
                    joined(done);
                }
            }
        });

        let mut rng = XorShift::new(seed);
        let per_client = scaled(ACCEPT_DROPS).div_ceil(STORM_CLIENTS);
        let mut dropped = 0;
        let mut servers = JoinSet::new();
        for id in 0..STORM_CLIENTS as u32 {
            // No client is connecting: each accept has to wait.
            for _ in 0..rng.range(0, 2 * per_client) {
                assert!(
                    accept_once(&mut listener).await.is_none(),
                    "a connection before any client connected"
                );
                dropped += 1;
                tokio::task::yield_now().await;
            }
            go.add_permits(1);
            let (mut stream, _peer) = loop {
                if rng.one_in(4) {
                    break Listener::accept(&mut listener).await;
                }
                match accept_once(&mut listener).await {
                    Some(accepted) => break accepted,
                    None => dropped += 1,
                }
                tokio::task::yield_now().await;
            };
            let mut got = [0u8; 4];
            stream.read_exact(&mut got).await.unwrap();
            assert_eq!(
                u32::from_le_bytes(got),
                id,
                "clients are accepted in the order they connect"
            );
            servers.spawn(async move {
                stream.write_all(&id.to_le_bytes()).await.unwrap();
                // Hold the stream until the client has read its answer and gone.
                let mut rest = Vec::new();
                stream.read_to_end(&mut rest).await.unwrap();
            });
        }
        joined(clients.await);
        while let Some(done) = servers.join_next().await {
            joined(done);
        }
        eprintln!("{dropped} accepts dropped while waiting");
    });
}
