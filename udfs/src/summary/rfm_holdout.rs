//! `rfm_holdout`: a customer's calibration summary and what they did in the
//! holdout period after it, in one pass, as `lifetimes`'
//! `calibration_and_holdout_data` computes them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, StringArray, StructArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Decimal128Type, Field, FieldRef, Fields, Int64Type};
use datafusion_common::{Result, ScalarValue, exec_err};
use datafusion_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion_expr::{Accumulator, AggregateUDFImpl, Documentation, Signature};
use datafusion_macros::user_doc;

use super::{DECIMAL_STATE, coerce_log, constant_unit, decimal_array, exact_amount, format_day};
use crate::common::one_list;
use crate::common::{
    Listed, lenient, parse_times, refuse_distinct, signature, time_type, units_per_day,
};
use crate::math::calendar::PeriodUnit;
use crate::math::exact_sum::ExactSum;

const NAME: &str = "rfm_holdout";
const PARAMS: [&str; 5] = [
    "order_ts",
    "amount",
    "calibration_end",
    "observation_end",
    "unit",
];

#[user_doc(
    doc_section(label = "Customer summaries"),
    description = r#"Splits one customer's transactions (use with `GROUP BY customer`) at `calibration_end` into a calibration summary to fit models on and the holdout outcome to check their predictions against, in one pass, as `lifetimes`' `calibration_and_holdout_data` does.

Returns a struct:
- `frequency_cal`, `recency_cal`, `t_cal`, `monetary_value_cal`: `rfm_summary(order_ts, amount, calibration_end, unit)` of the transactions up to the day of `calibration_end` (its `frequency`, `recency`, `t` and `monetary_value`);
- `frequency_holdout` (BIGINT): the periods of `unit` with a purchase after the day of `calibration_end` up to the day of `observation_end` (the quantity `expected_purchases(..., horizon => duration_holdout, ...)` predicts);
- `monetary_value_holdout` (DOUBLE): the mean value of those transactions (per transaction, as lifetimes has it), 0 without any;
- `duration_holdout` (DOUBLE): periods from the period of `calibration_end` to that of `observation_end`;
- `unit`: the unit, as text.

A customer whose first purchase comes after `calibration_end` did not exist at calibration and gives NULL (lifetimes leaves them out). Transactions after `observation_end` are ignored; NULLs in `order_ts`, `amount` or either end are ignored, as by `rfm_summary`. Errors: `observation_end` before `calibration_end`, either end differing between rows of a customer, the errors of `rfm_summary`."#,
    syntax_example = "rfm_holdout(order_ts, amount, calibration_end, observation_end [, unit])",
    sql_example = r#"```sql
> SELECT h['frequency_cal'] AS f_cal, h['recency_cal'] AS r_cal, h['t_cal'] AS t_cal,
         h['frequency_holdout'] AS f_holdout, h['duration_holdout'] AS duration
  FROM (SELECT rfm_holdout(order_ts, amount, DATE '1997-03-31', DATE '1997-06-30', 'week') AS h
        FROM (VALUES (DATE '1997-01-01', 10.0), (DATE '1997-02-12', 20.0),
                     (DATE '1997-04-10', 15.0), (DATE '1997-05-20', 5.0)) AS t(order_ts, amount));
+-------+-------+-------+-----------+----------+
| f_cal | r_cal | t_cal | f_holdout | duration |
+-------+-------+-------+-----------+----------+
| 1     | 6.0   | 13.0  | 2         | 13.0     |
+-------+-------+-------+-----------+----------+
```"#,
    argument(
        name = "order_ts",
        description = "Date or timestamp of the transaction."
    ),
    argument(name = "amount", description = "Value of the transaction (numeric)."),
    argument(
        name = "calibration_end",
        description = "Last day of the calibration period (inclusive): a date, timestamp or string literal."
    ),
    argument(
        name = "observation_end",
        description = "Last day of the holdout period (inclusive), not before `calibration_end`."
    ),
    argument(
        name = "unit",
        description = "Period length, as for `rfm_summary`: 'day' (default), 'week', 'month', 'quarter' or 'year'."
    ),
    related_udf(name = "rfm_summary"),
    related_udf(name = "expected_purchases")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RfmHoldoutFunc {
    signature: Signature,
}

impl Default for RfmHoldoutFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl RfmHoldoutFunc {
    pub fn new() -> Self {
        use Listed::{Date, Float, Text, Timestamp};
        Self {
            signature: signature(
                &PARAMS,
                &[
                    &[Date, Float, Date, Date, Text],
                    &[Timestamp, Float, Date, Date, Text],
                ],
            ),
        }
    }
}

fn output_fields() -> Fields {
    Fields::from(vec![
        Field::new("frequency_cal", DataType::Int64, true),
        Field::new("recency_cal", DataType::Float64, true),
        Field::new("t_cal", DataType::Float64, true),
        Field::new("monetary_value_cal", DataType::Float64, true),
        Field::new("frequency_holdout", DataType::Int64, true),
        Field::new("monetary_value_holdout", DataType::Float64, true),
        Field::new("duration_holdout", DataType::Float64, true),
        Field::new("unit", DataType::Utf8, true),
    ])
}

/// The argument types after coercion, or an error naming the argument.
fn coerce(arg_types: &[DataType]) -> Result<Vec<DataType>> {
    coerce_log(NAME, &PARAMS, arg_types)
}

impl AggregateUDFImpl for RfmHoldoutFunc {
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
        coerce(arg_types)?;
        Ok(DataType::Struct(output_fields()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        refuse_distinct(NAME, args.is_distinct)?;
        let field = |name: &str, data_type: DataType| {
            Arc::new(Field::new(
                format!("{}[{name}]", args.name),
                data_type,
                true,
            ))
        };
        let list =
            |data_type: DataType| DataType::List(Arc::new(Field::new_list_field(data_type, false)));
        Ok(vec![
            field("unit", DataType::Utf8),
            field("calibration_end", DataType::Int64),
            field("observation_end", DataType::Int64),
            field("periods", list(DataType::Int64)),
            field("spends", list(DECIMAL_STATE)),
            field("holdout_periods", list(DataType::Int64)),
            field("holdout_orders", DataType::Int64),
            field("holdout_spend", DECIMAL_STATE),
        ])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let per_day = |i: usize| units_per_day(&time_type(args.expr_fields[i].data_type()));
        Ok(Box::new(HoldoutAccumulator {
            units_per_day: [per_day(0), per_day(2), per_day(3)],
            unit: None,
            ends: None,
            calibration: BTreeMap::new(),
            holdout_periods: BTreeSet::new(),
            holdout_orders: 0,
            holdout_spend: ExactSum::default(),
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// One customer's calibration spend per period and holdout purchases.
#[derive(Debug)]
struct HoldoutAccumulator {
    /// Raw values per day of `order_ts`, `calibration_end`, `observation_end`.
    units_per_day: [i64; 3],
    unit: Option<PeriodUnit>,
    /// The days of `calibration_end` and `observation_end`.
    ends: Option<(i64, i64)>,
    /// Spend per calibration period.
    calibration: BTreeMap<i64, ExactSum>,
    holdout_periods: BTreeSet<i64>,
    holdout_orders: i64,
    holdout_spend: ExactSum,
}

impl HoldoutAccumulator {
    fn set_unit(&mut self, unit: PeriodUnit) -> Result<()> {
        match self.unit {
            Some(seen) if seen != unit => exec_err!(
                "{NAME}: argument unit must be the same for all rows, got '{seen}' and '{unit}'"
            ),
            _ => {
                self.unit = Some(unit);
                Ok(())
            }
        }
    }

    fn set_ends(&mut self, ends: (i64, i64)) -> Result<()> {
        if ends.1 < ends.0 {
            return exec_err!(
                "{NAME}: argument observation_end must not be before calibration_end, got {} before {}",
                format_day(ends.1),
                format_day(ends.0)
            );
        }
        match self.ends {
            Some(seen) if seen != ends => exec_err!(
                "{NAME}: arguments calibration_end and observation_end must be the same for all rows of a customer, got {} to {} and {} to {}",
                format_day(seen.0),
                format_day(seen.1),
                format_day(ends.0),
                format_day(ends.1)
            ),
            _ => {
                self.ends = Some(ends);
                Ok(())
            }
        }
    }
}

/// A time argument as days (NULL stays NULL).
fn days(arg: usize, values: &ArrayRef, per_day: i64) -> Result<Int64Array> {
    let raw = cast(&parse_times(NAME, PARAMS[arg], values)?, &DataType::Int64)?;
    Ok(raw
        .as_primitive::<Int64Type>()
        .unary(|raw: i64| raw.div_euclid(per_day)))
}

impl Accumulator for HoldoutAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let unit = match values.get(4) {
            Some(unit) => constant_unit(NAME, unit)?,
            None => PeriodUnit::Day,
        };
        self.set_unit(unit)?;
        let [ts_per_day, cal_per_day, obs_per_day] = self.units_per_day;
        let day = days(0, &values[0], ts_per_day)?;
        let amount = values[1].as_primitive::<arrow::datatypes::Float64Type>();
        let calibration_end = days(2, &values[2], cal_per_day)?;
        let observation_end = days(3, &values[3], obs_per_day)?;
        for row in 0..day.len() {
            if day.is_null(row)
                || amount.is_null(row)
                || calibration_end.is_null(row)
                || observation_end.is_null(row)
            {
                continue;
            }
            let ends = (calibration_end.value(row), observation_end.value(row));
            self.set_ends(ends)?;
            let spend = exact_amount(NAME, amount.value(row))?;
            let day = day.value(row);
            let period = unit.period_of_day(day);
            if day <= ends.0 {
                let total = self.calibration.entry(period).or_default();
                *total = total.add(spend);
            } else if day <= ends.1 {
                self.holdout_periods.insert(period);
                self.holdout_orders += 1;
                self.holdout_spend = self.holdout_spend.add(spend);
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let units = states[0].as_string::<i32>();
        let calibration_ends = states[1].as_primitive::<Int64Type>();
        let observation_ends = states[2].as_primitive::<Int64Type>();
        let periods = states[3].as_list::<i32>();
        let spends = states[4].as_list::<i32>();
        let holdout_periods = states[5].as_list::<i32>();
        let holdout_orders = states[6].as_primitive::<Int64Type>();
        let holdout_spend = states[7].as_primitive::<Decimal128Type>();
        for state in 0..units.len() {
            if units.is_valid(state) {
                let unit = constant_unit(NAME, &(Arc::new(units.slice(state, 1)) as ArrayRef))?;
                self.set_unit(unit)?;
            }
            if calibration_ends.is_valid(state) && observation_ends.is_valid(state) {
                self.set_ends((calibration_ends.value(state), observation_ends.value(state)))?;
            }
            if periods.is_valid(state) {
                let state_periods = periods.value(state);
                let state_spends = spends.value(state);
                let state_spends = state_spends.as_primitive::<Decimal128Type>();
                for (period, spend) in state_periods
                    .as_primitive::<Int64Type>()
                    .values()
                    .iter()
                    .zip(state_spends.values())
                {
                    let total = self.calibration.entry(*period).or_default();
                    *total = total.add(ExactSum(*spend));
                }
            }
            if holdout_periods.is_valid(state) {
                let state_periods = holdout_periods.value(state);
                self.holdout_periods
                    .extend(state_periods.as_primitive::<Int64Type>().values());
            }
            if holdout_orders.is_valid(state) {
                self.holdout_orders += holdout_orders.value(state);
                self.holdout_spend = self.holdout_spend.add(ExactSum(holdout_spend.value(state)));
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let (calibration_end, observation_end) = self.ends.unzip();
        let periods: Int64Array = self.calibration.keys().copied().collect();
        let holdout_periods: Int64Array = self.holdout_periods.iter().copied().collect();
        Ok(vec![
            ScalarValue::Utf8(self.unit.map(|u| u.to_string())),
            ScalarValue::Int64(calibration_end),
            ScalarValue::Int64(observation_end),
            one_list(Arc::new(periods)),
            one_list(decimal_array(self.calibration.values().map(|s| s.0))?),
            one_list(Arc::new(holdout_periods)),
            ScalarValue::Int64(Some(self.holdout_orders)),
            ScalarValue::Decimal128(Some(self.holdout_spend.0), 38, 0),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let fields = output_fields();
        let (Some(unit), Some((calibration_end, observation_end)), Some((first, first_spend))) =
            (self.unit, self.ends, self.calibration.first_key_value())
        else {
            return ScalarValue::try_from(DataType::Struct(fields));
        };
        let last = self
            .calibration
            .keys()
            .next_back()
            .copied()
            .unwrap_or(*first);
        let calibration_period = unit.period_of_day(calibration_end);
        let frequency = self.calibration.len() as i64 - 1;
        let total = self
            .calibration
            .values()
            .fold(ExactSum::default(), |sum, s| sum.add(*s));
        let mean = |sum: ExactSum, n: i64, what: &str| -> Result<f64> {
            if n == 0 {
                return Ok(0.0);
            }
            match sum.to_f64() {
                Some(sum) => Ok(sum / n as f64),
                None => exec_err!("{NAME}: the {what} of a customer overflowed"),
            }
        };
        let monetary_value = mean(total.sub(*first_spend), frequency, "calibration spend")?;
        let holdout_value = mean(self.holdout_spend, self.holdout_orders, "holdout spend")?;
        let one = |v: f64| Arc::new(Float64Array::from(vec![v])) as ArrayRef;
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![frequency])),
            one((last - first) as f64),
            one((calibration_period - first) as f64),
            one(monetary_value),
            Arc::new(Int64Array::from(vec![self.holdout_periods.len() as i64])),
            one(holdout_value),
            one((unit.period_of_day(observation_end) - calibration_period) as f64),
            Arc::new(StringArray::from(vec![unit.to_string()])),
        ];
        ScalarValue::try_from_array(&StructArray::try_new(fields, arrays, None)?, 0)
    }

    fn size(&self) -> usize {
        size_of_val(self)
            + self.calibration.len() * (size_of::<i64>() + size_of::<ExactSum>() + 32)
            + self.holdout_periods.len() * (size_of::<i64>() + 32)
    }
}
