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
use datafusion_common::config::ConfigOptions;
use datafusion_common::{DataFusionError, Result, ScalarValue};
use datafusion_expr::function::{
    AccumulatorArgs, PartitionEvaluatorArgs, StateFieldsArgs, WindowUDFFieldArgs,
};
use datafusion_expr::sort_properties::ExprProperties;
use datafusion_expr::utils::AggregateOrderSensitivity;
use datafusion_expr::window_state::WindowAggState;
use datafusion_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, Documentation, EmitTo,
    ExpressionPlacement, GroupsAccumulator, PartitionEvaluator, ReturnFieldArgs,
    ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, WindowUDF, WindowUDFImpl,
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

    fn with_updated_config(&self, config: &ConfigOptions) -> Option<ScalarUDF> {
        let updated = self.0.inner().with_updated_config(config)?;
        Some(ScalarUDF::new_from_impl(GuardedScalar(Arc::new(updated))))
    }

    fn preserves_lex_ordering(&self, inputs: &[ExprProperties]) -> Result<bool> {
        guarded(self.name(), || self.0.preserves_lex_ordering(inputs))
    }

    fn placement(&self, args: &[ExpressionPlacement]) -> ExpressionPlacement {
        self.0.placement(args)
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
        let inner = guarded(self.name(), || self.0.create_sliding_accumulator(args))?;
        Ok(Box::new(GuardedAccumulator(self.0.name().into(), inner)))
    }

    fn with_beneficial_ordering(
        self: Arc<Self>,
        beneficial_ordering: bool,
    ) -> Result<Option<Arc<dyn AggregateUDFImpl>>> {
        let name = self.name().to_string();
        let updated = guarded(&name, || {
            AggregateUDF::clone(&self.0).with_beneficial_ordering(beneficial_ordering)
        })?;
        Ok(updated.map(|f| Arc::new(GuardedAggregate(Arc::new(f))) as Arc<dyn AggregateUDFImpl>))
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        self.0.order_sensitivity()
    }

    fn supports_null_handling_clause(&self) -> bool {
        self.0.supports_null_handling_clause()
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
        guarded(self.name(), || self.0.field(field_args))
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
    //! A panic in each kind of function, called the way datafusion-python
    //! calls it: through the FFI, from a library that is not this one.

    use arrow::array::Float64Array;
    use arrow::datatypes::{Field, Schema};
    use datafusion_expr::{Volatility, function::AccumulatorArgs};
    use datafusion_ffi::udaf::FFI_AggregateUDF;
    use datafusion_ffi::udf::FFI_ScalarUDF;
    use datafusion_ffi::udwf::FFI_WindowUDF;
    use datafusion_physical_expr::expressions::col;

    use super::*;

    /// Makes the FFI take this library for another one.
    extern "C" fn foreign_library() -> usize {
        datafusion_ffi::get_library_marker_id() + 1
    }

    /// A function of every kind that panics when it computes.
    #[derive(Debug, PartialEq, Eq, Hash)]
    struct Panics(Signature);

    impl Panics {
        fn new() -> Self {
            Self(Signature::exact(
                vec![DataType::Float64],
                Volatility::Immutable,
            ))
        }
    }

    impl ScalarUDFImpl for Panics {
        fn name(&self) -> &str {
            "panics"
        }

        fn signature(&self) -> &Signature {
            &self.0
        }

        fn return_type(&self, _: &[DataType]) -> Result<DataType> {
            Ok(DataType::Float64)
        }

        fn invoke_with_args(&self, _: ScalarFunctionArgs) -> Result<ColumnarValue> {
            panic!("index out of bounds")
        }
    }

    impl AggregateUDFImpl for Panics {
        fn name(&self) -> &str {
            "panics"
        }

        fn signature(&self) -> &Signature {
            &self.0
        }

        fn return_type(&self, _: &[DataType]) -> Result<DataType> {
            Ok(DataType::Float64)
        }

        fn accumulator(&self, _: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
            Ok(Box::new(PanickingAccumulator))
        }
    }

    impl WindowUDFImpl for Panics {
        fn name(&self) -> &str {
            "panics"
        }

        fn signature(&self) -> &Signature {
            &self.0
        }

        fn partition_evaluator(
            &self,
            _: PartitionEvaluatorArgs,
        ) -> Result<Box<dyn PartitionEvaluator>> {
            Ok(Box::new(PanickingAccumulator))
        }

        fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
            Ok(Arc::new(Field::new(
                field_args.name(),
                DataType::Float64,
                true,
            )))
        }
    }

    #[derive(Debug)]
    struct PanickingAccumulator;

    impl Accumulator for PanickingAccumulator {
        fn update_batch(&mut self, _: &[ArrayRef]) -> Result<()> {
            panic!("index out of bounds")
        }

        fn evaluate(&mut self) -> Result<ScalarValue> {
            Ok(ScalarValue::Float64(None))
        }

        fn size(&self) -> usize {
            0
        }

        fn state(&mut self) -> Result<Vec<ScalarValue>> {
            Ok(vec![])
        }

        fn merge_batch(&mut self, _: &[ArrayRef]) -> Result<()> {
            Ok(())
        }
    }

    impl PartitionEvaluator for PanickingAccumulator {
        fn evaluate_all(&mut self, _: &[ArrayRef], _: usize) -> Result<ArrayRef> {
            panic!("index out of bounds")
        }
    }

    fn input() -> (Vec<ArrayRef>, FieldRef, Schema) {
        let field = Arc::new(Field::new("x", DataType::Float64, true));
        let schema = Schema::new(vec![Arc::clone(&field)]);
        (vec![Arc::new(Float64Array::from(vec![1.0]))], field, schema)
    }

    fn assert_reported<T: std::fmt::Debug>(result: Result<T>) {
        let message = result.unwrap_err().to_string();
        assert!(
            message.contains("panics failed unexpectedly")
                && message.contains("index out of bounds"),
            "{message}"
        );
    }

    #[test]
    fn a_panic_becomes_an_error_naming_the_function() {
        let result: Result<()> = guarded("clv", || panic!("index out of bounds"));
        let message = result.unwrap_err().to_string();
        assert!(message.contains("clv failed unexpectedly"), "{message}");
        assert_eq!(guarded("clv", || Ok(7)).unwrap(), 7);
    }

    #[test]
    fn a_scalar_function_panicking_across_the_ffi_is_an_error() {
        let guarded = GuardedScalar(Arc::new(ScalarUDF::new_from_impl(Panics::new())));
        let mut ffi = FFI_ScalarUDF::from(Arc::new(ScalarUDF::new_from_impl(guarded)));
        ffi.library_marker_id = foreign_library;
        let foreign: Arc<dyn ScalarUDFImpl> = (&ffi).into();
        let (values, field, _) = input();
        assert_reported(foreign.invoke_with_args(ScalarFunctionArgs {
            args: values.into_iter().map(ColumnarValue::Array).collect(),
            arg_fields: vec![Arc::clone(&field)],
            number_rows: 1,
            return_field: field,
            config_options: Arc::new(ConfigOptions::default()),
        }));
    }

    #[test]
    fn an_accumulator_panicking_across_the_ffi_is_an_error() {
        let guarded = GuardedAggregate(Arc::new(AggregateUDF::new_from_impl(Panics::new())));
        let mut ffi = FFI_AggregateUDF::from(Arc::new(AggregateUDF::new_from_impl(guarded)));
        ffi.library_marker_id = foreign_library;
        let foreign: Arc<dyn AggregateUDFImpl> = (&ffi).into();
        let (values, field, schema) = input();
        let exprs = [col("x", &schema).unwrap()];
        let mut accumulator = foreign
            .accumulator(AccumulatorArgs {
                return_field: Arc::clone(&field),
                schema: &schema,
                ignore_nulls: false,
                order_bys: &[],
                is_reversed: false,
                name: "panics(x)",
                is_distinct: false,
                exprs: &exprs,
                expr_fields: &[field],
            })
            .unwrap();
        assert_reported(accumulator.update_batch(&values));
    }

    #[test]
    fn a_window_function_panicking_across_the_ffi_is_an_error() {
        let guarded = GuardedWindow(Arc::new(WindowUDF::new_from_impl(Panics::new())));
        let mut ffi = FFI_WindowUDF::from(Arc::new(WindowUDF::new_from_impl(guarded)));
        ffi.library_marker_id = foreign_library;
        let foreign: Arc<dyn WindowUDFImpl> = (&ffi).into();
        let (values, field, schema) = input();
        let exprs = [col("x", &schema).unwrap()];
        let mut evaluator = foreign
            .partition_evaluator(PartitionEvaluatorArgs::new(&exprs, &[field], false, false))
            .unwrap();
        assert_reported(evaluator.evaluate_all(&values, 1));
    }
}
