//! Work split over the machine's cores: the fits' likelihood sums and the
//! scorers' rows.

/// Threads a fit may use: the machine's cores.
pub(crate) fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Evaluates `chunk` over up to `threads` contiguous slices of `0..len` in
/// parallel and sums the results.
pub(crate) fn sum_in_parallel<const N: usize>(
    len: usize,
    threads: usize,
    chunk: impl Fn(std::ops::Range<usize>) -> [f64; N] + Sync,
) -> [f64; N] {
    // Below this many items a thread costs more than it saves.
    const PER_THREAD: usize = 20_000;
    let mut total = [0.0; N];
    for part in map_in_parallel(len, threads, PER_THREAD, chunk) {
        let part = part.unwrap_or([f64::NAN; N]);
        total.iter_mut().zip(part).for_each(|(t, p)| *t += p);
    }
    total
}

/// Evaluates `chunk` over contiguous slices of `0..len`, in order, each of
/// at least `per_thread` items and at most `threads` at once; `None` for a
/// slice whose thread panicked.
pub(crate) fn map_in_parallel<T: Send>(
    len: usize,
    threads: usize,
    per_thread: usize,
    chunk: impl Fn(std::ops::Range<usize>) -> T + Sync,
) -> Vec<Option<T>> {
    let threads = threads.clamp(1, len.div_ceil(per_thread).max(1));
    if threads == 1 {
        return vec![Some(chunk(0..len))];
    }
    let bounds: Vec<usize> = (0..=threads).map(|i| i * len / threads).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = bounds
            .windows(2)
            .map(|w| {
                let chunk = &chunk;
                let range = w[0]..w[1];
                scope.spawn(move || chunk(range))
            })
            .collect();
        handles.into_iter().map(|h| h.join().ok()).collect()
    })
}
