//! `octet_length` of a `bytea`, as PostgreSQL counts it: its number of bytes. DataFusion's
//! `octet_length` takes text only and refused binary values (`requires String, but received
//! Binary`). This function takes DataFusion's place under its name: binary values are
//! counted here, text goes on to DataFusion's, with its coercions and result types.
//!
//! This module registers a function; it does not rewrite plans.

use std::sync::Arc;

use datafusion::arrow::compute::kernels::length::length;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::datatypes::Field;
use datafusion::common::{Result, ScalarValue};
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::type_coercion::functions::fields_with_udf;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

/// Puts `octet_length` of binary values in place of DataFusion's.
pub fn install(ctx: &SessionContext) -> Result<()> {
    let text = ctx.udf("octet_length")?;
    ctx.register_udf(ScalarUDF::from(OctetLength {
        text,
        signature: Signature::user_defined(Volatility::Immutable),
    }));
    Ok(())
}

fn binary(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView
    )
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct OctetLength {
    /// DataFusion's `octet_length`, for text.
    text: Arc<ScalarUDF>,
    signature: Signature,
}

impl ScalarUDFImpl for OctetLength {
    fn name(&self) -> &str {
        "octet_length"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] if binary(t) => Ok(vec![t.clone()]),
            _ => {
                let fields: Vec<_> = arg_types
                    .iter()
                    .map(|t| Arc::new(Field::new("", t.clone(), true)))
                    .collect();
                Ok(fields_with_udf(&fields, self.text.as_ref())?
                    .iter()
                    .map(|f| f.data_type().clone())
                    .collect())
            }
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [DataType::LargeBinary] => Ok(DataType::Int64),
            [t] if binary(t) => Ok(DataType::Int32),
            _ => self.text.return_type(arg_types),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let binary_arg = matches!(args.args.as_slice(), [a] if binary(&a.data_type()));
        if !binary_arg {
            return self.text.invoke_with_args(args);
        }
        // A scalar is counted as a one-row array, by the same kernel.
        Ok(match &args.args[0] {
            ColumnarValue::Array(a) => ColumnarValue::Array(length(a)?),
            ColumnarValue::Scalar(s) => {
                ColumnarValue::Scalar(ScalarValue::try_from_array(&length(&s.to_array()?)?, 0)?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bytes_of_binary_and_of_text() {
        let ctx = SessionContext::new();
        install(&ctx).unwrap();
        let batches = ctx
            .sql(
                "SELECT octet_length(CAST('abc' AS BYTEA)), octet_length(x), octet_length('héllo'), \
                 octet_length(CAST(NULL AS BYTEA)) \
                 FROM (VALUES (CAST('ab' AS BYTEA))) t(x)",
            )
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        assert!(
            text.contains("| 3 ") && text.contains("| 2 ") && text.contains("| 6 "),
            "{text}"
        );
    }
}
