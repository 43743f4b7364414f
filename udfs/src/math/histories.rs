//! What the purchase-count models are fitted on: distinct customer histories
//! (x, t_x, T) with the number of customers sharing each, so a fit's work
//! grows with distinct histories, not with customers.

/// Distinct histories sorted by frequency x, with their customer counts.
///
/// Recencies and ages also point into `times`, their distinct values: with
/// whole days or weeks there are few, so terms such as ln(α + T) are computed
/// once per value rather than once per history.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Histories {
    pub x: Vec<f64>,
    pub t_x: Vec<f64>,
    pub t: Vec<f64>,
    pub count: Vec<f64>,
    pub times: Vec<f64>,
    pub t_x_index: Vec<u32>,
    pub t_index: Vec<u32>,
}

impl Histories {
    /// From (x, t_x, T, count) sorted by x.
    pub fn new(rows: Vec<(f64, f64, f64, f64)>) -> Self {
        let mut histories = Self::default();
        let mut index = std::collections::HashMap::new();
        let mut index_of = |v: f64, times: &mut Vec<f64>| {
            *index.entry(v.to_bits()).or_insert_with(|| {
                times.push(v);
                (times.len() - 1) as u32
            })
        };
        for (x, t_x, t, count) in rows {
            histories.x.push(x);
            histories.t_x.push(t_x);
            histories.t.push(t);
            histories.count.push(count);
            let i = index_of(t_x, &mut histories.times);
            histories.t_x_index.push(i);
            let i = index_of(t, &mut histories.times);
            histories.t_index.push(i);
        }
        histories
    }

    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// Customers in all histories.
    pub fn customers(&self) -> f64 {
        self.count.iter().sum()
    }
}

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
