//! One shape for the scalar functions recsql adds whose result type is fixed: a name, a
//! signature, the result type and a body over whole argument arrays (scalars arrive as
//! arrays of the batch's length). It saves a struct and a `ScalarUDFImpl` for each; functions
//! whose result type depends on their arguments implement the trait themselves.

use std::hash::{Hash, Hasher};

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};

/// The body of a function: its arguments' arrays, all of the batch's length, to its result.
pub type Body = fn(&[ArrayRef]) -> Result<ArrayRef>;

#[derive(Debug)]
pub struct ArrayFunction {
    name: &'static str,
    signature: Signature,
    returns: DataType,
    body: Body,
}

impl ArrayFunction {
    /// The function `name` of `signature`, answering `returns` computed by `body`.
    pub fn udf(
        name: &'static str,
        signature: Signature,
        returns: DataType,
        body: Body,
    ) -> ScalarUDF {
        ScalarUDF::from(ArrayFunction {
            name,
            signature,
            returns,
            body,
        })
    }
}

/// Functions are told apart by name, as DataFusion's registry does.
impl PartialEq for ArrayFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.signature == other.signature
    }
}

impl Eq for ArrayFunction {}

impl Hash for ArrayFunction {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for ArrayFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(self.returns.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = args
            .args
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<Result<Vec<_>>>()?;
        Ok(ColumnarValue::Array((self.body)(&arrays)?))
    }
}
