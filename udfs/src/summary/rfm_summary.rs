//! `rfm_summary`: the per-customer BTYD summary (frequency, recency, T,
//! monetary value) of raw transactions, as `lifetimes` computes it.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Decimal128Array, Float64Array, Int64Array, ListArray,
    PrimitiveArray, StringArray, StructArray, UInt8Array,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, FieldRef, Fields, Int32Type, Int64Type};
use datafusion_common::{Result, ScalarValue, exec_err, internal_err};
use datafusion_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion_expr::{
    Accumulator, AggregateUDFImpl, Documentation, EmitTo, GroupsAccumulator, Signature,
};
use datafusion_macros::user_doc;
use smallvec::SmallVec;

use super::{DECIMAL_STATE, coerce_log, constant_unit, decimal_array, exact_amount, format_day};
use crate::common::{
    Listed, lenient, parse_times, refuse_distinct, signature, time_type, units_per_day,
};
use crate::math::calendar::PeriodUnit;
use crate::math::exact_sum::ExactSum;

const NAME: &str = "rfm_summary";
const PARAMS: [&str; 4] = ["order_ts", "amount", "as_of", "unit"];

#[user_doc(
    doc_section(label = "Customer summaries"),
    description = r#"Summarises one customer's transactions (use with `GROUP BY customer`) the way the BTYD literature and Python's `lifetimes` (`summary_data_from_transaction_data`) do. Transactions are grouped into calendar periods of `unit`; several orders in one period count as one purchase whose spend is their sum.

Returns a struct:
- `frequency` (BIGINT): number of repeat purchase periods (distinct periods − 1);
- `recency` (DOUBLE): periods from the first to the last purchase period;
- `t` (DOUBLE): periods from the first purchase period to the period of `as_of` (the customer's age, `T` in the papers);
- `monetary_value` (DOUBLE): mean spend of the repeat purchase periods (the first period excluded), 0 without repeats;
- `orders` (BIGINT): transactions counted; `total_spend` (DOUBLE): their sum, first period included;
- `first_purchase`, `last_purchase`: the earliest and latest transaction counted (same type as `order_ts`);
- `unit` (TEXT): the unit of `recency` and `t`, which fits record in their model and scorers check.

Pass the whole struct to the fits and scorers in place of its columns (`bgnbd_fit(s)`, `p_alive(s, model)`, `clv(s, model, spend_model, ...)`, `rfm_score(s) OVER ()`).

Rules: transactions dated after the day of `as_of` are ignored (the whole `as_of` day counts). Rows where `order_ts`, `amount` or `as_of` is NULL are ignored, as SQL aggregates ignore NULLs; a customer with no transaction left gives NULL. Negative amounts (returns) are added to their period's spend and the period still counts as a purchase; filter them out with `FILTER (WHERE amount > 0)` to count only purchases. `as_of` must be the same for all rows of a customer. Time zones: timestamps are bucketed by their UTC day. Sums are exact (fixed point), so results do not depend on the order in which rows arrive."#,
    syntax_example = "rfm_summary(order_ts, amount, as_of [, unit])",
    sql_example = r#"```sql
> SELECT customer_id, rfm_summary(order_ts, amount, DATE '1997-09-30', 'week') AS s
  FROM (VALUES (1, DATE '1997-01-01', 10.0), (1, DATE '1997-01-02', 5.0),
               (1, DATE '1997-02-12', 20.0), (2, DATE '1997-03-03', 8.0)) AS t(customer_id, order_ts, amount)
  GROUP BY customer_id ORDER BY customer_id;
+-------------+--------------------------------------------------------------------------------------------------------------------------------------------------------------+
| customer_id | s                                                                                                                                                            |
+-------------+--------------------------------------------------------------------------------------------------------------------------------------------------------------+
| 1           | {frequency: 1, recency: 6.0, t: 39.0, monetary_value: 20.0, orders: 3, total_spend: 35.0, first_purchase: 1997-01-01, last_purchase: 1997-02-12, unit: week} |
| 2           | {frequency: 0, recency: 0.0, t: 30.0, monetary_value: 0.0, orders: 1, total_spend: 8.0, first_purchase: 1997-03-03, last_purchase: 1997-03-03, unit: week}   |
+-------------+--------------------------------------------------------------------------------------------------------------------------------------------------------------+
```"#,
    argument(
        name = "order_ts",
        description = "Date or timestamp of the transaction."
    ),
    argument(name = "amount", description = "Value of the transaction (numeric)."),
    argument(
        name = "as_of",
        description = "Last day of the observation period (inclusive): a date, timestamp or string literal, or a column with one value per customer."
    ),
    argument(
        name = "unit",
        description = "Period length: 'day' (default), 'week' (ISO weeks starting Monday, as pandas' 'W'), 'month', 'quarter' or 'year' (calendar periods)."
    ),
    related_udf(name = "rfm_score"),
    related_udf(name = "segment_of")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RfmSummaryFunc {
    signature: Signature,
}

impl Default for RfmSummaryFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl RfmSummaryFunc {
    pub fn new() -> Self {
        Self {
            signature: signature(
                &PARAMS,
                &[
                    &[Listed::Date, Listed::Float, Listed::Date, Listed::Text],
                    &[Listed::Timestamp, Listed::Float, Listed::Date, Listed::Text],
                ],
            ),
        }
    }
}

/// The struct fields `rfm_summary` returns for an `order_ts` of `time_type`.
fn output_fields(time_type: &DataType) -> Fields {
    Fields::from(vec![
        Field::new("frequency", DataType::Int64, true),
        Field::new("recency", DataType::Float64, true),
        Field::new("t", DataType::Float64, true),
        Field::new("monetary_value", DataType::Float64, true),
        Field::new("orders", DataType::Int64, true),
        Field::new("total_spend", DataType::Float64, true),
        Field::new("first_purchase", time_type.clone(), true),
        Field::new("last_purchase", time_type.clone(), true),
        Field::new("unit", DataType::Utf8, true),
    ])
}

/// The argument types after coercion, or an error naming the argument.
fn coerce(arg_types: &[DataType]) -> Result<Vec<DataType>> {
    coerce_log(NAME, &PARAMS, arg_types)
}

impl AggregateUDFImpl for RfmSummaryFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        lenient(arg_types, coerce)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let arg_types = coerce(arg_types)?;
        Ok(DataType::Struct(output_fields(&time_type(&arg_types[0]))))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        refuse_distinct(NAME, args.is_distinct)?;
        let time_type = time_type(args.input_fields[0].data_type());
        let field = |name: &str, data_type: DataType| {
            Arc::new(Field::new(
                format!("{}[{name}]", args.name),
                data_type,
                true,
            ))
        };
        Ok(vec![
            field("unit", DataType::UInt8),
            field("as_of_day", DataType::Int64),
            field("orders", DataType::Int64),
            field("first_ts", time_type.clone()),
            field("last_ts", time_type.clone()),
            field("first_period_spend", DECIMAL_STATE),
            field("total_spend", DECIMAL_STATE),
            field(
                "periods",
                DataType::List(Arc::new(Field::new_list_field(DataType::Int32, false))),
            ),
        ])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(RfmSummaryAccumulator(SummaryGroups::new(&args))))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(SummaryGroups::new(&args)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// Code of a unit in the state; 0 marks "no rows yet".
fn unit_code(unit: PeriodUnit) -> u8 {
    match unit {
        PeriodUnit::Day => 1,
        PeriodUnit::Week => 2,
        PeriodUnit::Month => 3,
        PeriodUnit::Quarter => 4,
        PeriodUnit::Year => 5,
    }
}

fn unit_from_code(code: u8) -> Result<PeriodUnit> {
    Ok(match code {
        1 => PeriodUnit::Day,
        2 => PeriodUnit::Week,
        3 => PeriodUnit::Month,
        4 => PeriodUnit::Quarter,
        5 => PeriodUnit::Year,
        _ => return internal_err!("{NAME}: unknown unit code {code} in state"),
    })
}

/// One batch of arguments, decoded: times as raw integers, days computed.
struct Inputs {
    /// Raw `order_ts` values (days for dates, timestamp units otherwise).
    ts: Int64Array,
    amount: Float64Array,
    as_of_day: Int64Array,
    unit: PeriodUnit,
}

/// The set of distinct purchase periods of one customer, sorted. Most
/// customers buy in a handful of periods: up to four live inline, without
/// a heap allocation.
#[derive(Debug, Default, Clone)]
struct PeriodSet(SmallVec<[i32; 4]>);

impl PeriodSet {
    /// Inserts `period`; returns the growth of the heap allocation in bytes.
    fn insert(&mut self, period: i32) -> usize {
        match self.0.binary_search(&period) {
            Ok(_) => 0,
            Err(at) => {
                let before = self.heap_bytes();
                self.0.insert(at, period);
                self.heap_bytes() - before
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        if self.0.spilled() {
            self.0.capacity() * size_of::<i32>()
        } else {
            0
        }
    }
}

/// What rfm_summary keeps of one customer. One struct per customer (not a
/// vector per field): each row touches one customer, and this way one or two
/// cache lines rather than seven.
#[derive(Debug, Clone)]
struct Customer {
    /// Day of `as_of`, `i64::MIN` until the customer's first row.
    as_of_day: i64,
    /// Transactions counted; 0 means none yet.
    orders: i64,
    first_ts: i64,
    last_ts: i64,
    /// The period of `first_ts`, valid when `orders > 0`.
    first_period: i32,
    first_period_spend: ExactSum,
    total_spend: ExactSum,
    periods: PeriodSet,
}

impl Default for Customer {
    fn default() -> Self {
        Self {
            as_of_day: i64::MIN,
            orders: 0,
            first_ts: i64::MAX,
            last_ts: i64::MIN,
            first_period: i32::MAX,
            first_period_spend: ExactSum::default(),
            total_spend: ExactSum::default(),
            periods: PeriodSet::default(),
        }
    }
}

impl Customer {
    /// Records that the customer is observed as of `as_of_day`.
    fn check_as_of(&mut self, as_of_day: i64) -> Result<()> {
        if self.as_of_day == i64::MIN {
            self.as_of_day = as_of_day;
        } else if self.as_of_day != as_of_day {
            return exec_err!(
                "{NAME}: argument as_of must be the same for all rows of a customer, got {} and {}",
                format_day(self.as_of_day),
                format_day(as_of_day)
            );
        }
        Ok(())
    }

    /// Adds purchases (one transaction, or a partial state) whose first
    /// transaction lies in `first_period`.
    fn add(
        &mut self,
        orders: i64,
        (first_ts, last_ts): (i64, i64),
        first_period: i32,
        first_period_spend: ExactSum,
        total_spend: ExactSum,
    ) {
        if self.orders == 0 || first_period < self.first_period {
            self.first_period = first_period;
            self.first_period_spend = first_period_spend;
        } else if first_period == self.first_period {
            self.first_period_spend = self.first_period_spend.add(first_period_spend);
        }
        self.orders += orders;
        self.first_ts = self.first_ts.min(first_ts);
        self.last_ts = self.last_ts.max(last_ts);
        self.total_spend = self.total_spend.add(total_spend);
    }
}

/// Customers in fixed blocks, so that adding groups never moves the ones
/// already there. One vector of a million customers doubled its way up,
/// copying and faulting in fresh pages each time: half of a summary's time
/// (perf, 1M customers, mimalloc with transparent huge pages).
#[derive(Debug, Default)]
struct CustomerBlocks {
    blocks: Vec<Vec<Customer>>,
    len: usize,
}

/// Customers per block (~100 KB).
const BLOCK: usize = 1024;

impl CustomerBlocks {
    fn len(&self) -> usize {
        self.len
    }

    fn capacity(&self) -> usize {
        self.blocks.len() * BLOCK
    }

    /// Grows to `len` customers (never shrinks).
    fn grow_to(&mut self, len: usize) {
        while self.capacity() < len {
            self.blocks.push(vec![Customer::default(); BLOCK]);
        }
        self.len = self.len.max(len);
    }

    fn iter(&self) -> impl Iterator<Item = &Customer> {
        self.blocks.iter().flatten().take(self.len)
    }

    /// Removes the first `n` customers, moving the rest to the front.
    fn remove_first(&mut self, n: usize) {
        let rest: Vec<Customer> = std::mem::take(&mut self.blocks)
            .into_iter()
            .flatten()
            .take(self.len)
            .skip(n)
            .collect();
        self.len = 0;
        self.grow_to(rest.len());
        for (i, customer) in rest.into_iter().enumerate() {
            self[i] = customer;
        }
    }
}

impl std::ops::Index<usize> for CustomerBlocks {
    type Output = Customer;
    fn index(&self, i: usize) -> &Customer {
        &self.blocks[i / BLOCK][i % BLOCK]
    }
}

impl std::ops::IndexMut<usize> for CustomerBlocks {
    fn index_mut(&mut self, i: usize) -> &mut Customer {
        &mut self.blocks[i / BLOCK][i % BLOCK]
    }
}

/// Per-customer state of one aggregation.
#[derive(Debug)]
struct SummaryGroups {
    ts_type: DataType,
    ts_units_per_day: i64,
    as_of_units_per_day: i64,
    unit: Option<PeriodUnit>,
    customers: CustomerBlocks,
    period_heap_bytes: usize,
}

impl SummaryGroups {
    fn new(args: &AccumulatorArgs) -> Self {
        let ts_type = time_type(args.expr_fields[0].data_type());
        let as_of_type = time_type(args.expr_fields[2].data_type());
        Self {
            ts_units_per_day: units_per_day(&ts_type),
            as_of_units_per_day: units_per_day(&as_of_type),
            ts_type,
            unit: None,
            customers: CustomerBlocks::default(),
            period_heap_bytes: 0,
        }
    }

    fn resize(&mut self, groups: usize) {
        self.customers.grow_to(groups);
    }

    /// `unit`, if it agrees with the unit of the rows seen so far.
    fn check_unit(&self, unit: PeriodUnit) -> Result<PeriodUnit> {
        match self.unit {
            Some(seen) if seen != unit => exec_err!(
                "{NAME}: argument unit must be the same for all rows, got '{seen}' and '{unit}'"
            ),
            _ => Ok(unit),
        }
    }

    /// The unit of this aggregation, which must not change between rows.
    fn set_unit(&mut self, unit: PeriodUnit) -> Result<PeriodUnit> {
        let unit = self.check_unit(unit)?;
        self.unit = Some(unit);
        Ok(unit)
    }

    fn decode(&self, values: &[ArrayRef]) -> Result<Inputs> {
        let unit = match values.get(3) {
            Some(unit) => constant_unit(NAME, unit)?,
            None => PeriodUnit::Day,
        };
        let unit = self.check_unit(unit)?;
        let ts = cast(&parse_times(NAME, PARAMS[0], &values[0])?, &DataType::Int64)?
            .as_primitive::<Int64Type>()
            .clone();
        let as_of = cast(&parse_times(NAME, PARAMS[2], &values[2])?, &DataType::Int64)?;
        let per_day = self.as_of_units_per_day;
        let as_of_day = as_of
            .as_primitive::<Int64Type>()
            .unary(|raw: i64| raw.div_euclid(per_day));
        Ok(Inputs {
            ts,
            amount: values[1].as_primitive().clone(),
            as_of_day,
            unit,
        })
    }

    fn day_of(&self, raw_ts: i64) -> i64 {
        raw_ts.div_euclid(self.ts_units_per_day)
    }

    fn period_of(&self, unit: PeriodUnit, raw_ts: i64) -> Result<i32> {
        let period = unit.period_of_day(self.day_of(raw_ts));
        i32::try_from(period).or_else(|_| {
            exec_err!("{NAME}: argument order_ts value {raw_ts} is out of the supported range")
        })
    }

    /// Builds the result for the first `n` groups without consuming them.
    fn output(&self, n: usize) -> Result<ArrayRef> {
        let Some(unit) = self.unit else {
            return Ok(null_output(&self.ts_type, n));
        };
        let customers = || self.customers.iter().take(n);
        let mut frequency = Vec::with_capacity(n);
        let mut recency = Vec::with_capacity(n);
        let mut age = Vec::with_capacity(n);
        let mut monetary = Vec::with_capacity(n);
        let mut total = Vec::with_capacity(n);
        for c in customers() {
            if c.orders == 0 {
                frequency.push(0);
                recency.push(0.0);
                age.push(0.0);
                monetary.push(0.0);
                total.push(0.0);
                continue;
            }
            let first = i64::from(c.first_period);
            let last = unit.period_of_day(self.day_of(c.last_ts));
            let now = unit.period_of_day(c.as_of_day);
            let repeats = c.periods.0.len() as i64 - 1;
            frequency.push(repeats);
            recency.push((last - first) as f64);
            age.push((now - first) as f64);
            let total_spend = c.total_spend.to_f64();
            let repeat_spend = c.total_spend.sub(c.first_period_spend).to_f64();
            let (Some(total_spend), Some(repeat_spend)) = (total_spend, repeat_spend) else {
                return exec_err!("{NAME}: a customer's total spend exceeds ±9.2e18");
            };
            monetary.push(if repeats > 0 {
                repeat_spend / repeats as f64
            } else {
                0.0
            });
            total.push(total_spend);
        }
        // Fields are NULL where the struct is, so `s['frequency']` of a
        // customer without purchases is NULL too.
        let valid = NullBuffer::from_iter(customers().map(|c| c.orders > 0));
        let nulls = || Some(valid.clone());
        let time = |raw: Vec<i64>| -> Result<ArrayRef> {
            let raw = Int64Array::new(raw.into(), nulls());
            cast(&raw, &self.ts_type).map_err(Into::into)
        };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::new(frequency.into(), nulls())),
            Arc::new(Float64Array::new(recency.into(), nulls())),
            Arc::new(Float64Array::new(age.into(), nulls())),
            Arc::new(Float64Array::new(monetary.into(), nulls())),
            Arc::new(Int64Array::new(
                customers().map(|c| c.orders).collect(),
                nulls(),
            )),
            Arc::new(Float64Array::new(total.into(), nulls())),
            time(customers().map(|c| c.first_ts).collect())?,
            time(customers().map(|c| c.last_ts).collect())?,
            Arc::new(unit_column(unit, &valid)),
        ];
        Ok(Arc::new(StructArray::try_new(
            output_fields(&self.ts_type),
            columns,
            Some(valid),
        )?))
    }

    /// The state of the first `n` groups, without consuming them.
    fn state_arrays(&self, n: usize) -> Result<Vec<ArrayRef>> {
        let code = self.unit.map(unit_code).unwrap_or(0);
        let customers = || self.customers.iter().take(n);
        let times = |ts: fn(&Customer) -> i64| -> Result<ArrayRef> {
            let raw = Int64Array::from_iter_values(customers().map(ts));
            cast(&raw, &self.ts_type).map_err(Into::into)
        };
        Ok(vec![
            Arc::new(UInt8Array::from(vec![code; n])),
            Arc::new(Int64Array::from_iter_values(
                customers().map(|c| c.as_of_day),
            )),
            Arc::new(Int64Array::from_iter_values(customers().map(|c| c.orders))),
            times(|c| c.first_ts)?,
            times(|c| c.last_ts)?,
            decimal_array(customers().map(|c| c.first_period_spend.0))?,
            decimal_array(customers().map(|c| c.total_spend.0))?,
            Arc::new(period_lists(customers().map(|c| c.periods.0.as_slice()))),
        ])
    }

    fn drain(&mut self, emit_to: EmitTo) {
        let n = self.emit_count(emit_to);
        let freed: usize = self
            .customers
            .iter()
            .take(n)
            .map(|c| c.periods.heap_bytes())
            .sum();
        self.customers.remove_first(n);
        self.period_heap_bytes = self.period_heap_bytes.saturating_sub(freed);
    }

    fn emit_count(&self, emit_to: EmitTo) -> usize {
        match emit_to {
            EmitTo::All => self.customers.len(),
            EmitTo::First(n) => n,
        }
    }

    fn update(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let inputs = self.decode(values)?;
        self.unit = Some(inputs.unit);
        self.resize(total_num_groups);
        for (row, &group) in group_indices.iter().enumerate() {
            let Some(raw_ts) = counted_row(&inputs, opt_filter, row)? else {
                continue;
            };
            let as_of_day = inputs.as_of_day.value(row);
            self.customers[group].check_as_of(as_of_day)?;
            if self.day_of(raw_ts) > as_of_day {
                continue;
            }
            let spend = exact_amount(NAME, inputs.amount.value(row))?;
            let period = self.period_of(inputs.unit, raw_ts)?;
            let customer = &mut self.customers[group];
            customer.add(1, (raw_ts, raw_ts), period, spend, spend);
            self.period_heap_bytes += customer.periods.insert(period);
        }
        Ok(())
    }

    fn merge(&mut self, values: &[ArrayRef], group_indices: &[usize], total: usize) -> Result<()> {
        self.resize(total);
        let codes = values[0].as_primitive::<arrow::datatypes::UInt8Type>();
        let as_of_day = values[1].as_primitive::<Int64Type>();
        let orders = values[2].as_primitive::<Int64Type>();
        let first_ts = cast(&values[3], &DataType::Int64)?;
        let first_ts = first_ts.as_primitive::<Int64Type>();
        let last_ts = cast(&values[4], &DataType::Int64)?;
        let last_ts = last_ts.as_primitive::<Int64Type>();
        let first_spend = values[5].as_primitive::<arrow::datatypes::Decimal128Type>();
        let total_spend = values[6].as_primitive::<arrow::datatypes::Decimal128Type>();
        let periods = values[7].as_list::<i32>();
        let period_values = periods.values().as_primitive::<Int32Type>().values();
        let offsets = periods.value_offsets();
        for (row, &group) in group_indices.iter().enumerate() {
            if orders.is_null(row) || orders.value(row) == 0 {
                continue;
            }
            let unit = self.set_unit(unit_from_code(codes.value(row))?)?;
            let first_period = self.period_of(unit, first_ts.value(row))?;
            let customer = &mut self.customers[group];
            customer.check_as_of(as_of_day.value(row))?;
            customer.add(
                orders.value(row),
                (first_ts.value(row), last_ts.value(row)),
                first_period,
                ExactSum(first_spend.value(row)),
                ExactSum(total_spend.value(row)),
            );
            let list = &period_values[offsets[row] as usize..offsets[row + 1] as usize];
            for &period in list {
                self.period_heap_bytes += customer.periods.insert(period);
            }
        }
        Ok(())
    }
}

/// The raw timestamp of `row` when the row counts: not filtered out and no
/// NULL among `order_ts`, `amount` and `as_of`.
fn counted_row(inputs: &Inputs, filter: Option<&BooleanArray>, row: usize) -> Result<Option<i64>> {
    if let Some(filter) = filter
        && (filter.is_null(row) || !filter.value(row))
    {
        return Ok(None);
    }
    if inputs.ts.is_null(row) || inputs.amount.is_null(row) || inputs.as_of_day.is_null(row) {
        return Ok(None);
    }
    Ok(Some(inputs.ts.value(row)))
}

fn period_lists<'a>(lists: impl Iterator<Item = &'a [i32]>) -> ListArray {
    let mut offsets = vec![0i32];
    let mut values = vec![];
    for list in lists {
        values.extend_from_slice(list);
        offsets.push(values.len() as i32);
    }
    period_list_array(offsets, values)
}

/// The `periods` state column from list offsets and the periods they index.
fn period_list_array(offsets: Vec<i32>, periods: Vec<i32>) -> ListArray {
    ListArray::new(
        Arc::new(Field::new_list_field(DataType::Int32, false)),
        OffsetBuffer::new(offsets.into()),
        Arc::new(PrimitiveArray::<Int32Type>::from(periods)),
        None,
    )
}

/// The `unit` field: the unit's name where the struct is valid.
fn unit_column(unit: PeriodUnit, valid: &NullBuffer) -> StringArray {
    let name = unit.to_string();
    let values = name.repeat(valid.len());
    let offsets = OffsetBuffer::from_lengths(std::iter::repeat_n(name.len(), valid.len()));
    StringArray::new(offsets, values.into_bytes().into(), Some(valid.clone()))
}

fn null_output(ts_type: &DataType, n: usize) -> ArrayRef {
    Arc::new(StructArray::new_null(output_fields(ts_type), n))
}

impl GroupsAccumulator for SummaryGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.update(values, group_indices, opt_filter, total_num_groups)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let output = self.output(self.emit_count(emit_to))?;
        self.drain(emit_to);
        Ok(output)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let state = self.state_arrays(self.emit_count(emit_to))?;
        self.drain(emit_to);
        Ok(state)
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.merge(values, group_indices, total_num_groups)
    }

    /// Each row becomes the state of a customer with that one transaction,
    /// computed column by column.
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let inputs = self.decode(values)?;
        let rows = inputs.ts.len();
        let mut counted = Vec::with_capacity(rows);
        let mut spend = Vec::with_capacity(rows);
        let mut periods = Vec::with_capacity(rows);
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0i32);
        for row in 0..rows {
            let in_window = counted_row(&inputs, opt_filter, row)?
                .filter(|&raw_ts| self.day_of(raw_ts) <= inputs.as_of_day.value(row));
            if let Some(raw_ts) = in_window {
                spend.push(exact_amount(NAME, inputs.amount.value(row))?.0);
                periods.push(self.period_of(inputs.unit, raw_ts)?);
            } else {
                spend.push(0);
            }
            counted.push(i64::from(in_window.is_some()));
            offsets.push(periods.len() as i32);
        }
        let spend = Arc::new(Decimal128Array::from(spend).with_precision_and_scale(38, 0)?);
        let raw_ts = Arc::new(inputs.ts) as ArrayRef;
        let lists = period_list_array(offsets, periods);
        Ok(vec![
            Arc::new(UInt8Array::from(vec![unit_code(inputs.unit); rows])),
            Arc::new(inputs.as_of_day),
            Arc::new(Int64Array::from(counted)),
            cast(&raw_ts, &self.ts_type)?,
            cast(&raw_ts, &self.ts_type)?,
            Arc::clone(&spend) as ArrayRef,
            spend,
            Arc::new(lists),
        ])
    }

    fn size(&self) -> usize {
        size_of::<Self>()
            + self.customers.capacity() * size_of::<Customer>()
            + self.period_heap_bytes
    }
}

/// The plain accumulator (no GROUP BY, or a window): one group.
#[derive(Debug)]
struct RfmSummaryAccumulator(SummaryGroups);

impl Accumulator for RfmSummaryAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let groups = vec![0; values[0].len()];
        self.0.update(values, &groups, None, 1)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let groups = vec![0; states[0].len()];
        self.0.merge(states, &groups, 1)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.0.resize(1);
        self.0
            .state_arrays(1)?
            .iter()
            .map(|array| ScalarValue::try_from_array(array, 0))
            .collect()
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.0.resize(1);
        ScalarValue::try_from_array(&self.0.output(1)?, 0)
    }

    fn size(&self) -> usize {
        self.0.size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Date32Array, StringArray};
    use arrow::datatypes::Schema;
    use datafusion_expr::AggregateUDF;

    fn groups(ts_type: DataType) -> SummaryGroups {
        let fields: Vec<FieldRef> = vec![
            Arc::new(Field::new("ts", ts_type.clone(), true)),
            Arc::new(Field::new("amount", DataType::Float64, true)),
            Arc::new(Field::new("as_of", DataType::Date32, true)),
        ];
        let return_field = Arc::new(Field::new(
            "s",
            DataType::Struct(output_fields(&ts_type)),
            true,
        ));
        let schema = Schema::empty();
        let args = AccumulatorArgs {
            return_field,
            schema: &schema,
            ignore_nulls: false,
            order_bys: &[],
            is_reversed: false,
            name: NAME,
            is_distinct: false,
            exprs: &[],
            expr_fields: &fields,
        };
        SummaryGroups::new(&args)
    }

    /// 1997-01-01 as a day number.
    const JAN1: i32 = 9862;

    fn batch(days: &[i32], amounts: &[Option<f64>], unit: &str) -> Vec<ArrayRef> {
        vec![
            Arc::new(Date32Array::from(days.to_vec())),
            Arc::new(Float64Array::from(amounts.to_vec())),
            Arc::new(Date32Array::from(vec![JAN1 + 272; days.len()])),
            Arc::new(StringArray::from(vec![unit; days.len()])),
        ]
    }

    fn field(output: &ArrayRef, name: &str, row: usize) -> ScalarValue {
        let output = output.as_struct();
        ScalarValue::try_from_array(output.column_by_name(name).unwrap(), row).unwrap()
    }

    #[test]
    fn summary_of_two_customers_in_weeks() {
        let mut acc = groups(DataType::Date32);
        // Customer 0: Wed 1 Jan and Thu 2 Jan share a week; 12 Feb is 6 weeks later;
        // 1 Oct is after as_of (30 Sep) and ignored. Customer 1: one order.
        let values = batch(
            &[JAN1, JAN1 + 1, JAN1 + 42, JAN1 + 273, JAN1 + 61],
            &[Some(10.0), Some(5.0), Some(20.0), Some(99.0), Some(8.0)],
            "week",
        );
        acc.update_batch(&values, &[0, 0, 0, 0, 1], None, 2)
            .unwrap();
        let out = acc.evaluate(EmitTo::All).unwrap();
        assert_eq!(field(&out, "frequency", 0), ScalarValue::Int64(Some(1)));
        assert_eq!(field(&out, "recency", 0), ScalarValue::Float64(Some(6.0)));
        assert_eq!(field(&out, "t", 0), ScalarValue::Float64(Some(39.0)));
        assert_eq!(
            field(&out, "monetary_value", 0),
            ScalarValue::Float64(Some(20.0))
        );
        assert_eq!(field(&out, "orders", 0), ScalarValue::Int64(Some(3)));
        assert_eq!(
            field(&out, "total_spend", 0),
            ScalarValue::Float64(Some(35.0))
        );
        assert_eq!(field(&out, "frequency", 1), ScalarValue::Int64(Some(0)));
        assert_eq!(
            field(&out, "monetary_value", 1),
            ScalarValue::Float64(Some(0.0))
        );
    }

    #[test]
    fn merged_partial_states_equal_one_pass() {
        let days = [JAN1 + 5, JAN1, JAN1 + 40, JAN1 + 40, JAN1 + 100];
        let amounts = [Some(1.5), Some(2.25), Some(3.0), Some(4.0), None];
        let groups_of = [0, 0, 0, 1, 1];

        let mut whole = groups(DataType::Date32);
        whole
            .update_batch(&batch(&days, &amounts, "day"), &groups_of, None, 2)
            .unwrap();
        let expected = whole.evaluate(EmitTo::All).unwrap();

        // Rows converted one by one to states and merged in reverse order.
        let converter = groups(DataType::Date32);
        let states = converter
            .convert_to_state(&batch(&days, &amounts, "day"), None)
            .unwrap();
        let mut merged = groups(DataType::Date32);
        for row in (0..days.len()).rev() {
            let slice: Vec<ArrayRef> = states.iter().map(|s| s.slice(row, 1)).collect();
            merged.merge_batch(&slice, &[groups_of[row]], 2).unwrap();
        }
        assert_eq!(&merged.evaluate(EmitTo::All).unwrap(), &expected);
    }

    #[test]
    fn customers_without_counted_rows_are_null() {
        let mut acc = groups(DataType::Date32);
        let values = batch(&[JAN1, JAN1 + 300], &[None, Some(3.0)], "day");
        acc.update_batch(&values, &[0, 1], None, 3).unwrap();
        let out = acc.evaluate(EmitTo::All).unwrap();
        assert_eq!(out.null_count(), 3);
    }

    #[test]
    fn bad_values_are_errors_naming_the_argument() {
        let mut acc = groups(DataType::Date32);
        let err = acc
            .update_batch(&batch(&[JAN1], &[Some(f64::NAN)], "day"), &[0], None, 1)
            .unwrap_err();
        assert!(
            err.to_string().contains("rfm_summary: argument amount"),
            "{err}"
        );
        let err = acc
            .update_batch(&batch(&[JAN1], &[Some(1.0)], "fortnight"), &[0], None, 1)
            .unwrap_err();
        assert!(err.to_string().contains("got 'fortnight'"), "{err}");
    }

    #[test]
    fn coercion_errors_name_function_and_argument() {
        let udaf = AggregateUDF::new_from_impl(RfmSummaryFunc::new());
        let err = udaf
            .return_type(&[DataType::Int64, DataType::Float64, DataType::Date32])
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("rfm_summary: argument order_ts must be a DATE"),
            "{err}"
        );
        let err = udaf.return_type(&[DataType::Date32]).unwrap_err();
        assert!(
            err.to_string()
                .contains("rfm_summary takes 3 to 4 arguments"),
            "{err}"
        );
    }
}
