//! PostgreSQL's ordered-set aggregates that DataFusion lacks: `mode() WITHIN GROUP (ORDER BY
//! x)`, the most frequent value (the first in the order among equally frequent ones), and
//! `percentile_disc(p) WITHIN GROUP (ORDER BY x)`, the first value whose position in the
//! order reaches the fraction `p`. Both answer with a value of `x`'s type; NULLs are left
//! out, and no rows give NULL.
//!
//! Each group keeps its values (as Arrow arrays) and sorts them once at the end. It registers
//! aggregates; it reads no tables.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::{SortOptions, concat, filter, is_not_null, sort_to_indices, take};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

use crate::error::{Error, sqlstate};

/// Adds the aggregates to `ctx`.
pub fn install(ctx: &SessionContext) {
    for kind in [Kind::Mode, Kind::PercentileDisc] {
        ctx.register_udaf(AggregateUDF::from(OrderedSet::new(kind)));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Mode,
    PercentileDisc,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct OrderedSet {
    kind: Kind,
    signature: Signature,
}

impl OrderedSet {
    fn new(kind: Kind) -> Self {
        let arguments = match kind {
            Kind::Mode => 1,
            Kind::PercentileDisc => 2,
        };
        OrderedSet {
            kind,
            signature: Signature::any(arguments, Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for OrderedSet {
    fn name(&self) -> &str {
        match self.kind {
            Kind::Mode => "mode",
            Kind::PercentileDisc => "percentile_disc",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args.first().cloned().unwrap_or(DataType::Null))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let item = Field::new_list_field(args.input_fields[0].data_type().clone(), true);
        Ok(vec![Arc::new(Field::new(
            format!("{}[values]", args.name),
            DataType::List(Arc::new(item)),
            true,
        ))])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let descending = args.order_bys.first().is_some_and(|o| o.options.descending);
        let fraction = match self.kind {
            Kind::Mode => 0.0,
            Kind::PercentileDisc => {
                // A constant evaluates without rows.
                let empty = RecordBatch::new_empty(Arc::new(Schema::empty()));
                let constant = match args.exprs.get(1).map(|e| e.evaluate(&empty)) {
                    Some(Ok(ColumnarValue::Scalar(v))) => v.cast_to(&DataType::Float64).ok(),
                    _ => None,
                };
                let Some(ScalarValue::Float64(Some(fraction))) = constant else {
                    return plan_err!("percentile_disc takes a constant fraction");
                };
                if !(0.0..=1.0).contains(&fraction) {
                    return Err(Error::new(
                        sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
                        format!("percentile value {fraction} is not between 0 and 1"),
                    )
                    .into());
                }
                fraction
            }
        };
        Ok(Box::new(Values {
            kind: self.kind,
            data_type: args.expr_fields[0].data_type().clone(),
            descending,
            fraction,
            arrays: Vec::new(),
        }))
    }

    fn supports_within_group_clause(&self) -> bool {
        true
    }
}

/// One group's values, kept until the answer.
#[derive(Debug)]
struct Values {
    kind: Kind,
    data_type: DataType,
    descending: bool,
    fraction: f64,
    arrays: Vec<ArrayRef>,
}

impl Values {
    /// The values so far, NULLs left out, as one array.
    fn all(&self) -> Result<ArrayRef> {
        if self.arrays.is_empty() {
            return Ok(datafusion::arrow::array::new_empty_array(&self.data_type));
        }
        let parts: Vec<&dyn Array> = self.arrays.iter().map(|a| a.as_ref()).collect();
        Ok(concat(&parts)?)
    }

    fn keep(&mut self, values: &ArrayRef) -> Result<()> {
        let kept = if values.null_count() > 0 {
            filter(values, &is_not_null(values)?)?
        } else {
            values.clone()
        };
        if !kept.is_empty() {
            self.arrays.push(kept);
        }
        Ok(())
    }
}

impl Accumulator for Values {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        match values.first() {
            Some(v) => self.keep(v),
            None => Ok(()),
        }
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(lists) = states.first() else {
            return Ok(());
        };
        let lists = lists.as_list::<i32>();
        for i in 0..lists.len() {
            if lists.is_valid(i) {
                self.keep(&lists.value(i))?;
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let all = self.all()?;
        self.arrays = vec![all.clone()];
        Ok(vec![ScalarValue::List(Arc::new(
            datafusion::common::utils::SingleRowListArrayBuilder::new(all).build_list_array(),
        ))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let all = self.all()?;
        if all.is_empty() {
            return ScalarValue::try_from(&self.data_type);
        }
        let order = SortOptions {
            descending: self.descending,
            nulls_first: false,
        };
        let sorted = take(&all, &sort_to_indices(&all, Some(order), None)?, None)?;
        let index = match self.kind {
            Kind::PercentileDisc => {
                let n = sorted.len();
                ((self.fraction * n as f64).ceil() as usize).clamp(1, n) - 1
            }
            Kind::Mode => {
                // The longest run of equal values; the first of equally long ones.
                let runs = datafusion::arrow::compute::kernels::partition::partition(
                    std::slice::from_ref(&sorted),
                )?;
                let mut best = (0, 0);
                for run in runs.ranges() {
                    if run.len() > best.1 {
                        best = (run.start, run.len());
                    }
                }
                best.0
            }
        };
        ScalarValue::try_from_array(&sorted, index)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self
                .arrays
                .iter()
                .map(|a| a.get_array_memory_size())
                .sum::<usize>()
    }
}
