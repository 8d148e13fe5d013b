//! Log lines go to stderr from a thread of their own, in batches.
//!
//! Why not `tracing_appender::non_blocking`: it sends each line through a channel as its own
//! allocation, wakes its thread for it and writes it with one `write` call; at tens of
//! thousands of requests a second that thread, its wake-ups and its system calls took a sixth
//! of the server's time under `GET /api/v1/me` (BENCHMARKS.md, "Fewer looks, fewer writes").
//! Here a line is copied into a shared buffer; the first line into an empty buffer wakes the
//! thread, which lets [`BATCH_WINDOW`] pass, takes everything written meanwhile and writes it
//! at once. An idle server's thread sleeps until there is a line.
//!
//! Nothing is dropped: when [`MAX_WAITING`] bytes wait (stderr is blocked), writers wait for
//! room. The guard writes out what is left when the process ends normally; a crash loses at
//! most the last [`BATCH_WINDOW`] of lines.
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the thread gathers lines before writing them.
const BATCH_WINDOW: Duration = Duration::from_millis(10);
/// Bytes waiting at most before writers wait; a buffer grown past [`KEEP`] by a burst is
/// given back once written.
const MAX_WAITING: usize = 1024 * 1024;
const KEEP: usize = 64 * 1024;

#[derive(Default)]
struct Waiting {
    bytes: Vec<u8>,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    waiting: Mutex<Waiting>,
    /// Signalled when the first line arrives, when room is made and when closing.
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What `tracing_subscriber` writes each formatted line to.
#[derive(Clone)]
pub struct BatchedWriter {
    shared: Arc<Shared>,
}

/// Ends the writer thread after it wrote every waiting line (on drop).
pub struct Guard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// A batched writer to `out`, its thread named `name`.
pub fn batched<W: Write + Send + 'static>(out: W, name: &str) -> std::io::Result<(BatchedWriter, Guard)> {
    let shared = Arc::new(Shared::default());
    let thread = {
        let shared = shared.clone();
        std::thread::Builder::new().name(name.into()).spawn(move || write_batches(&shared, out))?
    };
    Ok((BatchedWriter { shared: shared.clone() }, Guard { shared, thread: Some(thread) }))
}

fn write_batches<W: Write>(shared: &Shared, mut out: W) {
    let mut batch = Vec::new();
    loop {
        {
            let mut waiting = shared.lock();
            while waiting.bytes.is_empty() && !waiting.closed {
                waiting = shared.changed.wait(waiting).unwrap_or_else(PoisonError::into_inner);
            }
            if waiting.bytes.is_empty() {
                return; // closed, and everything written
            }
            if !waiting.closed {
                drop(waiting);
                std::thread::sleep(BATCH_WINDOW);
                waiting = shared.lock();
            }
            std::mem::swap(&mut batch, &mut waiting.bytes);
            shared.changed.notify_all();
        }
        // A failing stderr loses these lines, as an unbuffered write would; the server goes on.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
        batch.shrink_to(KEEP);
    }
}

impl Write for BatchedWriter {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut waiting = self.shared.lock();
        while waiting.bytes.len() >= MAX_WAITING && !waiting.closed {
            waiting = self.shared.changed.wait(waiting).unwrap_or_else(PoisonError::into_inner);
        }
        if waiting.bytes.is_empty() {
            self.shared.changed.notify_all();
        }
        waiting.bytes.extend_from_slice(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchedWriter {
    type Writer = BatchedWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that keeps what it was given, and counts the writes.
    #[derive(Clone, Default)]
    struct Kept(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Kept {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            let mut k = self.0.lock().expect("kept");
            k.0.extend_from_slice(b);
            k.1 += 1;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_arrive_whole_in_order_and_in_few_writes() {
        let kept = Kept::default();
        let (writer, guard) = batched(kept.clone(), "test-log").expect("thread");
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut w = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        w.write_all(format!("thread {t} line {i}\n").as_bytes()).expect("write");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("writer");
        }
        drop(guard);
        let (bytes, writes) = kept.0.lock().expect("kept").clone();
        let text = String::from_utf8(bytes).expect("utf-8");
        assert_eq!(text.lines().count(), 4000, "nothing lost when the guard ends");
        for t in 0..4 {
            let mine: Vec<usize> = text
                .lines()
                .filter_map(|l| l.strip_prefix(&format!("thread {t} line ")))
                .map(|n| n.parse().expect("number"))
                .collect();
            assert_eq!(mine, (0..1000).collect::<Vec<_>>(), "each thread's lines whole and in order");
        }
        assert!(writes < 400, "batched: {writes} writes for 4,000 lines");
    }

    #[test]
    fn a_line_is_written_soon_without_more_coming() {
        let kept = Kept::default();
        let (mut writer, _guard) = batched(kept.clone(), "test-log").expect("thread");
        writer.write_all(b"alone\n").expect("write");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while kept.0.lock().expect("kept").0.is_empty() {
            assert!(std::time::Instant::now() < deadline, "the line was never written");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(kept.0.lock().expect("kept").0, b"alone\n");
    }
}
