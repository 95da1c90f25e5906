//! A tiny process supervisor: runs a child command, restarts it when it
//! exits (up to `--restarts` times), and shuts down gracefully on Ctrl-C or
//! `SIGTERM`: the child gets `SIGTERM`, then `SIGKILL` if it outlives the
//! grace period.
//!
//! Signals arrive through a `SignalFd` (blocked before any thread exists),
//! the child is watched through a `PidFd`; both waits are cancel-safe, so
//! the loop simply races them.
//!
//! ```text
//! cargo run -p ringio-examples --bin supervise -- --restarts 2 --child "sleep 0.2"
//! cargo run -p ringio-examples --bin supervise -- --child "sleep 30"   # then Ctrl-C
//! ```

#[cfg(target_os = "linux")]
fn main() -> std::io::Result<()> {
    supervisor::main()
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("supervise needs pidfds and signalfds: Linux only");
}

#[cfg(target_os = "linux")]
mod supervisor {
    use clap::Parser;
    use ringio::linux::{PidFd, Signal, SignalFd, SignalInfo};
    use std::future::Future;
    use std::io;
    use std::pin::pin;
    use std::process::Command;
    use std::task::Poll;
    use std::time::Duration;

    #[derive(Parser, Debug)]
    #[command(about = "ringio example: supervise a child process with PidFd, shut down on SIGINT/SIGTERM via SignalFd")]
    struct Args {
        /// The command to run: a program and its arguments, split on whitespace
        /// (no shell quoting).
        #[arg(long, default_value = "sleep 0.2")]
        child: String,
        /// How many times to restart the child after it exits.
        #[arg(long, default_value_t = 2)]
        restarts: u32,
        /// Pause before each restart, in milliseconds.
        #[arg(long, default_value_t = 50)]
        backoff_ms: u64,
        /// On shutdown, how long the child may take to exit after SIGTERM
        /// before it gets SIGKILL, in milliseconds.
        #[arg(long, default_value_t = 2000)]
        grace_ms: u64,
    }

    pub fn main() -> io::Result<()> {
        // Before anything can start a thread: every thread created later inherits
        // the mask, so SIGINT and SIGTERM can only ever be read from `signals`.
        let signals = SignalFd::new(&[Signal::INT, Signal::TERM])?;
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
            )
            .init();
        let args = Args::parse();
        let rt = ringio::Runtime::new()?;
        tracing::info!(backend = %rt.backend(), child = %args.child, restarts = args.restarts, "supervising");
        rt.block_on(supervise(&args, &signals))
    }

    async fn supervise(args: &Args, signals: &SignalFd) -> io::Result<()> {
        let mut restarts_left = args.restarts;
        loop {
            let child = spawn(&args.child, signals)?;
            tracing::info!(pid = child.pid(), "child started");
            match first(child.wait(), signals.recv()).await {
                Either::Left(status) => {
                    tracing::info!(pid = child.pid(), status = %status?, "child exited");
                    if restarts_left == 0 {
                        tracing::info!("no restarts left; done");
                        return Ok(());
                    }
                    restarts_left -= 1;
                    tracing::info!(restarts_left, "restarting");
                    let backoff = ringio::time::sleep(Duration::from_millis(args.backoff_ms));
                    if let Either::Right(signal) = first(backoff, signals.recv()).await {
                        return shut_down(None, signal?, args).await;
                    }
                }
                Either::Right(signal) => return shut_down(Some(&child), signal?, args).await,
            }
        }
    }

    /// Stops `child` (if one runs): `SIGTERM`, then `SIGKILL` after the grace period.
    async fn shut_down(child: Option<&PidFd>, signal: SignalInfo, args: &Args) -> io::Result<()> {
        tracing::info!(signal = %signal.signal(), from_pid = signal.pid(), "shutting down");
        let Some(child) = child else {
            return Ok(());
        };
        child.send_signal(Signal::TERM)?;
        let grace = Duration::from_millis(args.grace_ms);
        let status = match ringio::time::timeout(grace, child.wait()).await {
            Ok(status) => status?,
            Err(_) => {
                tracing::warn!(pid = child.pid(), ?grace, "child ignored SIGTERM; killing it");
                child.send_signal(Signal::KILL)?;
                child.wait().await?
            }
        };
        tracing::info!(pid = child.pid(), %status, "child stopped; bye");
        Ok(())
    }

    /// Starts `command`, with the signals this process blocks unblocked in
    /// the child (it would inherit the mask otherwise, and ignore our SIGTERM).
    fn spawn(command: &str, signals: &SignalFd) -> io::Result<PidFd> {
        let mut words = command.split_whitespace();
        let program = words
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "--child is empty"))?;
        let mut command = Command::new(program);
        command.args(words);
        PidFd::from_child(signals.unblock_in_child(&mut command).spawn()?)
    }

    enum Either<A, B> {
        Left(A),
        Right(B),
    }

    /// Whichever of `a` and `b` finishes first; the other is dropped (which is
    /// fine for the cancel-safe waits used here).
    async fn first<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
        let (mut a, mut b) = (pin!(a), pin!(b));
        std::future::poll_fn(|cx| {
            if let Poll::Ready(out) = a.as_mut().poll(cx) {
                return Poll::Ready(Either::Left(out));
            }
            b.as_mut().poll(cx).map(Either::Right)
        })
        .await
    }
}
