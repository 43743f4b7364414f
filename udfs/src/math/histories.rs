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
        let mut index: datafusion_common::HashMap<u64, u32> = datafusion_common::HashMap::default();
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
