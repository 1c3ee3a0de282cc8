//! One shape for a DataFusion function that recsql puts in place of itself with a different
//! body around the same name, aliases, signature and result type: `Around` says what runs
//! around the inner function (`to_date` translating templates, `ln` checking its domain).
//! It registers nothing itself.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};

/// What runs in place of the inner function's body.
pub trait Around: std::fmt::Debug + Send + Sync + 'static {
    fn invoke(&self, inner: &ScalarUDF, args: ScalarFunctionArgs) -> Result<ColumnarValue>;

    /// The result type, from the inner function's; the same by default.
    fn returns(&self, inner: DataType) -> DataType {
        inner
    }
}

/// `inner` with `around` as its body.
#[derive(Debug)]
pub struct Wrapped<A> {
    inner: Arc<ScalarUDF>,
    around: A,
}

impl<A: Around> Wrapped<A> {
    pub fn udf(inner: Arc<ScalarUDF>, around: A) -> ScalarUDF {
        ScalarUDF::from(Wrapped { inner, around })
    }
}

/// Told apart by the function they wrap, as DataFusion's registry does.
impl<A> PartialEq for Wrapped<A> {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

impl<A> Eq for Wrapped<A> {}

impl<A> Hash for Wrapped<A> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.inner.hash(state);
    }
}

impl<A: Around> ScalarUDFImpl for Wrapped<A> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(args)
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(self.around.returns(self.inner.return_type(args)?))
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let field = self.inner.return_field_from_args(args)?;
        let returns = self.around.returns(field.data_type().clone());
        Ok(if &returns == field.data_type() {
            field
        } else {
            Arc::new(field.as_ref().clone().with_data_type(returns))
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        self.around.invoke(&self.inner, args)
    }
}
