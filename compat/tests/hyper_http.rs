//! hyper 1.x over compat TCP streams through `hyper_util::rt::TokioIo`:
//! HTTP/1.1 keep-alive with 200 sequential requests on one connection,
//! HTTP/2 with 64 streams in flight at once on one connection (the server
//! answers none until all 64 have arrived), and multi-megabyte request and
//! response bodies streamed in pseudo-random frames over both protocols; every
//! body checked byte for byte, and both connections close cleanly.

mod common;

use common::net::{TcpListener, TcpStream};
use common::{assert_bytes, flavours, joined, payload, XorShift};
use futures_util::stream;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::client::conn::{http1 as client1, http2 as client2};
use hyper::server::conn::{http1 as server1, http2 as server2};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::Barrier;
use tokio::task::{JoinHandle, JoinSet};

type Body = BoxBody<Bytes, Infallible>;

#[derive(Clone, Copy)]
enum Proto {
    Http1,
    Http2,
}

/// Streams in flight at once in the HTTP/2 test.
const STREAMS: usize = 64;

fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into()).boxed()
}

/// `data` as a streamed body of frames of 1 byte to 64 KiB.
fn streamed(data: Vec<u8>, seed: u64) -> Body {
    let data = Bytes::from(data);
    let mut rng = XorShift::new(seed);
    let mut frames = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let end = data.len().min(at + rng.range(1, 64 * 1024));
        frames.push(Ok(Frame::data(data.slice(at..end))));
        at = end;
    }
    StreamBody::new(stream::iter(frames)).boxed()
}

/// Reads a body frame by frame.
async fn read_body(mut body: Incoming) -> Result<Vec<u8>, hyper::Error> {
    let mut data = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(chunk) = frame?.into_data() {
            data.extend_from_slice(&chunk);
        }
    }
    Ok(data)
}

/// The server's routes:
/// - `/echo`: the request body back;
/// - `/gather`: the request body back once [`STREAMS`] requests are waiting;
/// - `/stream/{seed}/{len}`: 422 unless the request body is `payload(seed, len)`,
///   else `payload(seed + 1, len)` as a streamed body.
async fn handle(req: Request<Incoming>, gather: Arc<Barrier>) -> Result<Response<Body>, hyper::Error> {
    let path = req.uri().path().to_owned();
    let parts: Vec<&str> = path.split('/').skip(1).collect();
    match parts[..] {
        ["echo"] => Ok(Response::new(full(read_body(req.into_body()).await?))),
        ["gather"] => {
            let body = read_body(req.into_body()).await?;
            gather.wait().await;
            Ok(Response::new(full(body)))
        }
        ["stream", seed, len] => {
            let (seed, len): (u64, usize) = (seed.parse().unwrap(), len.parse().unwrap());
            if read_body(req.into_body()).await? != payload(seed, len) {
                let mut refused = Response::new(full("request body differs"));
                *refused.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                return Ok(refused);
            }
            Ok(Response::new(streamed(payload(seed + 1, len), seed)))
        }
        _ => unreachable!("no route {path}"),
    }
}

/// A server for exactly `connections` connections; the handle finishes when
/// all of them have closed cleanly.
async fn serve(proto: Proto, connections: usize) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let gather = Arc::new(Barrier::new(STREAMS));
        let mut served = JoinSet::new();
        for _ in 0..connections {
            let (stream, _) = listener.accept().await.unwrap();
            let io = TokioIo::new(stream);
            let gather = gather.clone();
            let service = service_fn(move |req| handle(req, gather.clone()));
            served.spawn(async move {
                match proto {
                    Proto::Http1 => server1::Builder::new().serve_connection(io, service).await,
                    Proto::Http2 => {
                        server2::Builder::new(TokioExecutor::new())
                            .serve_connection(io, service)
                            .await
                    }
                }
                .unwrap();
            });
        }
        while let Some(done) = served.join_next().await {
            joined(done);
        }
    });
    (addr, server)
}

/// One client connection of either protocol.
enum Client {
    Http1(client1::SendRequest<Body>),
    Http2(client2::SendRequest<Body>, SocketAddr),
}

impl Client {
    /// Connects; the handle runs the connection and finishes, checking it
    /// closed cleanly, once the client is dropped.
    async fn connect(proto: Proto, addr: SocketAddr) -> (Self, JoinHandle<()>) {
        let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
        match proto {
            Proto::Http1 => {
                let (send, conn) = client1::handshake(io).await.unwrap();
                (Client::Http1(send), tokio::spawn(async move { conn.await.unwrap() }))
            }
            Proto::Http2 => {
                let (send, conn) = client2::handshake(TokioExecutor::new(), io).await.unwrap();
                (
                    Client::Http2(send, addr),
                    tokio::spawn(async move { conn.await.unwrap() }),
                )
            }
        }
    }

    async fn send(&mut self, method: Method, path: &str, body: Body) -> Response<Incoming> {
        match self {
            Client::Http1(send) => {
                let req = Request::builder().method(method).uri(path).header("host", "localhost");
                send.ready().await.unwrap();
                send.send_request(req.body(body).unwrap()).await.unwrap()
            }
            Client::Http2(send, addr) => {
                let req = Request::builder().method(method).uri(format!("http://{addr}{path}"));
                send.ready().await.unwrap();
                send.send_request(req.body(body).unwrap()).await.unwrap()
            }
        }
    }
}

#[test]
fn http1_keep_alive_serves_200_requests_on_one_connection() {
    flavours(|| async {
        let (addr, server) = serve(Proto::Http1, 1).await;
        let (mut client, conn) = Client::connect(Proto::Http1, addr).await;
        let mut rng = XorShift::new(1);
        for i in 0..200 {
            let (method, body) = match i % 4 {
                0 => (Method::GET, Vec::new()),
                _ => (Method::POST, payload(i, rng.range(0, 16 * 1024))),
            };
            let response = client.send(method, "/echo", full(body.clone())).await;
            assert_eq!(response.status(), StatusCode::OK);
            let echoed = read_body(response.into_body()).await.unwrap();
            assert_bytes(&echoed, &body, &format!("response {i}"));
        }
        drop(client);
        joined(conn.await);
        joined(server.await);
    });
}

#[test]
fn http2_carries_64_concurrent_streams_on_one_connection() {
    flavours(|| async {
        let (addr, server) = serve(Proto::Http2, 1).await;
        let (client, conn) = Client::connect(Proto::Http2, addr).await;
        let Client::Http2(send, _) = &client else {
            unreachable!()
        };
        let mut requests = JoinSet::new();
        for i in 0..STREAMS as u64 {
            let mut client = Client::Http2(send.clone(), addr);
            requests.spawn(async move {
                let body = payload(i, 32 * 1024 + i as usize);
                let response = client.send(Method::POST, "/gather", full(body.clone())).await;
                assert_eq!(response.status(), StatusCode::OK);
                let echoed = read_body(response.into_body()).await.unwrap();
                assert_bytes(&echoed, &body, &format!("stream {i}"));
            });
        }
        while let Some(done) = requests.join_next().await {
            joined(done);
        }
        drop(client);
        joined(conn.await);
        joined(server.await);
    });
}

fn streamed_bodies(proto: Proto) {
    flavours(move || async move {
        const LEN: usize = 3 << 20;
        let (addr, server) = serve(proto, 1).await;
        let (mut client, conn) = Client::connect(proto, addr).await;
        for seed in [10, 20] {
            let body = streamed(payload(seed, LEN), seed);
            let response = client.send(Method::POST, &format!("/stream/{seed}/{LEN}"), body).await;
            assert_eq!(
                response.status(),
                StatusCode::OK,
                "the server's verdict on the request body"
            );
            let got = read_body(response.into_body()).await.unwrap();
            assert_bytes(&got, &payload(seed + 1, LEN), "streamed response body");
        }
        drop(client);
        joined(conn.await);
        joined(server.await);
    });
}

#[test]
fn http1_streams_megabyte_bodies_both_ways() {
    streamed_bodies(Proto::Http1);
}

#[test]
fn http2_streams_megabyte_bodies_both_ways() {
    streamed_bodies(Proto::Http2);
}
