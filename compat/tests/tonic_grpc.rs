//! tonic gRPC on compat connections: `Server::serve_with_incoming` over a
//! `TcpListenerStream` (the `tonic` feature's `Connected` for `TcpStream`),
//! clients on tonic's own tokio channel and on a channel whose connector
//! dials compat `TcpStream`s. Services: `tonic-health` (unary `Check`,
//! server-streaming `Watch`) and a hand-written `test.Counter` on
//! `tonic::server::Grpc` with prost messages (unary `Echo`, which can hang,
//! and server-streaming `Count`), so no protoc runs. Checked: replies and
//! streams byte for byte, the peer address a handler sees, 64 calls at once,
//! a deadline that ends a hung call and drops its handler, and a storm of
//! calls dropped at random points that leaves no handler running and the
//! channel working.

mod common;

use common::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use common::{assert_bytes, flavours, joined, payload, poll_up_to, scaled, seed, TempPath, XorShift};
use hyper_util::rt::TokioIo;
use ringio_compat::net::{TcpListenerStream, UnixListenerStream};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use tonic::codegen::{http, BoxFuture, Context, Service, StdError};
use tonic::server::NamedService;
use tonic::transport::server::UdsConnectInfo;
use tonic::transport::{Channel, Endpoint, Server, Uri};
use tonic::{Code, Request, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_prost::ProstCodec;

#[derive(Clone, PartialEq, prost::Message)]
struct EchoRequest {
    #[prost(string, tag = "1")]
    message: String,
    /// The handler never answers (for deadlines and dropped calls).
    #[prost(bool, tag = "2")]
    hang: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
struct EchoReply {
    #[prost(string, tag = "1")]
    message: String,
    /// The caller's address as the handler sees it (`Request::remote_addr`).
    #[prost(string, tag = "2")]
    peer: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct CountRequest {
    #[prost(uint64, tag = "1")]
    seed: u64,
    #[prost(uint32, tag = "2")]
    count: u32,
    #[prost(uint32, tag = "3")]
    len: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct CountReply {
    #[prost(uint32, tag = "1")]
    n: u32,
    #[prost(bytes = "vec", tag = "2")]
    data: Vec<u8>,
}

/// What `Count` sends as message `n` of a call with `seed`.
fn count_data(seed: u64, n: u32, len: u32) -> Vec<u8> {
    payload(seed ^ u64::from(n), len as usize)
}

/// Handlers started and handlers ended (answered, or dropped by the
/// server), for the tests that check that none is left running.
#[derive(Clone)]
struct Handlers(watch::Sender<(usize, usize)>);

/// Held by a running handler; counts it as ended when dropped.
struct Running(Handlers);

impl Handlers {
    fn start(&self) -> Running {
        self.0.send_modify(|(started, _)| *started += 1);
        Running(self.clone())
    }

    /// Waits until every handler that started has ended; how many started.
    async fn all_ended(&self) -> usize {
        let counts = *self
            .0
            .subscribe()
            .wait_for(|(started, ended)| started == ended)
            .await
            .unwrap();
        counts.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0 .0.send_modify(|(_, ended)| *ended += 1);
    }
}

async fn echo(handlers: Handlers, request: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
    let _running = handlers.start();
    let unix = request.extensions().get::<UdsConnectInfo>();
    let peer = match (request.remote_addr(), unix) {
        (Some(addr), _) => addr.to_string(),
        (None, Some(unix)) => format!("unix {:?}", unix.peer_addr.as_deref().and_then(|a| a.as_pathname())),
        (None, None) => String::new(),
    };
    let request = request.into_inner();
    if request.hang {
        std::future::pending::<()>().await;
    }
    Ok(Response::new(EchoReply {
        message: request.message,
        peer,
    }))
}

type CountStream = std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<CountReply, Status>> + Send>>;

async fn count(handlers: Handlers, request: Request<CountRequest>) -> Result<Response<CountStream>, Status> {
    let running = handlers.start();
    let CountRequest { seed, count, len } = request.into_inner();
    // The guard lives in the stream, so a stream the server drops ends it.
    let replies = futures_util::stream::unfold((0, running), move |(n, running)| async move {
        if n == count {
            return None;
        }
        tokio::task::yield_now().await;
        let data = count_data(seed, n, len);
        Some((Ok(CountReply { n, data }), (n + 1, running)))
    });
    Ok(Response::new(Box::pin(replies) as CountStream))
}

/// The `test.Counter` service, written as tonic's generated code would be.
#[derive(Clone)]
struct Counter(Handlers);

impl NamedService for Counter {
    const NAME: &'static str = "test.Counter";
}

impl<B> Service<http::Request<B>> for Counter
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let handlers = self.0.clone();
        match request.uri().path() {
            "/test.Counter/Echo" => Box::pin(async move {
                let mut grpc = tonic::server::Grpc::new(ProstCodec::<EchoReply, EchoRequest>::default());
                let method = tower::service_fn(move |r| echo(handlers.clone(), r));
                Ok(grpc.unary(method, request).await)
            }),
            "/test.Counter/Count" => Box::pin(async move {
                let mut grpc = tonic::server::Grpc::new(ProstCodec::<CountReply, CountRequest>::default());
                let method = tower::service_fn(move |r| count(handlers.clone(), r));
                Ok(grpc.server_streaming(method, request).await)
            }),
            _ => Box::pin(async { Ok(Status::unimplemented("no such method").into_http()) }),
        }
    }
}

/// A client of `test.Counter` on any channel.
struct CounterClient(tonic::client::Grpc<Channel>);

impl CounterClient {
    fn new(channel: Channel) -> CounterClient {
        CounterClient(tonic::client::Grpc::new(channel))
    }

    async fn echo(&mut self, request: Request<EchoRequest>) -> Result<EchoReply, Status> {
        self.0.ready().await.map_err(|e| Status::unknown(e.to_string()))?;
        let path = http::uri::PathAndQuery::from_static("/test.Counter/Echo");
        let codec = ProstCodec::<EchoRequest, EchoReply>::default();
        Ok(self.0.unary(request, path, codec).await?.into_inner())
    }

    /// Every message of a `Count` call, checked against [`count_data`].
    async fn count(&mut self, seed: u64, count: u32, len: u32) -> Result<u32, Status> {
        self.0.ready().await.map_err(|e| Status::unknown(e.to_string()))?;
        let path = http::uri::PathAndQuery::from_static("/test.Counter/Count");
        let codec = ProstCodec::<CountRequest, CountReply>::default();
        let request = Request::new(CountRequest { seed, count, len });
        let mut replies = self.0.server_streaming(request, path, codec).await?.into_inner();
        let mut next = 0;
        while let Some(reply) = replies.message().await? {
            assert_eq!(reply.n, next, "Count messages in order");
            assert_bytes(&reply.data, &count_data(seed, next, len), "Count message");
            next += 1;
        }
        Ok(next)
    }
}

/// A running server: its address, its shutdown, its health reporter and
/// the count of `test.Counter` handlers.
struct TestServer {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
    reporter: tonic_health::server::HealthReporter,
    handlers: Handlers,
}

impl TestServer {
    /// Serves health and `test.Counter` on a compat listener.
    async fn start() -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (reporter, health) = tonic_health::server::health_reporter();
        let handlers = Handlers(watch::Sender::new((0, 0)));
        let (stop, shutdown) = oneshot::channel::<()>();
        // A storm of cancelled calls is h2's rapid-reset pattern: past 20
        // streams reset before the server took them (h2's default), it
        // answers with GOAWAY. The storm below is that on purpose.
        let server = Server::builder()
            .http2_max_pending_accept_reset_streams(Some(scaled(CALL_DROPS)))
            .add_service(health)
            .add_service(Counter(handlers.clone()))
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                let _ = shutdown.await;
            });
        TestServer {
            addr,
            stop,
            done: tokio::spawn(server),
            reporter,
            handlers,
        }
    }

    /// A channel whose connector dials compat streams; their local
    /// addresses go to `locals`.
    async fn compat_channel(&self, locals: Arc<Mutex<Vec<SocketAddr>>>) -> Channel {
        let addr = self.addr;
        let connector = tower::service_fn(move |_: Uri| {
            let locals = Arc::clone(&locals);
            async move {
                let stream = TcpStream::connect(addr).await?;
                locals.lock().unwrap().push(stream.local_addr()?);
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        });
        Endpoint::from_static("http://compat.invalid")
            .connect_with_connector(connector)
            .await
            .unwrap()
    }

    /// A channel on tonic's own (tokio) connector.
    async fn tokio_channel(&self) -> Channel {
        Endpoint::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    async fn stop(self) {
        self.stop.send(()).unwrap();
        joined(self.done.await).unwrap();
    }
}

#[test]
fn health_check_and_watch_with_compat_on_both_ends() {
    flavours(|| async {
        let server = TestServer::start().await;
        let mut health = HealthClient::new(server.compat_channel(Arc::default()).await);
        let check = |service: &str| HealthCheckRequest {
            service: service.to_string(),
        };

        let status = health.check(check("")).await.unwrap().into_inner().status;
        assert_eq!(status, ServingStatus::Serving as i32, "the server as a whole");
        let unknown = health.check(check("no.Such")).await.unwrap_err();
        assert_eq!(unknown.code(), Code::NotFound);

        server
            .reporter
            .set_service_status("test.Counter", tonic_health::ServingStatus::NotServing)
            .await;
        let mut watch = health.watch(check("test.Counter")).await.unwrap().into_inner();
        let first = watch.message().await.unwrap().unwrap().status;
        assert_eq!(first, ServingStatus::NotServing as i32);
        server
            .reporter
            .set_service_status("test.Counter", tonic_health::ServingStatus::Serving)
            .await;
        let second = watch.message().await.unwrap().unwrap().status;
        assert_eq!(second, ServingStatus::Serving as i32, "Watch streams the change");
        drop(watch);
        server.stop().await;
    });
}

#[test]
fn serves_on_a_unix_listener_stream() {
    flavours(|| async {
        let path = TempPath::new("grpc.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let (_reporter, health) = tonic_health::server::health_reporter();
        let handlers = Handlers(watch::Sender::new((0, 0)));
        let (stop, shutdown) = oneshot::channel::<()>();
        let server = tokio::spawn(
            Server::builder()
                .add_service(health)
                .add_service(Counter(handlers.clone()))
                .serve_with_incoming_shutdown(UnixListenerStream::new(listener), async {
                    let _ = shutdown.await;
                }),
        );
        let socket = std::path::PathBuf::from(path.as_ref());
        let connector = tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(socket).await?)) }
        });
        let channel = Endpoint::from_static("http://unix.invalid")
            .connect_with_connector(connector)
            .await
            .unwrap();

        let request = HealthCheckRequest { service: String::new() };
        let status = HealthClient::new(channel.clone())
            .check(request)
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32);
        let mut client = CounterClient::new(channel);
        let reply = client
            .echo(Request::new(EchoRequest {
                message: "over unix".into(),
                hang: false,
            }))
            .await
            .unwrap();
        assert_eq!(reply.message, "over unix");
        // The handler got `UdsConnectInfo`; an unnamed client has no path.
        assert_eq!(reply.peer, "unix None");
        assert_eq!(client.count(9, 50, 1000).await.unwrap(), 50);
        stop.send(()).unwrap();
        joined(server.await).unwrap();
    });
}

/// Calls in flight at once in the concurrency test.
const CALLS: usize = 64;

#[test]
fn unary_and_streaming_calls_many_at_once() {
    flavours(|| async {
        let server = TestServer::start().await;
        let locals = Arc::new(Mutex::new(Vec::new()));
        let compat = server.compat_channel(Arc::clone(&locals)).await;
        let tokio = server.tokio_channel().await;
        let mut calls = JoinSet::new();
        for id in 0..CALLS {
            // Half on the compat channel (compat on both ends), half on tonic's own.
            let on_compat = id % 2 == 0;
            let mut client = CounterClient::new(if on_compat { compat.clone() } else { tokio.clone() });
            let locals = Arc::clone(&locals);
            calls.spawn(async move {
                let mut rng = XorShift::new(id as u64);
                let message = format!("call {id}: {}", "x".repeat(rng.range(0, 10_000)));
                let reply = client
                    .echo(Request::new(EchoRequest {
                        message: message.clone(),
                        hang: false,
                    }))
                    .await
                    .unwrap();
                assert_eq!(reply.message, message);
                let peer: SocketAddr = reply.peer.parse().expect("the handler sees the peer's address");
                if on_compat {
                    assert!(
                        locals.lock().unwrap().contains(&peer),
                        "{peer} is a compat client's address"
                    );
                }
                let (count, len) = (rng.range(0, 300) as u32, rng.range(0, 20_000) as u32);
                assert_eq!(client.count(rng.next_u64(), count, len).await.unwrap(), count);
            });
        }
        while let Some(done) = calls.join_next().await {
            joined(done);
        }
        assert_eq!(server.handlers.all_ended().await, 2 * CALLS);
        server.stop().await;
    });
}

#[test]
fn a_deadline_ends_a_hung_call_and_drops_its_handler() {
    flavours(|| async {
        let server = TestServer::start().await;
        let mut client = CounterClient::new(server.compat_channel(Arc::default()).await);
        // The deadline may pass before the handler starts (it runs from when
        // the server reads the request); then try again, until one call's
        // handler was running when its deadline passed.
        for attempt in 1.. {
            let mut request = Request::new(EchoRequest {
                message: "never answered".into(),
                hang: true,
            });
            // Sent as `grpc-timeout`; tonic's server ends the call when it passes.
            request.set_timeout(Duration::from_millis(100 * attempt));
            let status = client.echo(request).await.unwrap_err();
            assert_eq!(
                status.code(),
                Code::Cancelled,
                "tonic's answer to an expired deadline: {status}"
            );
            assert_eq!(status.message(), "Timeout expired");
            if server.handlers.all_ended().await > 0 {
                break;
            }
        }
        assert_eq!(server.handlers.all_ended().await, 1, "the hung handler was dropped");

        // The connection is still good.
        let reply = client
            .echo(Request::new(EchoRequest {
                message: "after".into(),
                hang: false,
            }))
            .await
            .unwrap();
        assert_eq!(reply.message, "after");
        server.stop().await;
    });
}

/// Calls dropped per storm at the CI size.
const CALL_DROPS: usize = 1_000;

/// Calls (hung `Echo`s, answered `Echo`s, `Count` streams) whose futures
/// are dropped after 0 to 8 polls, with a yield between polls, 10^3 times
/// (times `RINGIO_STRESS`), on two compat channels; after each hundred the
/// channels must still answer, and at the end no handler may be left
/// running (each dropped call's stream was reset, so the server dropped
/// its handler). The seed is printed; `RINGIO_TEST_SEED` replays it.
#[test]
fn calls_dropped_at_random_points_leave_no_handler_running() {
    let seed = seed("calls_dropped_at_random_points_leave_no_handler_running");
    flavours(move || async move {
        let server = TestServer::start().await;
        let channels = [
            server.compat_channel(Arc::default()).await,
            server.compat_channel(Arc::default()).await,
        ];
        let mut rng = XorShift::new(seed);
        for round in 0..scaled(CALL_DROPS) {
            let mut client = CounterClient::new(channels[round % 2].clone());
            let polls = rng.range(0, 8);
            let kind = rng.range(0, 2);
            let call_seed = rng.next_u64();
            let call = async {
                match kind {
                    0 => drop(
                        client
                            .echo(Request::new(EchoRequest {
                                message: "hung".into(),
                                hang: true,
                            }))
                            .await,
                    ),
                    1 => drop(
                        client
                            .echo(Request::new(EchoRequest {
                                message: "answered".into(),
                                hang: false,
                            }))
                            .await,
                    ),
                    _ => drop(client.count(call_seed, 1000, 100).await),
                }
            };
            // Dropped when `poll_up_to` returns, whether it finished or not.
            poll_up_to(call, polls).await;
            if round % 100 == 99 {
                let mut client = CounterClient::new(channels[round / 100 % 2].clone());
                let reply = client
                    .echo(Request::new(EchoRequest {
                        message: format!("{round}"),
                        hang: false,
                    }))
                    .await
                    .unwrap();
                assert_eq!(reply.message, format!("{round}"));
            }
        }
        let started = server.handlers.all_ended().await;
        eprintln!("{started} handlers started, all ended");
        for channel in channels {
            assert_eq!(CounterClient::new(channel).count(7, 10, 10).await.unwrap(), 10);
        }
        server.stop().await;
    });
}
