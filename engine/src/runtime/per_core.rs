//! One runtime per core: the shape of a thread-per-core `SO_REUSEPORT` server.

use super::Builder;
use std::future::Future;
use std::io;
use std::thread;

/// Runtimes started by [`spawn_per_core`]; [`PerCore::join`] waits for them.
pub struct PerCore<T> {
    threads: Vec<thread::JoinHandle<io::Result<T>>>,
}

impl<T> PerCore<T> {
    /// Waits for every runtime's main future; one result per thread, in order.
    /// A thread that panicked yields an error of kind `Other`.
    pub fn join(self) -> Vec<io::Result<T>> {
        self.threads
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|_| Err(io::Error::other("runtime thread panicked")))
            })
            .collect()
    }
}

/// Starts `threads` threads, each pinned to one CPU (round robin over the
/// CPUs this process may use) and running its own runtime built from
/// `builder`, on which it runs `main(thread_index)`.
///
/// # Errors
///
/// If a thread cannot be spawned. Errors building a runtime come back from
/// [`PerCore::join`] for that thread.
///
/// # Examples
///
/// ```no_run
/// let cores = ringio::runtime::spawn_per_core(&ringio::Runtime::builder(), 2, |i| async move { i * 10 })?;
/// let results: Vec<usize> = cores.join().into_iter().map(|r| r.unwrap()).collect();
/// assert_eq!(results, vec![0, 10]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn spawn_per_core<F, Fut>(builder: &Builder, threads: usize, main: F) -> io::Result<PerCore<Fut::Output>>
where
    F: Fn(usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future + 'static,
    Fut::Output: Send + 'static,
{
    let cpus = allowed_cpus();
    let mut handles = Vec::with_capacity(threads);
    for index in 0..threads {
        let builder = builder.clone();
        let main = main.clone();
        let cpu = (!cpus.is_empty()).then(|| cpus[index % cpus.len()]);
        let handle = thread::Builder::new().name(format!("ringio-{index}")).spawn(move || {
            if let Some(cpu) = cpu {
                pin_to(cpu);
            }
            let rt = builder.build()?;
            Ok(rt.block_on(main(index)))
        })?;
        handles.push(handle);
    }
    Ok(PerCore { threads: handles })
}

#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "dragonfly"
))]
fn allowed_cpus() -> Vec<usize> {
    match rustix::thread::sched_getaffinity(None) {
        Ok(set) => (0..rustix::thread::CpuSet::MAX_CPU)
            .filter(|&c| set.is_set(c))
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "dragonfly"
))]
fn pin_to(cpu: usize) {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    if let Err(err) = rustix::thread::sched_setaffinity(None, &set) {
        tracing::debug!(%err, cpu, "could not pin runtime thread");
    }
}

/// No CPU affinity API on this platform: threads are not pinned.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "dragonfly"
)))]
fn allowed_cpus() -> Vec<usize> {
    Vec::new()
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "dragonfly"
)))]
fn pin_to(_cpu: usize) {}
