//! `sum` as PostgreSQL types it: the sum of bigints is a numeric, so it cannot overflow.
//! DataFusion summed bigints into a bigint that wrapped silently (the sum of
//! 9223372036854775807 and 1 was -9223372036854775808). This `sum` replaces DataFusion's
//! under the same name: it sums 64-bit integers as `numeric(38, 0)`, and everything else
//! (smaller integers into a bigint, floats, numerics, intervals, the window and statistics
//! shortcuts) is DataFusion's own `sum`.
//!
//! Smaller integers are summed as they arrive, widened batch by batch inside the function,
//! not cast to a bigint in the plan: DataFusion types a call again whenever it computes a
//! plan's schema, and the cast argument was then a bigint summed as a numeric, so
//! `100.0 * sum(CASE ... THEN 1 ELSE 0 END)` failed (`Decimal128(4, 1) * Int64`) and a
//! prepared statement's sum of an `integer` was described as a bigint and sent as a numeric.
//!
//! This module registers a function; it does not rewrite plans.

use datafusion::arrow::array::{ArrayRef, BooleanArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::functions_aggregate::sum::Sum;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, ReversedUDAF,
    SetMonotonicity, Signature, StatisticsArgs, Volatility,
};
use datafusion::prelude::SessionContext;

/// Replaces DataFusion's `sum` in `ctx`.
pub fn install(ctx: &SessionContext) {
    ctx.register_udaf(AggregateUDF::from(PgSum::new()));
}

/// The type a `sum` argument of type `t` is summed as, as in PostgreSQL: `numeric(38, 0)`
/// for 64-bit integers; otherwise what DataFusion's `sum` sums it as.
fn summed_as(t: &DataType) -> Result<DataType> {
    Ok(match t {
        DataType::Int64 | DataType::UInt64 => DataType::Decimal128(38, 0),
        DataType::Null | DataType::Int8 | DataType::Int16 | DataType::Int32 => DataType::Int64,
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 => DataType::UInt64,
        DataType::Float16 | DataType::Float32 | DataType::Float64 => DataType::Float64,
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..)
        | DataType::Duration(_)
        | DataType::Interval(_) => t.clone(),
        DataType::Dictionary(_, value) => summed_as(value)?,
        other => return plan_err!("sum takes numbers or intervals, not {other}"),
    })
}

/// Whether `t` is an integer narrower than 64 bits, which the accumulators widen.
fn widened(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
    )
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct PgSum {
    signature: Signature,
    /// DataFusion's `sum`, which does the summing once the argument has its type.
    inner: Sum,
}

impl PgSum {
    fn new() -> Self {
        PgSum {
            signature: Signature::user_defined(Volatility::Immutable),
            inner: Sum::new(),
        }
    }
}

impl AggregateUDFImpl for PgSum {
    fn name(&self) -> &str {
        "sum"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] if widened(t) => Ok(vec![t.clone()]),
            [t] => Ok(vec![summed_as(t)?]),
            _ => plan_err!("sum takes one argument"),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [t] if widened(t) => summed_as(t),
            _ => self.inner.return_type(arg_types),
        }
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let to = widening(&args);
        let inner = self.inner.accumulator(args)?;
        Ok(match to {
            Some(to) => Box::new(Widening { inner, to }),
            None => inner,
        })
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner.state_fields(args)
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.inner.groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        let to = widening(&args);
        let inner = self.inner.create_groups_accumulator(args)?;
        Ok(match to {
            Some(to) => Box::new(Widening { inner, to }),
            None => inner,
        })
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let to = widening(&args);
        let inner = self.inner.create_sliding_accumulator(args)?;
        Ok(match to {
            Some(to) => Box::new(Widening { inner, to }),
            None => inner,
        })
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        self.inner.reverse_expr()
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        self.inner.order_sensitivity()
    }

    fn set_monotonicity(&self, data_type: &DataType) -> SetMonotonicity {
        self.inner.set_monotonicity(data_type)
    }

    fn value_from_stats(&self, statistics_args: &StatisticsArgs) -> Option<ScalarValue> {
        self.inner.value_from_stats(statistics_args)
    }
}

/// The type DataFusion's accumulators for `args` take their input as, where the argument is
/// narrower (they sum in their result type).
fn widening(args: &AccumulatorArgs) -> Option<DataType> {
    args.expr_fields
        .first()
        .is_some_and(|f| widened(f.data_type()))
        .then(|| args.return_type().clone())
}

/// An accumulator of DataFusion's `sum`, given its input widened to `to`.
#[derive(Debug)]
struct Widening<A: ?Sized> {
    inner: Box<A>,
    to: DataType,
}

impl<A: ?Sized> Widening<A> {
    fn widen(&self, values: &[ArrayRef]) -> Result<Vec<ArrayRef>> {
        values.iter().map(|v| Ok(cast(v, &self.to)?)).collect()
    }
}

impl Accumulator for Widening<dyn Accumulator> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let values = self.widen(values)?;
        self.inner.update_batch(&values)
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let values = self.widen(values)?;
        self.inner.retract_batch(&values)
    }

    fn supports_retract_batch(&self) -> bool {
        self.inner.supports_retract_batch()
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.inner.evaluate()
    }

    fn size(&self) -> usize {
        self.inner.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.inner.state()
    }

    // States are in the result type already.
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.inner.merge_batch(states)
    }
}

impl GroupsAccumulator for Widening<dyn GroupsAccumulator> {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let values = self.widen(values)?;
        self.inner
            .update_batch(&values, group_indices, opt_filter, total_num_groups)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        self.inner.evaluate(emit_to)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        self.inner.state(emit_to)
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.inner
            .merge_batch(values, group_indices, total_num_groups)
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let values = self.widen(values)?;
        self.inner.convert_to_state(&values, opt_filter)
    }

    fn size(&self) -> usize {
        self.inner.size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bigints_sum_as_numerics_and_the_rest_as_datafusion_sums_them() {
        assert_eq!(
            summed_as(&DataType::Int64).unwrap(),
            DataType::Decimal128(38, 0)
        );
        assert_eq!(summed_as(&DataType::Int32).unwrap(), DataType::Int64);
        assert_eq!(summed_as(&DataType::Float32).unwrap(), DataType::Float64);
        assert_eq!(
            summed_as(&DataType::Decimal128(10, 2)).unwrap(),
            DataType::Decimal128(10, 2)
        );
        assert!(summed_as(&DataType::Utf8).is_err());
    }
}
