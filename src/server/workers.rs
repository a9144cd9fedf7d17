//! Connection workers: one thread per core, each running its own single-threaded runtime.
//!
//! A proxied request wakes several tasks in turn: the client connection, the upstream
//! connection, timers. On a work-stealing pool these wake-ups cross threads (a futex call, a
//! context switch, cache lines moving between cores), and with two cores that was most of the
//! gateway's cost per request. Here a connection is handed to one worker when accepted and
//! everything it causes (its upstream connections included, see [`worker_id`] and
//! `proxy::pool`) runs on that worker's thread.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::Handle;
use tokio::sync::oneshot;

thread_local! {
    static WORKER: Cell<usize> = const { Cell::new(0) };
}

/// The worker running on this thread: 1..=n on a worker thread, 0 elsewhere.
pub fn worker_id() -> usize {
    WORKER.with(Cell::get)
}

/// The worker threads; dropping this stops them (their connections are closed).
pub struct Workers {
    handles: Vec<Handle>,
    stops: Vec<oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    next: AtomicUsize,
}

impl Workers {
    /// Starts `n` worker threads (none: connections stay on the caller's runtime).
    pub fn start(n: usize) -> std::io::Result<Workers> {
        let mut workers = Workers {
            handles: Vec::with_capacity(n),
            stops: Vec::with_capacity(n),
            threads: Vec::with_capacity(n),
            next: AtomicUsize::new(0),
        };
        for i in 0..n {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (stop, stopped) = oneshot::channel::<()>();
            workers.handles.push(runtime.handle().clone());
            workers.stops.push(stop);
            let thread = std::thread::Builder::new()
                .name(format!("stsgate-worker-{}", i + 1))
                .spawn(move || {
                    WORKER.with(|w| w.set(i + 1));
                    // Ends when told to or when `Workers` is dropped (the sender with it).
                    runtime.block_on(async move {
                        let _ = stopped.await;
                    });
                    // Dropping the runtime cancels the tasks still on it.
                    drop(runtime);
                })?;
            workers.threads.push(thread);
        }
        Ok(workers)
    }

    /// The next worker's runtime, in turn; `None` without workers.
    pub fn pick(&self) -> Option<&Handle> {
        if self.handles.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        Some(&self.handles[i])
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        // Not joined: a drop inside an async context must not block it. Each thread ends as
        // soon as its runtime has cancelled its tasks.
        self.threads.clear();
    }
}
