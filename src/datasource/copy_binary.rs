//! Rows of PostgreSQL's binary COPY format (`COPY t FROM STDIN (FORMAT binary)`, which
//! asyncpg's `copy_records_to_table` and psycopg's binary copy send): the signature and
//! header, then per row a field count and each field as a length and its type's binary
//! representation. Values are read with the types of the table's columns and given back as
//! the text a CSV table stores. It reads; it decides nothing about tables.

use std::io::{BufReader, Read};

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::arrow::temporal_conversions::{date32_to_datetime, timestamp_us_to_datetime};

use crate::error::{Error, Result, sqlstate};

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// Days and microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const EPOCH_DAYS: i32 = 10_957;
const EPOCH_MICROS: i64 = 946_684_800_000_000;

pub struct BinaryRows<R: Read> {
    input: BufReader<R>,
    types: Vec<DataType>,
    started: bool,
    row: u64,
}

fn bad(message: String) -> Error {
    Error::new(sqlstate::BAD_COPY_FILE_FORMAT, message)
}

impl<R: Read> BinaryRows<R> {
    pub fn new(input: BufReader<R>, types: Vec<DataType>) -> Self {
        BinaryRows {
            input,
            types,
            started: false,
            row: 0,
        }
    }

    fn read<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut buf = [0u8; N];
        self.input.read_exact(&mut buf).map_err(|_| {
            bad(format!(
                "the binary COPY data ends inside row {} (or its header)",
                self.row + 1
            ))
        })?;
        Ok(buf)
    }

    fn header(&mut self) -> Result<()> {
        if &self.read::<11>()? != SIGNATURE {
            return Err(bad("the binary COPY data lacks the PGCOPY signature".into()));
        }
        let _flags = self.read::<4>()?;
        let extension = u32::from_be_bytes(self.read::<4>()?) as u64;
        let skipped = std::io::copy(&mut (&mut self.input).take(extension), &mut std::io::sink())
            .map_err(|e| bad(format!("the binary COPY header cannot be read: {e}")))?;
        if skipped != extension {
            return Err(bad("the binary COPY header is cut short".into()));
        }
        Ok(())
    }

    /// The next row's values as text (None for NULL), or None after the trailer.
    pub fn next_row(&mut self) -> Result<Option<Vec<Option<String>>>> {
        if !self.started {
            self.header()?;
            self.started = true;
        }
        let count = i16::from_be_bytes(self.read::<2>()?);
        if count == -1 {
            return Ok(None);
        }
        self.row += 1;
        if count as usize != self.types.len() {
            return Err(bad(format!(
                "row {} has {count} values, but {} columns are copied",
                self.row,
                self.types.len()
            )));
        }
        let mut values = Vec::with_capacity(self.types.len());
        for column in 0..self.types.len() {
            let len = i32::from_be_bytes(self.read::<4>()?);
            if len < 0 {
                values.push(None);
                continue;
            }
            let mut bytes = vec![0u8; len as usize];
            self.input
                .read_exact(&mut bytes)
                .map_err(|_| bad(format!("the binary COPY data ends inside row {}", self.row)))?;
            values.push(Some(text(&self.types[column], &bytes).map_err(|m| {
                bad(format!("row {}, column {}: {m}", self.row, column + 1))
            })?));
        }
        Ok(Some(values))
    }
}

/// The text of one binary value of a column of type `t`. Integers and floats are read by
/// their width, so an `int4` sent for a `bigint` column is read as one.
fn text(t: &DataType, b: &[u8]) -> std::result::Result<String, String> {
    let width = |n: usize| -> std::result::Result<(), String> {
        if b.len() == n {
            Ok(())
        } else {
            Err(format!("a {t} value of {} bytes", b.len()))
        }
    };
    Ok(match t {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => match b.len() {
            2 => i16::from_be_bytes([b[0], b[1]]).to_string(),
            4 => i32::from_be_bytes([b[0], b[1], b[2], b[3]]).to_string(),
            8 => i64::from_be_bytes(b.try_into().map_err(|_| "bad integer")?).to_string(),
            n => return Err(format!("an integer of {n} bytes")),
        },
        DataType::Float32 | DataType::Float64 => match b.len() {
            4 => f32::from_be_bytes([b[0], b[1], b[2], b[3]]).to_string(),
            8 => f64::from_be_bytes(b.try_into().map_err(|_| "bad float")?).to_string(),
            n => return Err(format!("a float of {n} bytes")),
        },
        DataType::Boolean => {
            width(1)?;
            (b[0] != 0).to_string()
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            String::from_utf8(b.to_vec()).map_err(|_| "text that is not UTF-8".to_string())?
        }
        DataType::Date32 => {
            width(4)?;
            let days = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            date32_to_datetime(days + EPOCH_DAYS)
                .ok_or("a date out of range")?
                .date()
                .to_string()
        }
        DataType::Timestamp(
            TimeUnit::Microsecond | TimeUnit::Nanosecond | TimeUnit::Millisecond | TimeUnit::Second,
            None,
        ) => {
            width(8)?;
            let micros = i64::from_be_bytes(b.try_into().map_err(|_| "bad timestamp")?);
            timestamp_us_to_datetime(micros + EPOCH_MICROS)
                .ok_or("a timestamp out of range")?
                .to_string()
        }
        other => {
            return Err(format!(
                "binary values of type {other} cannot be read; send text or CSV"
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
        match bytes {
            Some(b) => {
                out.extend((b.len() as i32).to_be_bytes());
                out.extend(b);
            }
            None => out.extend((-1i32).to_be_bytes()),
        }
    }

    #[test]
    fn reads_rows_of_each_type_and_the_trailer() {
        let mut data = SIGNATURE.to_vec();
        data.extend(0i32.to_be_bytes());
        data.extend(0i32.to_be_bytes());
        data.extend(4i16.to_be_bytes());
        field(&mut data, Some(&7i64.to_be_bytes()));
        field(&mut data, Some(b"a,b"));
        field(&mut data, Some(&1.5f64.to_be_bytes()));
        field(&mut data, Some(&1i32.to_be_bytes()));
        data.extend(4i16.to_be_bytes());
        field(&mut data, Some(&8i32.to_be_bytes()));
        field(&mut data, None);
        field(&mut data, None);
        field(&mut data, None);
        data.extend((-1i16).to_be_bytes());
        let types = vec![
            DataType::Int64,
            DataType::Utf8,
            DataType::Float64,
            DataType::Date32,
        ];
        let mut rows = BinaryRows::new(BufReader::new(&data[..]), types);
        assert_eq!(
            rows.next_row().unwrap(),
            Some(vec![
                Some("7".into()),
                Some("a,b".into()),
                Some("1.5".into()),
                Some("2000-01-02".into())
            ])
        );
        assert_eq!(
            rows.next_row().unwrap(),
            Some(vec![Some("8".into()), None, None, None])
        );
        assert_eq!(rows.next_row().unwrap(), None);
    }

    #[test]
    fn damaged_data_is_a_copy_format_error() {
        let mut rows = BinaryRows::new(BufReader::new(&b"PGCOPY\nxx"[..]), vec![DataType::Int64]);
        assert_eq!(
            rows.next_row().unwrap_err().code,
            sqlstate::BAD_COPY_FILE_FORMAT
        );
        let mut data = SIGNATURE.to_vec();
        data.extend([0u8; 8]);
        data.extend(2i16.to_be_bytes());
        let mut rows = BinaryRows::new(BufReader::new(&data[..]), vec![DataType::Int64]);
        assert!(
            rows.next_row()
                .unwrap_err()
                .message
                .contains("has 2 values")
        );
        let mut data = SIGNATURE.to_vec();
        data.extend([0u8; 8]);
        data.extend(1i16.to_be_bytes());
        field(&mut data, Some(&[1, 2, 3]));
        let mut rows = BinaryRows::new(BufReader::new(&data[..]), vec![DataType::Int64]);
        assert!(
            rows.next_row()
                .unwrap_err()
                .message
                .contains("integer of 3 bytes")
        );
    }
}
