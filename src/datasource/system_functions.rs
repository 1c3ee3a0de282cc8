//! The functions client drivers' catalog queries call that DataFusion and
//! datafusion-postgres lack: `_pg_int_array` and `_pg_expandarray_list`, which read the
//! catalogs' integer arrays that datafusion-postgres keeps as text (`catalog_query` puts them
//! into client queries); the comment, index-definition and size functions, which answer NULL
//! because recsql keeps no comments, indexes or sizes; the `pg_*_is_visible` functions;
//! `version()` worded as PostgreSQL's; `current_setting` and `set_config` over the server's
//! settings; `json_build_object`; `pg_size_pretty`; `pg_typeof`; `_pg_prefix_elements` for
//! psql's `\d+`; and `_pg_function_arguments` for its `\df`. It registers functions; it reads
//! no tables.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int32Builder, Int64Builder, ListArray, StringArray, StructArray,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{DataType, Field, Fields, Int16Type, Int32Type, Int64Type};
use datafusion::common::{DataFusionError, Result as DfResult, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion::prelude::SessionContext;

use datafusion_postgres::datafusion_pg_catalog::pg_catalog::format_type::create_format_type_udf;

use super::array_function::{ArrayFunction, Body};
use crate::error::Error;
use crate::settings::SERVER_VERSION;

/// Adds the functions to `ctx`.
pub fn install(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(IntArrayFunction::expand()));
    ctx.register_udf(ScalarUDF::from(IntArrayFunction::list()));
    for name in [
        "obj_description",
        "col_description",
        "shobj_description",
        "pg_get_indexdef",
        "pg_get_serial_sequence",
        "pg_get_viewdef",
        // recsql's functions are built in: none has an SQL body.
        "pg_get_function_sqlbody",
    ] {
        ctx.register_udf(ScalarUDF::from(Constant::new(
            name,
            ScalarValue::Utf8(None),
        )));
    }
    // Every type, function, operator, collation, ... recsql has is one of pg_catalog's, and
    // pg_catalog is always on the search path.
    for name in [
        "pg_collation_is_visible",
        "pg_conversion_is_visible",
        "pg_function_is_visible",
        "pg_opclass_is_visible",
        "pg_operator_is_visible",
        "pg_opfamily_is_visible",
        "pg_statistics_obj_is_visible",
        "pg_ts_config_is_visible",
        "pg_ts_dict_is_visible",
        "pg_ts_parser_is_visible",
        "pg_ts_template_is_visible",
        "pg_type_is_visible",
        // recsql has one role, which may do everything.
        "pg_has_role",
    ] {
        ctx.register_udf(ScalarUDF::from(Constant::new(
            name,
            ScalarValue::Boolean(Some(true)),
        )));
    }
    // The one tablespace is the default one, which has no location of its own.
    ctx.register_udf(ScalarUDF::from(Constant::new(
        "pg_tablespace_location",
        ScalarValue::Utf8(Some(String::new())),
    )));
    ctx.register_udf(ScalarUDF::from(Constant::version()));
    ctx.register_udf(ScalarUDF::from(PgTypeof::new()));
    let variadic = Signature::variadic_any(Volatility::Immutable);
    ctx.register_udf(ArrayFunction::udf(
        "json_build_object",
        variadic,
        DataType::Utf8,
        json_build_object,
    ));
    let size = Signature::exact(vec![DataType::Int64], Volatility::Immutable);
    ctx.register_udf(ArrayFunction::udf(
        "pg_size_pretty",
        size,
        DataType::Utf8,
        pg_size_pretty,
    ));
    for (name, returns, body) in [
        (
            "_pg_prefix_elements",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            prefix_elements as Body,
        ),
        ("_pg_function_arguments", DataType::Utf8, function_arguments),
    ] {
        ctx.register_udf(ArrayFunction::udf(
            name,
            Signature::any(2, Volatility::Immutable),
            returns,
            body,
        ));
    }
    // recsql does not measure the storage of relations (files, remote tables, models): their
    // size is unknown.
    for name in [
        "pg_table_size",
        "pg_relation_size",
        "pg_total_relation_size",
        "pg_indexes_size",
        "pg_database_size",
    ] {
        ctx.register_udf(ScalarUDF::from(Constant::new(
            name,
            ScalarValue::Int64(None),
        )));
    }
    let name = Signature::one_of(
        vec![
            TypeSignature::Exact(vec![DataType::Utf8]),
            TypeSignature::Exact(vec![DataType::Utf8, DataType::Boolean]),
        ],
        Volatility::Stable,
    );
    ctx.register_udf(ArrayFunction::udf(
        "current_setting",
        name,
        DataType::Utf8,
        current_setting,
    ));
    let change = Signature::exact(
        vec![DataType::Utf8, DataType::Utf8, DataType::Boolean],
        Volatility::Volatile,
    );
    ctx.register_udf(ArrayFunction::udf(
        "set_config",
        change,
        DataType::Utf8,
        set_config,
    ));
}

/// The integer arrays of the catalogs: datafusion-postgres stores `int2vector`, `oidvector`
/// and `int2[]` columns as text (`1 2`, `[1, 2]`, `{1,2}`; other string types are cast to
/// Utf8 first, once per batch); lists pass through.
fn int_array(a: &ArrayRef, row: usize) -> DfResult<Option<Vec<Option<i64>>>> {
    if a.is_null(row) {
        return Ok(None);
    }
    let ints = |values: ArrayRef| -> DfResult<Vec<Option<i64>>> {
        Ok(match values.data_type() {
            DataType::Int16 => values
                .as_primitive::<Int16Type>()
                .iter()
                .map(|v| v.map(i64::from))
                .collect(),
            DataType::Int32 => values
                .as_primitive::<Int32Type>()
                .iter()
                .map(|v| v.map(i64::from))
                .collect(),
            DataType::Int64 => values.as_primitive::<Int64Type>().iter().collect(),
            other => return exec_err!("expected an integer array, not an array of {other}"),
        })
    };
    Ok(Some(match a.data_type() {
        DataType::Utf8 => {
            let text = a.as_string::<i32>().value(row);
            text.trim_matches(|c| matches!(c, '{' | '}' | '[' | ']'))
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|w| !w.is_empty())
                .map(|w| {
                    if w.eq_ignore_ascii_case("null") {
                        return Ok(None);
                    }
                    w.parse::<i64>()
                        .map(Some)
                        .map_err(|_| DataFusionError::Execution(format!("{w:?} is not an integer")))
                })
                .collect::<DfResult<_>>()?
        }
        DataType::List(_) => ints(a.as_list::<i32>().value(row))?,
        DataType::LargeList(_) => ints(a.as_list::<i64>().value(row))?,
        other => return exec_err!("expected an integer array, not {other}"),
    }))
}

/// A catalog function of one integer array; `expand` tells which.
#[derive(Debug, PartialEq, Eq, Hash)]
struct IntArrayFunction {
    signature: Signature,
    expand: bool,
}

impl IntArrayFunction {
    /// `_pg_int_array(a)`: the array as a list of bigint, for subscripts.
    fn list() -> Self {
        IntArrayFunction {
            signature: Signature::any(1, Volatility::Immutable),
            expand: false,
        }
    }

    /// `_pg_expandarray_list(a)`: the elements as `{x: element, n: position from 1}`;
    /// `unnest` of it gives the rows of PostgreSQL's `information_schema._pg_expandarray(a)`.
    fn expand() -> Self {
        IntArrayFunction {
            expand: true,
            ..Self::list()
        }
    }

    fn element(&self) -> DataType {
        if self.expand {
            DataType::Struct(Fields::from(vec![
                Field::new("x", DataType::Int64, true),
                Field::new("n", DataType::Int32, false),
            ]))
        } else {
            DataType::Int64
        }
    }

    fn item(&self) -> Arc<Field> {
        Arc::new(Field::new("item", self.element(), true))
    }
}

impl ScalarUDFImpl for IntArrayFunction {
    fn name(&self) -> &str {
        if self.expand {
            "_pg_expandarray_list"
        } else {
            "_pg_int_array"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::List(self.item()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let [arg] = args.args.as_slice() else {
            return exec_err!("{} takes one argument", self.name());
        };
        let a = arg.to_array(rows)?;
        let a = match a.data_type() {
            DataType::Utf8View | DataType::LargeUtf8 => {
                datafusion::arrow::compute::cast(&a, &DataType::Utf8)?
            }
            _ => a,
        };
        let (mut x, mut n) = (Int64Builder::new(), Int32Builder::new());
        let mut offsets = vec![0i32];
        let mut valid = Vec::with_capacity(rows);
        for row in 0..rows {
            let values = int_array(&a, row)?;
            valid.push(values.is_some());
            for (i, v) in values.unwrap_or_default().into_iter().enumerate() {
                x.append_option(v);
                n.append_value(i as i32 + 1);
            }
            offsets.push(n.values_slice().len() as i32);
        }
        let values: ArrayRef = match self.element() {
            DataType::Struct(fields) => Arc::new(StructArray::try_new(
                fields,
                vec![Arc::new(x.finish()), Arc::new(n.finish())],
                None,
            )?),
            _ => Arc::new(x.finish()),
        };
        let list = ListArray::try_new(
            self.item(),
            OffsetBuffer::new(offsets.into()),
            values,
            Some(NullBuffer::from(valid)),
        )?;
        Ok(ColumnarValue::Array(Arc::new(list)))
    }
}

/// Functions whose answer is the same for every argument: the catalog functions that
/// answer NULL for every object recsql has (`obj_description(oid[, catalog])`,
/// `col_description(oid, column)` and `shobj_description(oid, catalog)`, because recsql keeps
/// no comments, `pg_get_indexdef(oid[, column, pretty])`, because it has no indexes,
/// `pg_get_serial_sequence(table, column)`, because it has no sequences,
/// and `pg_get_viewdef(oid[, pretty])`, because its views, the models, have no SQL
/// definition), the `pg_*_is_visible(oid)` functions, true for all of pg_catalog's objects,
/// and `version()`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Constant {
    name: &'static str,
    value: ScalarValue,
    signature: Signature,
}

impl Constant {
    /// A catalog function of one to three arguments that answers `value`.
    fn new(name: &'static str, value: ScalarValue) -> Self {
        Constant {
            name,
            value,
            signature: Signature::one_of(
                vec![
                    TypeSignature::Any(1),
                    TypeSignature::Any(2),
                    TypeSignature::Any(3),
                ],
                Volatility::Stable,
            ),
        }
    }

    /// `version()`, worded as PostgreSQL words it, because drivers and SQL toolkits read the
    /// PostgreSQL version from it (SQLAlchemy refuses to connect when it finds none); the
    /// parenthesis names what really answers.
    fn version() -> Self {
        Constant {
            name: "version",
            value: ScalarValue::Utf8(Some(format!(
                "PostgreSQL {SERVER_VERSION} on {}-{}, DataFusion {}, 64-bit",
                std::env::consts::ARCH,
                std::env::consts::OS,
                datafusion::DATAFUSION_VERSION,
            ))),
            signature: Signature::nullary(Volatility::Stable),
        }
    }
}

impl ScalarUDFImpl for Constant {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(self.value.data_type())
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        Ok(ColumnarValue::Scalar(self.value.clone()))
    }
}

/// The names `format_type` gives the types of `oids`, without type modifiers (`bigint`,
/// `double precision`, `text[]`).
fn type_names(oids: ArrayRef) -> DfResult<ArrayRef> {
    let rows = oids.len();
    create_format_type_udf()
        .invoke_with_args(ScalarFunctionArgs {
            args: vec![
                ColumnarValue::Array(oids),
                ColumnarValue::Scalar(ScalarValue::Int32(None)),
            ],
            arg_fields: vec![
                Arc::new(Field::new("oid", DataType::Int64, true)),
                Arc::new(Field::new("typmod", DataType::Int32, true)),
            ],
            number_rows: rows,
            return_field: Arc::new(Field::new("type", DataType::Utf8, true)),
            config_options: Arc::new(datafusion::common::config::ConfigOptions::default()),
        })?
        .to_array(rows)
}

/// `pg_typeof(x)`: the name of the type of `x`, as PostgreSQL writes it (`integer`, `double
/// precision`, `timestamp without time zone`): the type that the wire protocol announces for
/// a column of `x`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct PgTypeof {
    signature: Signature,
}

impl PgTypeof {
    fn new() -> Self {
        PgTypeof {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for PgTypeof {
    fn name(&self) -> &str {
        "pg_typeof"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        use datafusion_postgres::arrow_pg::datatypes::into_pg_type;
        let Some(field) = args.arg_fields.first() else {
            return exec_err!("pg_typeof takes one argument");
        };
        let pg = into_pg_type(field.data_type()).unwrap_or(pgwire::api::Type::UNKNOWN);
        let named = type_names(Arc::new(datafusion::arrow::array::Int64Array::from(vec![
            i64::from(pg.oid()),
        ])))?;
        let name = named.as_string::<i32>().value(0);
        // format_type knows the types recsql's columns have; others go by their own name.
        let name = if name.starts_with("oid(") {
            pg.name()
        } else {
            name
        };
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
            name.to_string(),
        ))))
    }
}

/// `json_build_object(key, value, ...)`: a JSON object of the pairs, as text (SQLAlchemy's
/// column reflection builds identity and collation details with it).
fn json_build_object(args: &[ArrayRef]) -> DfResult<ArrayRef> {
    if !args.len().is_multiple_of(2) {
        return exec_err!("json_build_object takes keys and values in pairs");
    }
    let rows = args.first().map_or(1, |a| a.len());
    let mut out = Vec::with_capacity(rows);
    for row in 0..rows {
        let mut object = serde_json::Map::new();
        for pair in args.chunks(2) {
            let key = ScalarValue::try_from_array(&pair[0], row)?;
            if key.is_null() {
                return exec_err!("json_build_object: a key is NULL");
            }
            let value = ScalarValue::try_from_array(&pair[1], row)?;
            object.insert(key.to_string(), scalar_json(&value));
        }
        out.push(serde_json::Value::Object(object).to_string());
    }
    Ok(Arc::new(StringArray::from(out)))
}

/// A scalar as a JSON value: numbers and booleans as themselves, NULL as null, the rest as
/// their text (a string as it is).
fn scalar_json(v: &ScalarValue) -> serde_json::Value {
    use serde_json::Value as J;
    if v.is_null() {
        return J::Null;
    }
    match v {
        ScalarValue::Boolean(Some(b)) => J::Bool(*b),
        ScalarValue::Int8(Some(i)) => J::from(*i),
        ScalarValue::Int16(Some(i)) => J::from(*i),
        ScalarValue::Int32(Some(i)) => J::from(*i),
        ScalarValue::Int64(Some(i)) => J::from(*i),
        ScalarValue::UInt8(Some(i)) => J::from(*i),
        ScalarValue::UInt16(Some(i)) => J::from(*i),
        ScalarValue::UInt32(Some(i)) => J::from(*i),
        ScalarValue::UInt64(Some(i)) => J::from(*i),
        ScalarValue::Float32(Some(f)) => J::from(*f as f64),
        ScalarValue::Float64(Some(f)) => J::from(*f),
        other => J::String(other.to_string()),
    }
}

/// The server's value of setting `name` (any case), if it has one: a session's SETs aside.
fn setting(name: &str) -> Option<String> {
    crate::settings::value(&crate::settings::Metadata::new(), name).map(|(_, v)| v)
}

/// `current_setting(name[, missing_ok])`: the server's value of a setting, those `pg_settings`
/// lists and the defaults of the output settings (`DateStyle`, `IntervalStyle`, `TimeZone`,
/// `bytea_output`, `extra_float_digits`). A `SET` in a session changes how that session's
/// values are printed but not this answer. An unknown name is an error (42704), or NULL
/// with `missing_ok`, as in PostgreSQL.
///
/// `set_config(name, value, is_local)` with the value a setting has already (asyncpg turns
/// `jit` off before it reads type details) answers the value; any other value is an error
/// that points to `SET`, because a function cannot change the session's settings here.
fn current_setting(args: &[ArrayRef]) -> DfResult<ArrayRef> {
    settings(args, false)
}

/// `set_config(name, value, is_local)`, described with `current_setting`.
fn set_config(args: &[ArrayRef]) -> DfResult<ArrayRef> {
    settings(args, true)
}

/// `current_setting` (`set` false) or `set_config` (`set` true) of each row.
fn settings(args: &[ArrayRef], set: bool) -> DfResult<ArrayRef> {
    let Some(names) = args.first() else {
        return exec_err!("a setting's name is missing");
    };
    let names = names.as_string::<i32>();
    let missing_ok = args.get(1).filter(|_| !set).map(|a| a.as_boolean());
    let wanted = args.get(1).filter(|_| set).map(|a| a.as_string::<i32>());
    let mut out = Vec::with_capacity(names.len());
    for row in 0..names.len() {
        if names.is_null(row) {
            out.push(None);
            continue;
        }
        let name = names.value(row);
        match setting(name) {
            Some(v) => {
                if let Some(wanted) = wanted
                    && (wanted.is_null(row) || wanted.value(row) != v)
                {
                    return Err(Error::not_supported(format!(
                        "set_config cannot change \"{name}\" (it is {v:?})"
                    ))
                    .with_hint(format!("SET {name} = ... changes a session setting"))
                    .into());
                }
                out.push(Some(v))
            }
            None if missing_ok.is_some_and(|m| m.is_valid(row) && m.value(row)) => out.push(None),
            None => {
                return Err(crate::settings::unrecognized(name).into());
            }
        }
    }
    Ok(Arc::new(StringArray::from(out)))
}

/// `_pg_prefix_elements(a, p)`: the text array `a` with `p` before each element; `{}` for a
/// NULL `a`. It is psql's `ARRAY(SELECT 'toast.' || x FROM unnest(a) x)` (`catalog_query`
/// rewrites it), whose outer array DataFusion cannot unnest in a subquery.
fn prefix_elements(args: &[ArrayRef]) -> DfResult<ArrayRef> {
    let [array, prefix] = args else {
        return exec_err!("_pg_prefix_elements takes an array and a prefix");
    };
    let prefix = datafusion::arrow::compute::cast(prefix, &DataType::Utf8)?;
    let prefix = prefix.as_string::<i32>();
    let mut out =
        datafusion::arrow::array::ListBuilder::new(datafusion::arrow::array::StringBuilder::new());
    for row in 0..array.len() {
        if let DataType::List(_) = array.data_type()
            && !array.is_null(row)
        {
            let elements = datafusion::arrow::compute::cast(
                &array.as_list::<i32>().value(row),
                &DataType::Utf8,
            )?;
            for e in elements.as_string::<i32>() {
                out.values()
                    .append_option(e.map(|e| format!("{}{e}", prefix.value(row))));
            }
        }
        out.append(true);
    }
    Ok(Arc::new(out.finish()))
}

/// The catalogs' text arrays, which datafusion-postgres keeps as lists or as text
/// (`['a', 'b']` or `{a,b}`); NULL is no elements.
fn text_array(a: &ArrayRef, row: usize) -> DfResult<Vec<String>> {
    if a.is_null(row) {
        return Ok(Vec::new());
    }
    Ok(match ScalarValue::try_from_array(a, row)? {
        ScalarValue::List(list) if list.len() == 1 && !list.is_null(0) => {
            let values = datafusion::arrow::compute::cast(&list.value(0), &DataType::Utf8)?;
            values
                .as_string::<i32>()
                .iter()
                .map(|n| n.unwrap_or_default().to_string())
                .collect()
        }
        ScalarValue::Utf8(Some(text))
        | ScalarValue::Utf8View(Some(text))
        | ScalarValue::LargeUtf8(Some(text)) => text
            .trim_matches(|c| matches!(c, '{' | '}' | '[' | ']'))
            .split(',')
            .map(|n| n.trim().trim_matches(|c| c == '\'' || c == '"').to_string())
            .filter(|n| !n.is_empty())
            .collect(),
        _ => Vec::new(),
    })
}

/// `_pg_function_arguments(proargtypes, proargnames)`: a function's arguments as
/// `pg_get_function_arguments` lists them for psql's `\df` (`name type, ...`; types alone
/// when the names are missing or include output arguments), the types written as
/// `format_type` writes them. `catalog_query` puts it in place of `pg_get_function_arguments`
/// of a `pg_proc` row.
fn function_arguments(args: &[ArrayRef]) -> DfResult<ArrayRef> {
    let [types, names] = args else {
        return exec_err!("_pg_function_arguments takes argument types and names");
    };
    let types = types.clone();
    let types = match types.data_type() {
        DataType::Utf8View | DataType::LargeUtf8 => {
            datafusion::arrow::compute::cast(&types, &DataType::Utf8)?
        }
        _ => types,
    };
    let mut out = datafusion::arrow::array::StringBuilder::new();
    for row in 0..types.len() {
        let Some(oids) = int_array(&types, row)? else {
            out.append_null();
            continue;
        };
        let named = type_names(Arc::new(datafusion::arrow::array::Int64Array::from(oids)))?;
        let type_names: Vec<&str> = named
            .as_string::<i32>()
            .iter()
            .map(|t| t.unwrap_or("-"))
            .collect();
        let arg_names = text_array(names, row)?;
        let listed: Vec<String> = if arg_names.len() == type_names.len() {
            arg_names
                .iter()
                .zip(&type_names)
                .map(|(n, t)| {
                    if n.is_empty() {
                        t.to_string()
                    } else {
                        format!("{n} {t}")
                    }
                })
                .collect()
        } else {
            type_names.iter().map(|t| t.to_string()).collect()
        };
        out.append_value(listed.join(", "));
    }
    Ok(Arc::new(out.finish()))
}

/// PostgreSQL's text for `bytes`: its units and rounding (bytes below 10 kB, then kB, MB,
/// GB, TB and PB, each step divided by 1024 and rounded half away from zero).
fn size_pretty(bytes: i64) -> String {
    const UNITS: [&str; 6] = ["bytes", "kB", "MB", "GB", "TB", "PB"];
    let mut size = bytes;
    for (i, unit) in UNITS.iter().enumerate() {
        if size.unsigned_abs() < 10 * 1024 || i == UNITS.len() - 1 {
            return format!("{size} {unit}");
        }
        // Halve with rounding after dividing by 512: 1024 rounded half away from zero.
        let half = size / 512;
        size = (half + half.signum()) / 2;
    }
    unreachable!("the last unit returns")
}

/// `pg_size_pretty(bytes)`: [`size_pretty`] of each size.
fn pg_size_pretty(args: &[ArrayRef]) -> DfResult<ArrayRef> {
    let [sizes] = args else {
        return exec_err!("pg_size_pretty takes one size");
    };
    let out: StringArray = sizes
        .as_primitive::<Int64Type>()
        .iter()
        .map(|v| v.map(size_pretty))
        .collect();
    Ok(Arc::new(out))
}

#[cfg(test)]
mod tests {
    use super::size_pretty;

    #[test]
    fn sizes_print_as_postgresql_prints_them() {
        // What PostgreSQL (15.19, the local server) answers for SELECT pg_size_pretty(n).
        assert_eq!(size_pretty(0), "0 bytes");
        assert_eq!(size_pretty(10239), "10239 bytes");
        assert_eq!(size_pretty(10240), "10 kB");
        assert_eq!(size_pretty(10752), "11 kB");
        assert_eq!(size_pretty(10751), "10 kB");
        assert_eq!(size_pretty(1_000_000_000), "954 MB");
        assert_eq!(size_pretty(-10240), "-10 kB");
        assert_eq!(size_pretty(i64::MAX), "8192 PB");
    }
}
