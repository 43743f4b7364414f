//! clvsql's functions with their panics turned into errors.
//!
//! datafusion-python calls a function through DataFusion's FFI, whose entry
//! points are `extern "C"`: a panic unwinding out of one aborts the Python
//! interpreter with the user's session in it. clvsql's functions answer bad
//! input with errors, but a bug must not cost a notebook, so every call
//! into them that runs clvsql's code (planning hooks, accumulators,
//! evaluators) goes through [`guarded`], and a panic becomes an error naming
//! the function.

use std::any::Any;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray};
use arrow::datatypes::{DataType, FieldRef};
use datafusion_common::{DataFusionError, Result, ScalarValue};
use datafusion_expr::function::{
    AccumulatorArgs, PartitionEvaluatorArgs, StateFieldsArgs, WindowUDFFieldArgs,
};
use datafusion_expr::window_state::WindowAggState;
use datafusion_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, Documentation, EmitTo,
    GroupsAccumulator, PartitionEvaluator, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, WindowUDF, WindowUDFImpl,
};

/// `f()`, or an error naming `function` if it panics.
pub fn guarded<T>(function: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        Err(DataFusionError::Execution(format!(
            "{function} failed unexpectedly (a bug in clvsql; please report it): {}",
            panic_message(payload.as_ref())
        )))
    })
}

/// The message a panic was raised with.
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(message) = payload.downcast_ref::<&str>() {
        message
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message
    } else {
        "panic"
    }
}

/// A scalar function whose calls are [`guarded`].
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct GuardedScalar(pub Arc<ScalarUDF>);

impl ScalarUDFImpl for GuardedScalar {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn aliases(&self) -> &[String] {
        self.0.aliases()
    }

    fn signature(&self) -> &Signature {
        self.0.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        guarded(self.name(), || self.0.return_type(arg_types))
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        guarded(self.name(), || self.0.return_field_from_args(args))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        guarded(self.name(), || self.0.invoke_with_args(args))
    }

    fn short_circuits(&self) -> bool {
        self.0.short_circuits()
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        guarded(self.name(), || self.0.coerce_types(arg_types))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.0.documentation()
    }
}

/// An aggregate function whose calls and accumulators are [`guarded`].
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct GuardedAggregate(pub Arc<AggregateUDF>);

impl AggregateUDFImpl for GuardedAggregate {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn aliases(&self) -> &[String] {
        self.0.aliases()
    }

    fn signature(&self) -> &Signature {
        self.0.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        guarded(self.name(), || self.0.return_type(arg_types))
    }

    fn return_field(&self, arg_fields: &[FieldRef]) -> Result<FieldRef> {
        guarded(self.name(), || self.0.return_field(arg_fields))
    }

    fn is_nullable(&self) -> bool {
        self.0.is_nullable()
    }

    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let inner = guarded(self.name(), || self.0.accumulator(acc_args))?;
        Ok(Box::new(GuardedAccumulator(self.0.name().into(), inner)))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        guarded(self.name(), || self.0.state_fields(args))
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.0.groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        let inner = guarded(self.name(), || self.0.create_groups_accumulator(args))?;
        Ok(Box::new(GuardedGroupsAccumulator(
            self.0.name().into(),
            inner,
        )))
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let inner = guarded(self.name(), || {
            self.0.inner().create_sliding_accumulator(args)
        })?;
        Ok(Box::new(GuardedAccumulator(self.0.name().into(), inner)))
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        guarded(self.name(), || self.0.coerce_types(arg_types))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.0.documentation()
    }
}

/// An accumulator whose calls are [`guarded`], with its function's name.
#[derive(Debug)]
struct GuardedAccumulator(Arc<str>, Box<dyn Accumulator>);

impl Accumulator for GuardedAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        guarded(&self.0, || self.1.update_batch(values))
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        guarded(&self.0, || self.1.evaluate())
    }

    fn size(&self) -> usize {
        self.1.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        guarded(&self.0, || self.1.state())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        guarded(&self.0, || self.1.merge_batch(states))
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        guarded(&self.0, || self.1.retract_batch(values))
    }

    fn supports_retract_batch(&self) -> bool {
        self.1.supports_retract_batch()
    }
}

/// A groups accumulator whose calls are [`guarded`], with its function's
/// name.
struct GuardedGroupsAccumulator(Arc<str>, Box<dyn GroupsAccumulator>);

impl GroupsAccumulator for GuardedGroupsAccumulator {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        guarded(&self.0, || {
            self.1
                .update_batch(values, group_indices, opt_filter, total_num_groups)
        })
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        guarded(&self.0, || self.1.evaluate(emit_to))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        guarded(&self.0, || self.1.state(emit_to))
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        guarded(&self.0, || {
            self.1.merge_batch(values, group_indices, total_num_groups)
        })
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        guarded(&self.0, || self.1.convert_to_state(values, opt_filter))
    }

    fn size(&self) -> usize {
        self.1.size()
    }
}

/// A window function whose calls and evaluators are [`guarded`].
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct GuardedWindow(pub Arc<WindowUDF>);

impl WindowUDFImpl for GuardedWindow {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn aliases(&self) -> &[String] {
        self.0.aliases()
    }

    fn signature(&self) -> &Signature {
        self.0.signature()
    }

    fn partition_evaluator(
        &self,
        partition_evaluator_args: PartitionEvaluatorArgs,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        let inner = guarded(self.name(), || {
            self.0.inner().partition_evaluator(partition_evaluator_args)
        })?;
        Ok(Box::new(GuardedEvaluator(self.0.name().into(), inner)))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        guarded(self.name(), || self.0.inner().field(field_args))
    }

    fn sort_options(&self) -> Option<arrow::compute::SortOptions> {
        self.0.sort_options()
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        guarded(self.name(), || self.0.coerce_types(arg_types))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.0.documentation()
    }
}

/// A partition evaluator whose calls are [`guarded`], with its function's
/// name.
#[derive(Debug)]
struct GuardedEvaluator(Arc<str>, Box<dyn PartitionEvaluator>);

impl PartitionEvaluator for GuardedEvaluator {
    fn memoize(&mut self, state: &mut WindowAggState) -> Result<()> {
        guarded(&self.0, || self.1.memoize(state))
    }

    fn get_range(&self, idx: usize, n_rows: usize) -> Result<Range<usize>> {
        guarded(&self.0, || self.1.get_range(idx, n_rows))
    }

    fn is_causal(&self) -> bool {
        self.1.is_causal()
    }

    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        guarded(&self.0, || self.1.evaluate_all(values, num_rows))
    }

    fn evaluate(&mut self, values: &[ArrayRef], range: &Range<usize>) -> Result<ScalarValue> {
        guarded(&self.0, || self.1.evaluate(values, range))
    }

    fn evaluate_all_with_rank(
        &self,
        num_rows: usize,
        ranks_in_partition: &[Range<usize>],
    ) -> Result<ArrayRef> {
        guarded(&self.0, || {
            self.1.evaluate_all_with_rank(num_rows, ranks_in_partition)
        })
    }

    fn supports_bounded_execution(&self) -> bool {
        self.1.supports_bounded_execution()
    }

    fn uses_window_frame(&self) -> bool {
        self.1.uses_window_frame()
    }

    fn include_rank(&self) -> bool {
        self.1.include_rank()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_naming_the_function() {
        let result: Result<()> = guarded("clv", || panic!("index out of bounds"));
        let message = result.unwrap_err().to_string();
        assert!(
            message.contains("clv failed unexpectedly") && message.contains("index out of bounds"),
            "{message}"
        );
        assert_eq!(guarded("clv", || Ok(7)).unwrap(), 7);
    }
}
