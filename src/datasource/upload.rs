//! New tables of the `files` database from `COPY files.name FROM STDIN`: the client's data
//! lands in a hidden temporary file as it arrives; when the client is done, it is parsed
//! (PostgreSQL's text or CSV COPY format), checked (every row has every column) and written
//! as `name.csv` with a header, fsynced and moved into place. Until then nothing is visible,
//! and a failed or abandoned upload leaves nothing behind. It never replaces a table.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::catalog::write_atomic_with;
use crate::error::{Error, Result, sqlstate};
use crate::sql::{CopyFormat, CopyOptions};

/// Serialises the last step of uploads, so two of the same name cannot both create it.
static FINISHING: Mutex<()> = Mutex::new(());

/// One upload in progress: where its raw bytes go and what they mean.
#[derive(Debug)]
pub struct Upload {
    /// `files.name`, for messages.
    pub table: String,
    target: PathBuf,
    raw_path: PathBuf,
    raw: Option<File>,
    columns: Option<Vec<String>>,
    options: CopyOptions,
}

impl Upload {
    /// Starts an upload of table `name` into `dir`, with the column names given or, with
    /// HEADER, read from the first line.
    pub fn start(
        dir: &Path,
        name: &str,
        columns: Option<Vec<String>>,
        options: CopyOptions,
    ) -> Result<Upload> {
        let table = format!("files.{name}");
        let valid = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-'));
        if !valid {
            return Err(Error::new(
                sqlstate::INVALID_PARAMETER_VALUE,
                format!("{name:?} cannot name a file table; use letters, digits, _ and -"),
            ));
        }
        if options.format == CopyFormat::Binary {
            return Err(Error::new(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "COPY FROM reads the text and CSV formats, not binary",
            ));
        }
        if columns.is_none() && !options.header {
            return Err(Error::syntax(format!(
                "COPY {table} FROM STDIN creates a table and needs its column names: list them, \
                 as in COPY {table} (userId, movieId, rating) FROM STDIN, or send a header line \
                 with (FORMAT csv, HEADER)"
            )));
        }
        exists_check(dir, name, &table)?;
        let raw_path = dir.join(format!(".{name}.upload-{}", unique()));
        let raw = File::create(&raw_path)
            .map_err(|e| Error::io(&format!("cannot start the upload of {table}"), e))?;
        Ok(Upload {
            table,
            target: dir.join(format!("{name}.csv")),
            raw_path,
            raw: Some(raw),
            columns,
            options,
        })
    }

    /// The number of columns, when they were listed.
    pub fn column_count(&self) -> usize {
        self.columns.as_ref().map_or(0, Vec::len)
    }

    /// Appends data as the client sent it.
    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        match &mut self.raw {
            Some(f) => f
                .write_all(data)
                .map_err(|e| Error::io(&format!("cannot store the upload of {}", self.table), e)),
            None => Err(Error::internal("the upload is already finished")),
        }
    }

    /// Parses what was sent and creates the table; returns the number of rows. Blocking.
    pub fn finish(mut self) -> Result<u64> {
        drop(self.raw.take());
        let raw = File::open(&self.raw_path)
            .map_err(|e| Error::io(&format!("cannot read the upload of {}", self.table), e))?;
        let mut rows = Rows::new(BufReader::new(raw), &self.options);
        let columns = match self.columns.take() {
            Some(c) => {
                if self.options.header {
                    rows.next_row()?;
                }
                c
            }
            None => rows
                .next_row()?
                .ok_or_else(|| {
                    Error::new(sqlstate::BAD_COPY_FILE_FORMAT, "no header line was sent")
                })?
                .into_iter()
                .map(Option::unwrap_or_default)
                .collect(),
        };
        let mut seen = std::collections::HashSet::new();
        if let Some(bad) = columns
            .iter()
            .find(|c| c.is_empty() || !seen.insert(c.as_str()))
        {
            return Err(Error::new(
                sqlstate::DUPLICATE_COLUMN,
                format!("column names must be present and distinct, but {bad:?} is not"),
            ));
        }
        let _serial = FINISHING.lock().unwrap_or_else(|e| e.into_inner());
        let name = self
            .target
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        exists_check(
            self.target.parent().unwrap_or(Path::new(".")),
            &name,
            &self.table,
        )?;
        let mut count = 0u64;
        let mut failure = None;
        let written = write_atomic_with(&self.target, |w| {
            let mut out = csv::Writer::from_writer(w);
            out.write_record(&columns).map_err(std::io::Error::other)?;
            loop {
                let row = match rows.next_row() {
                    Ok(Some(row)) => row,
                    Ok(None) => break,
                    Err(e) => {
                        failure = Some(e);
                        return Err(std::io::Error::other("bad row"));
                    }
                };
                if row.len() != columns.len() {
                    failure = Some(Error::new(
                        sqlstate::BAD_COPY_FILE_FORMAT,
                        format!(
                            "row {} has {} values, but {} has {} columns ({})",
                            count + 1,
                            row.len(),
                            self.table,
                            columns.len(),
                            columns.join(", ")
                        ),
                    ));
                    return Err(std::io::Error::other("bad row"));
                }
                out.write_record(row.iter().map(|v| v.as_deref().unwrap_or("")))
                    .map_err(std::io::Error::other)?;
                count += 1;
            }
            out.flush()
        });
        match (written, failure) {
            (_, Some(e)) => Err(e),
            (Err(e), None) => Err(Error::io(&format!("cannot write {}", self.table), e)),
            (Ok(()), None) => Ok(count),
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.raw_path);
    }
}

fn exists_check(dir: &Path, name: &str, table: &str) -> Result<()> {
    if ["csv", "parquet"]
        .iter()
        .any(|ext| dir.join(format!("{name}.{ext}")).exists())
    {
        return Err(Error::new(
            sqlstate::DUPLICATE_TABLE,
            format!(
                "{table} already exists; COPY FROM creates a new table, so choose another name"
            ),
        ));
    }
    Ok(())
}

fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The rows of an upload, one at a time; a value is None for NULL.
enum Rows<R: Read> {
    Csv {
        reader: csv::Reader<R>,
        null: String,
    },
    Text {
        lines: std::io::Lines<BufReader<R>>,
        delimiter: char,
        null: String,
    },
}

impl<R: Read> Rows<R> {
    fn new(input: BufReader<R>, options: &CopyOptions) -> Self {
        match options.format {
            CopyFormat::Csv => Rows::Csv {
                reader: csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .delimiter(options.delimiter as u8)
                    .quote(options.quote as u8)
                    .from_reader(input.into_inner()),
                null: options.null.clone(),
            },
            _ => Rows::Text {
                lines: input.lines(),
                delimiter: options.delimiter,
                null: options.null.clone(),
            },
        }
    }

    fn next_row(&mut self) -> Result<Option<Vec<Option<String>>>> {
        let bad = |e: &dyn std::fmt::Display| {
            Error::new(
                sqlstate::BAD_COPY_FILE_FORMAT,
                format!("the COPY data is not valid: {e}"),
            )
        };
        match self {
            Rows::Csv { reader, null } => {
                let mut record = csv::StringRecord::new();
                match reader.read_record(&mut record) {
                    Ok(false) => Ok(None),
                    Ok(true) => Ok(Some(
                        record
                            .iter()
                            .map(|v| (v != null.as_str()).then(|| v.to_string()))
                            .collect(),
                    )),
                    Err(e) => Err(bad(&e)),
                }
            }
            Rows::Text {
                lines,
                delimiter,
                null,
            } => {
                let Some(line) = lines.next() else {
                    return Ok(None);
                };
                let line = line.map_err(|e| bad(&e))?;
                let line = line.strip_suffix('\r').unwrap_or(&line);
                // The end-of-data marker of older clients.
                if line == "\\." {
                    return Ok(None);
                }
                Ok(Some(
                    split_text(line, *delimiter)
                        .into_iter()
                        .map(|(raw, value)| (raw != *null).then_some(value))
                        .collect(),
                ))
            }
        }
    }
}

/// Splits a line of the text format at unescaped delimiters: each field as sent (to compare
/// with the NULL string) and with its backslash escapes resolved.
fn split_text(line: &str, delimiter: char) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    let (mut raw, mut value) = (String::new(), String::new());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == delimiter {
            fields.push((std::mem::take(&mut raw), std::mem::take(&mut value)));
            continue;
        }
        raw.push(c);
        if c != '\\' {
            value.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            value.push('\\');
            break;
        };
        raw.push(e);
        value.push(match e {
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\u{b}',
            other => other,
        });
    }
    fields.push((raw, value));
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("recsql-upload-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn leftovers(d: &Path) -> Vec<String> {
        fs::read_dir(d)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect()
    }

    #[test]
    fn text_format_with_escapes_and_nulls_becomes_csv() {
        let d = dir("text");
        let mut up = Upload::start(
            &d,
            "t",
            Some(vec!["a".into(), "b".into()]),
            CopyOptions::new(CopyFormat::Text),
        )
        .unwrap();
        up.write(b"1\tx\\ty\n2\t\\N\r\n3\ta,\"b\"\n").unwrap();
        assert_eq!(up.finish().unwrap(), 3);
        assert_eq!(
            fs::read_to_string(d.join("t.csv")).unwrap(),
            "a,b\n1,x\ty\n2,\n3,\"a,\"\"b\"\"\"\n"
        );
        assert!(leftovers(&d).is_empty());
    }

    #[test]
    fn csv_with_a_header_names_the_columns() {
        let d = dir("csv");
        let mut options = CopyOptions::new(CopyFormat::Csv);
        options.header = true;
        options.delimiter = ';';
        let mut up = Upload::start(&d, "r", None, options).unwrap();
        up.write(b"userId;movieId\n1;\"10\"\n").unwrap();
        up.write(b"2;20\n").unwrap();
        assert_eq!(up.finish().unwrap(), 2);
        assert_eq!(
            fs::read_to_string(d.join("r.csv")).unwrap(),
            "userId,movieId\n1,10\n2,20\n"
        );
    }

    #[test]
    fn a_bad_row_an_existing_table_or_no_columns_create_nothing() {
        let d = dir("bad");
        let cols = Some(vec!["a".into(), "b".into()]);
        let mut up =
            Upload::start(&d, "t", cols.clone(), CopyOptions::new(CopyFormat::Csv)).unwrap();
        up.write(b"1,2\n3\n").unwrap();
        let err = up.finish().unwrap_err();
        assert_eq!(err.code, sqlstate::BAD_COPY_FILE_FORMAT, "{err}");
        assert!(err.to_string().contains("row 2 has 1 values"), "{err}");
        assert!(!d.join("t.csv").exists());
        assert!(leftovers(&d).is_empty(), "{:?}", leftovers(&d));

        fs::write(d.join("t.csv"), "a\n1\n").unwrap();
        let err = Upload::start(&d, "t", cols, CopyOptions::new(CopyFormat::Csv)).unwrap_err();
        assert_eq!(err.code, sqlstate::DUPLICATE_TABLE);
        assert_eq!(fs::read_to_string(d.join("t.csv")).unwrap(), "a\n1\n");

        let err = Upload::start(&d, "u", None, CopyOptions::new(CopyFormat::Text)).unwrap_err();
        assert_eq!(err.code, sqlstate::SYNTAX_ERROR);
        let err = Upload::start(&d, "../x", None, CopyOptions::new(CopyFormat::Csv)).unwrap_err();
        assert_eq!(err.code, sqlstate::INVALID_PARAMETER_VALUE);

        let mut header = CopyOptions::new(CopyFormat::Csv);
        header.header = true;
        let mut up = Upload::start(&d, "w", None, header).unwrap();
        up.write(b"a,a\n1,2\n").unwrap();
        assert_eq!(up.finish().unwrap_err().code, sqlstate::DUPLICATE_COLUMN);
        assert!(!d.join("w.csv").exists());

        // Abandoned: nothing is left.
        let up = Upload::start(
            &d,
            "v",
            Some(vec!["a".into()]),
            CopyOptions::new(CopyFormat::Csv),
        )
        .unwrap();
        drop(up);
        assert!(leftovers(&d).is_empty());
        assert!(!d.join("v.csv").exists());
    }
}
