//! The column types that `CREATE TABLE files.name (column type, ...)` declares, kept beside
//! the table as `files/.types/name.json`. A CSV file holds text only, so a table without them
//! takes its types from its values; with them, the table reads with those types even while
//! empty, and rows added to it are checked against them ([`TypeCheck`]) before they are
//! written. This module keeps and checks the types; it writes no rows.

use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::catalog::write_atomic;
use crate::error::{Error, Result, sqlstate};

fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(".types").join(format!("{name}.json"))
}

/// Records the declared columns of table `name`.
pub fn declare(dir: &Path, name: &str, schema: &Schema) -> Result<()> {
    let columns: Vec<serde_json::Value> = schema
        .fields()
        .iter()
        .map(|f| serde_json::json!({"name": f.name(), "type": f.data_type().to_string()}))
        .collect();
    let bytes = serde_json::to_vec_pretty(&columns).map_err(|e| Error::internal(e.to_string()))?;
    write_atomic(&path(dir, name), &bytes).map_err(|e| {
        Error::io(
            &format!("cannot record the column types of files.{name}"),
            e,
        )
    })
}

/// The declared columns of table `name`, if it has them.
pub fn declared(dir: &Path, name: &str) -> Result<Option<SchemaRef>> {
    let bytes = match fs::read(path(dir, name)) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::io(
                &format!("cannot read the column types of files.{name}"),
                e,
            ));
        }
    };
    let damaged = || {
        Error::new(
            sqlstate::DATA_EXCEPTION,
            format!("the column types of files.{name} are damaged"),
        )
        .with_hint(format!(
            "remove {} to read the table's types from its values",
            path(dir, name).display()
        ))
    };
    let columns: Vec<serde_json::Value> = serde_json::from_slice(&bytes).map_err(|_| damaged())?;
    let fields = columns
        .iter()
        .map(|c| {
            let name = c["name"].as_str().ok_or_else(damaged)?;
            let ty = c["type"].as_str().ok_or_else(damaged)?;
            let ty = DataType::from_str(ty).map_err(|_| damaged())?;
            Ok(Field::new(name, ty, true))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(Arc::new(Schema::new(fields))))
}

/// Forgets the declared columns of table `name` (it was dropped).
pub fn forget(dir: &Path, name: &str) {
    let _ = fs::remove_file(path(dir, name));
}

/// Checks values about to be added to a table with declared columns: each value, as the text
/// the table will hold, must read as its column's type. Values are checked a block at a time.
pub struct TypeCheck {
    types: Vec<(String, DataType)>,
    pending: Vec<Vec<Option<String>>>,
    rows: u64,
}

const BLOCK: usize = 8192;

impl TypeCheck {
    /// A check of rows of the table's `columns` (all of them, in order) against `schema`.
    pub fn new(schema: &Schema, columns: &[String]) -> Result<TypeCheck> {
        let types = columns
            .iter()
            .map(|c| {
                schema
                    .field_with_name(c)
                    .map(|f| (c.clone(), f.data_type().clone()))
                    .map_err(|_| {
                        Error::new(
                            sqlstate::DATA_EXCEPTION,
                            format!("the declared types have no column {c:?}"),
                        )
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(TypeCheck {
            pending: vec![Vec::new(); types.len()],
            types,
            rows: 0,
        })
    }

    /// Adds one row (a value per column, None for NULL).
    pub fn push<'a>(&mut self, row: impl Iterator<Item = Option<&'a str>>) -> Result<()> {
        for (column, value) in self.pending.iter_mut().zip(row) {
            column.push(value.filter(|v| !v.is_empty()).map(str::to_string));
        }
        if self.pending.first().is_some_and(|c| c.len() >= BLOCK) {
            self.check()?;
        }
        Ok(())
    }

    /// Checks the rows not checked yet.
    pub fn check(&mut self) -> Result<()> {
        let options = CastOptions {
            safe: false,
            ..Default::default()
        };
        let mut block = 0;
        for ((name, ty), values) in self.types.iter().zip(self.pending.iter_mut()) {
            block = values.len();
            if matches!(
                ty,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) {
                values.clear();
                continue;
            }
            let text: ArrayRef = Arc::new(StringArray::from(std::mem::take(values)));
            if let Err(e) = cast_with_options(&text, ty, &options) {
                return Err(Error::new(
                    sqlstate::INVALID_TEXT_REPRESENTATION,
                    format!(
                        "a value of column {name} (rows {}-{}) is not a {ty}: {e}",
                        self.rows + 1,
                        self.rows + block as u64
                    ),
                ));
            }
        }
        self.rows += block as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_round_trip_and_check_values() {
        let dir = std::env::temp_dir().join(format!("recsql-types-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("day", DataType::Date32, true),
            Field::new("note", DataType::Utf8, true),
        ]);
        assert!(declared(&dir, "t").unwrap().is_none());
        declare(&dir, "t", &schema).unwrap();
        let back = declared(&dir, "t").unwrap().unwrap();
        assert_eq!(back.fields(), schema.fields());

        let columns: Vec<String> = ["id", "day", "note"].map(String::from).to_vec();
        let mut check = TypeCheck::new(&back, &columns).unwrap();
        check
            .push([Some("1"), Some("2020-01-02"), Some("x")].into_iter())
            .unwrap();
        check.push([Some(""), None, None].into_iter()).unwrap();
        check.check().unwrap();
        check
            .push([Some("two"), Some("2020-01-02"), None].into_iter())
            .unwrap();
        let err = check.check().unwrap_err();
        assert_eq!(err.code, sqlstate::INVALID_TEXT_REPRESENTATION);
        assert!(
            err.message.contains("column id (rows 3-3)"),
            "{}",
            err.message
        );

        fs::write(path(&dir, "t"), b"[{\"name\": 1}]").unwrap();
        assert_eq!(
            declared(&dir, "t").unwrap_err().code,
            sqlstate::DATA_EXCEPTION
        );
        forget(&dir, "t");
        assert!(declared(&dir, "t").unwrap().is_none());
        let _ = fs::remove_dir_all(&dir);
    }
}
