//! Writing tables of the `files` database: uploads (`COPY files.name [(columns)] FROM
//! STDIN`), tables made by queries (`CREATE TABLE files.name AS ...`, written elsewhere and
//! published here) and their removal (`DROP TABLE files.name`). An upload lands in a file of
//! the hidden scratch directory `.writing` (emptied at start-up) as it arrives; when the
//! client is done, it is parsed (PostgreSQL's text or CSV COPY format) and checked (every row
//! has every column). A new table is written as `name.csv` with a header; rows for an
//! existing CSV table are appended, as PostgreSQL's COPY appends, by writing the old rows and
//! the new ones to a new file. Every change is a whole file fsynced and moved into place, so
//! readers see the old table or the new one, and a failed or abandoned write leaves nothing
//! behind. Changes of the files are serialised.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use datafusion::arrow::datatypes::DataType;

use crate::catalog::write_atomic_with;
use crate::error::{Error, Result, sqlstate};
use crate::sql::{CopyFormat, CopyOptions};

/// Serialises the last step of every change, so two of the same name cannot both create it.
static FINISHING: Mutex<()> = Mutex::new(());

fn serialised() -> std::sync::MutexGuard<'static, ()> {
    FINISHING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Checks that `name` can name a file table (no path, no hidden file).
fn check_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err(Error::new(
            sqlstate::INVALID_PARAMETER_VALUE,
            format!("{name:?} cannot name a file table; use letters, digits, _ and -"),
        ))
    }
}

/// A hidden directory beside the tables for files still being written.
pub fn scratch_dir(dir: &Path) -> Result<PathBuf> {
    let scratch = dir.join(".writing");
    fs::create_dir_all(&scratch)
        .map_err(|e| Error::io(&format!("cannot create {}", scratch.display()), e))?;
    Ok(scratch)
}

/// Removes what writes that never finished left in the scratch directory (the server
/// stopped during an upload or a CREATE TABLE AS). Called at start-up, before any write.
pub fn clean_scratch(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir.join(".writing")) {
        for e in entries.flatten() {
            let _ = fs::remove_file(e.path());
        }
    }
    // The temporaries of appends (crash-safe writes beside their table).
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.contains(".tmp-") && e.path().is_file() {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

/// Makes the complete CSV file `written` (in [`scratch_dir`]) table `name`, unless a table
/// of that name exists.
pub fn publish(dir: &Path, name: &str, written: &Path) -> Result<()> {
    check_name(name)?;
    let _serial = serialised();
    if table_exists(dir, name) {
        return Err(already_exists(name));
    }
    // A table made by a query takes its types from its values.
    super::declared_types::forget(dir, name);
    File::open(written)
        .and_then(|f| f.sync_all())
        .and_then(|()| fs::rename(written, dir.join(format!("{name}.csv"))))
        .map_err(|e| Error::io(&format!("cannot create files.{name}"), e))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Whether `dir` holds the file of table `name` (CSV or Parquet).
pub fn table_exists(dir: &Path, name: &str) -> bool {
    ["csv", "parquet"]
        .iter()
        .any(|ext| dir.join(format!("{name}.{ext}")).exists())
}

/// The error for a table `files.name` that exists already.
pub fn already_exists(name: &str) -> Error {
    Error::new(
        sqlstate::DUPLICATE_TABLE,
        format!("table files.{name} already exists"),
    )
    .with_hint("DROP TABLE it first, or choose another name")
}

/// Removes table `name`; false when there is none.
pub fn remove(dir: &Path, name: &str) -> Result<bool> {
    check_name(name)?;
    let _serial = serialised();
    for ext in ["csv", "parquet"] {
        let path = dir.join(format!("{name}.{ext}"));
        if path.exists() {
            fs::remove_file(&path)
                .map_err(|e| Error::io(&format!("cannot drop files.{name}"), e))?;
            super::declared_types::forget(dir, name);
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
            return Ok(true);
        }
    }
    Ok(false)
}

/// Checks that rows can be added to existing table `name` with the `columns` listed (all of
/// its columns when None): the table exists, is a CSV table and has those columns.
pub fn check_insert(dir: &Path, name: &str, columns: Option<&[String]>) -> Result<()> {
    check_name(name)?;
    let Some(have) = existing_columns(dir, name)? else {
        return Err(Error::new(
            sqlstate::UNDEFINED_TABLE,
            format!("table files.{name} does not exist"),
        )
        .with_hint("CREATE TABLE files.name AS SELECT ... makes one"));
    };
    if let Some(given) = columns {
        mapping(&have, given, &format!("files.{name}"))?;
    }
    Ok(())
}

/// One upload in progress: where its raw bytes go and what they mean.
#[derive(Debug)]
pub struct Upload {
    /// `files.name`, for messages.
    pub table: String,
    dir: PathBuf,
    name: String,
    raw_path: PathBuf,
    raw: Option<File>,
    columns: Option<Vec<String>>,
    options: CopyOptions,
    /// The types of the copied columns, which binary data needs.
    types: Vec<DataType>,
    /// Whether the rows arrive already cast to the table's types (INSERT's plan casts
    /// them), so that declared types need no second check.
    typed: bool,
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
        check_name(name)?;
        let existing = existing_columns(dir, name)?;
        if options.format == CopyFormat::Binary && existing.is_none() {
            return Err(Error::new(
                sqlstate::FEATURE_NOT_SUPPORTED,
                format!(
                    "COPY {table} FROM STDIN (FORMAT binary) needs an existing table: its \
                     column types say how to read the values"
                ),
            )
            .with_hint(format!(
                "CREATE TABLE {table} (column type, ...) first, or send text or CSV"
            )));
        }
        match (&existing, &columns) {
            (None, None) if !options.header => {
                return Err(Error::syntax(format!(
                    "COPY {table} FROM STDIN creates a table and needs its column names: list \
                     them, as in COPY {table} (userId, movieId, rating) FROM STDIN, or send a \
                     header line with (FORMAT csv, HEADER)"
                )));
            }
            (Some(have), Some(given)) => {
                mapping(have, given, &table)?;
            }
            // A new table: types declared for an earlier one of the name do not apply.
            (None, _) => super::declared_types::forget(dir, name),
            _ => {}
        }
        let raw_path = scratch_dir(dir)?.join(format!("{name}.upload-{}.csv", unique()));
        let raw = File::create(&raw_path)
            .map_err(|e| Error::io(&format!("cannot start the upload of {table}"), e))?;
        Ok(Upload {
            table,
            dir: dir.to_path_buf(),
            name: name.to_string(),
            raw_path,
            raw: Some(raw),
            columns,
            options,
            types: Vec::new(),
            typed: false,
        })
    }

    /// Starts adding rows of every column of existing table `name`, in its order, that
    /// arrive as a CSV file without a header, written to [`Upload::path`] by someone else
    /// (INSERT INTO).
    pub fn insert(dir: &Path, name: &str) -> Result<Upload> {
        check_insert(dir, name, None)?;
        let mut upload = Self::start(dir, name, None, CopyOptions::new(CopyFormat::Csv))?;
        upload.raw = None;
        upload.typed = true;
        Ok(upload)
    }

    /// Sets the types of the copied columns (the listed ones, else the table's), in order:
    /// binary data is read with them.
    pub fn set_column_types(&mut self, types: Vec<DataType>) {
        self.types = types;
    }

    /// Where the rows go until `finish`.
    pub fn path(&self) -> &Path {
        &self.raw_path
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

    /// Parses what was sent and creates or extends the table; returns the number of rows
    /// added. Blocking.
    pub fn finish(mut self) -> Result<u64> {
        drop(self.raw.take());
        let raw = File::open(&self.raw_path)
            .map_err(|e| Error::io(&format!("cannot read the upload of {}", self.table), e))?;
        let mut rows = Rows::new(BufReader::new(raw), &self.options, &self.types);
        // As in PostgreSQL, a header line is skipped; it names the columns of a new table
        // when no list does.
        let header = if self.options.header {
            rows.next_row()?
        } else {
            None
        };
        let _serial = serialised();
        let existing = existing_columns(&self.dir, &self.name)?;
        let target = self.dir.join(format!("{}.csv", self.name));
        let given = match self.columns.take() {
            Some(c) => c,
            None => match (&existing, header) {
                (Some(have), _) => have.clone(),
                (None, Some(names)) => names.into_iter().map(Option::unwrap_or_default).collect(),
                (None, None) => {
                    return Err(Error::new(
                        sqlstate::BAD_COPY_FILE_FORMAT,
                        "no header line was sent",
                    ));
                }
            },
        };
        let mut seen = std::collections::HashSet::new();
        if let Some(bad) = given
            .iter()
            .find(|c| c.is_empty() || !seen.insert(c.as_str()))
        {
            return Err(Error::new(
                sqlstate::DUPLICATE_COLUMN,
                format!("column names must be present and distinct, but {bad:?} is not"),
            ));
        }
        let columns = existing.clone().unwrap_or_else(|| given.clone());
        let positions = mapping(&columns, &given, &self.table)?;
        // A table with declared types takes only values of those types.
        let declared = if self.typed {
            None
        } else {
            super::declared_types::declared(&self.dir, &self.name)?
        };
        let mut check = match declared {
            Some(schema) if existing.is_some() => {
                Some(super::declared_types::TypeCheck::new(&schema, &columns)?)
            }
            _ => None,
        };
        let mut count = 0u64;
        let mut failure = None;
        let written = write_atomic_with(&target, |w| {
            if existing.is_some() {
                // The table's rows as they are, then the new ones.
                let mut old = File::open(&target)?;
                std::io::copy(&mut old, w)?;
                let len = old.metadata()?.len();
                if len > 0 {
                    let mut last = [0u8];
                    std::io::Seek::seek(&mut old, std::io::SeekFrom::Start(len - 1))?;
                    old.read_exact(&mut last)?;
                    if last[0] != b'\n' {
                        w.write_all(b"\n")?;
                    }
                }
            }
            let mut out = csv::Writer::from_writer(w);
            if existing.is_none() {
                out.write_record(&columns).map_err(std::io::Error::other)?;
            }
            loop {
                let row = match rows.next_row() {
                    Ok(Some(row)) => row,
                    Ok(None) => break,
                    Err(e) => {
                        failure = Some(e);
                        return Err(std::io::Error::other("bad row"));
                    }
                };
                if row.len() != given.len() {
                    failure = Some(Error::new(
                        sqlstate::BAD_COPY_FILE_FORMAT,
                        format!(
                            "row {} has {} values, but {} columns ({}) are copied",
                            count + 1,
                            row.len(),
                            given.len(),
                            given.join(", ")
                        ),
                    ));
                    return Err(std::io::Error::other("bad row"));
                }
                let record = positions
                    .iter()
                    .map(|p| p.and_then(|i| row[i].as_deref()).unwrap_or(""));
                if let Some(check) = check.as_mut()
                    && let Err(e) = check.push(record.clone().map(Some))
                {
                    failure = Some(e);
                    return Err(std::io::Error::other("bad value"));
                }
                out.write_record(record).map_err(std::io::Error::other)?;
                count += 1;
            }
            if let Some(Err(e)) = check.as_mut().map(|c| c.check()) {
                failure = Some(e);
                return Err(std::io::Error::other("bad value"));
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

/// The columns of table `name` when it exists: the header of its CSV file. A Parquet table
/// cannot take rows.
fn existing_columns(dir: &Path, name: &str) -> Result<Option<Vec<String>>> {
    let table = format!("files.{name}");
    if dir.join(format!("{name}.parquet")).exists() {
        return Err(Error::new(
            sqlstate::FEATURE_NOT_SUPPORTED,
            format!("{table} is a Parquet file; COPY FROM adds rows to CSV tables only"),
        ));
    }
    let path = dir.join(format!("{name}.csv"));
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&format!("cannot read {table}"), e)),
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(file);
    let mut header = csv::StringRecord::new();
    match reader.read_record(&mut header) {
        Ok(true) => Ok(Some(header.iter().map(str::to_string).collect())),
        Ok(false) => Err(Error::new(
            sqlstate::BAD_COPY_FILE_FORMAT,
            format!("{table} is an empty file without a header line"),
        )),
        Err(e) => Err(Error::new(
            sqlstate::BAD_COPY_FILE_FORMAT,
            format!("cannot read the header of {table}: {e}"),
        )),
    }
}

/// For each of the table's `columns`, its position among the `given` ones (None: NULL).
fn mapping(columns: &[String], given: &[String], table: &str) -> Result<Vec<Option<usize>>> {
    if let Some(unknown) = given.iter().find(|g| !columns.contains(g)) {
        return Err(Error::new(
            sqlstate::UNDEFINED_COLUMN,
            format!(
                "{table} has no column {unknown:?}; its columns are {}",
                columns.join(", ")
            ),
        ));
    }
    Ok(columns
        .iter()
        .map(|c| given.iter().position(|g| g == c))
        .collect())
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
    Binary(super::copy_binary::BinaryRows<R>),
}

impl<R: Read> Rows<R> {
    fn new(input: BufReader<R>, options: &CopyOptions, types: &[DataType]) -> Self {
        match options.format {
            CopyFormat::Binary => {
                Rows::Binary(super::copy_binary::BinaryRows::new(input, types.to_vec()))
            }
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
            Rows::Binary(rows) => rows.next_row(),
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

    /// Files in the scratch directory.
    fn leftovers(d: &Path) -> Vec<String> {
        fs::read_dir(d.join(".writing"))
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn unfinished_writes_are_cleaned_at_start_up() {
        let d = dir("clean");
        let mut up = Upload::start(
            &d,
            "t",
            Some(vec!["a".into()]),
            CopyOptions::new(CopyFormat::Text),
        )
        .unwrap();
        up.write(b"1\n").unwrap();
        std::mem::forget(up);
        fs::write(d.join(".t.csv.tmp-1"), "half").unwrap();
        fs::write(d.join("keep.csv"), "a\n1\n").unwrap();
        assert_eq!(leftovers(&d).len(), 1);
        clean_scratch(&d);
        assert!(leftovers(&d).is_empty());
        assert!(!d.join(".t.csv.tmp-1").exists());
        assert!(d.join("keep.csv").exists());
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
    fn rows_for_an_existing_table_are_appended_in_its_column_order() {
        let d = dir("append");
        // A file written by hand, without a final newline.
        fs::write(d.join("r.csv"), "userId,movieId,rating\n1,10,5").unwrap();
        let mut up = Upload::start(
            &d,
            "r",
            Some(vec!["movieId".into(), "userId".into()]),
            CopyOptions::new(CopyFormat::Text),
        )
        .unwrap();
        up.write(b"20\t2\n30\t3\n").unwrap();
        assert_eq!(up.finish().unwrap(), 2);
        // No list: every column in the table's order; a header line is skipped.
        let mut options = CopyOptions::new(CopyFormat::Csv);
        options.header = true;
        let mut up = Upload::start(&d, "r", None, options).unwrap();
        up.write(b"whatever,the,header\n4,40,1\n").unwrap();
        assert_eq!(up.finish().unwrap(), 1);
        assert_eq!(
            fs::read_to_string(d.join("r.csv")).unwrap(),
            "userId,movieId,rating\n1,10,5\n2,20,\n3,30,\n4,40,1\n"
        );
        assert!(leftovers(&d).is_empty(), "{:?}", leftovers(&d));
    }

    #[test]
    fn a_bad_row_an_unknown_column_or_no_columns_change_nothing() {
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

        // A column the existing table lacks, or a Parquet table, is refused at once.
        fs::write(d.join("t.csv"), "a\n1\n").unwrap();
        let err = Upload::start(&d, "t", cols, CopyOptions::new(CopyFormat::Csv)).unwrap_err();
        assert_eq!(err.code, sqlstate::UNDEFINED_COLUMN, "{err}");
        assert_eq!(fs::read_to_string(d.join("t.csv")).unwrap(), "a\n1\n");
        fs::write(d.join("p.parquet"), "not really").unwrap();
        let err = Upload::start(&d, "p", None, CopyOptions::new(CopyFormat::Csv)).unwrap_err();
        assert_eq!(err.code, sqlstate::FEATURE_NOT_SUPPORTED, "{err}");
        // A bad row appended to an existing table leaves it as it was.
        let mut up = Upload::start(&d, "t", None, CopyOptions::new(CopyFormat::Csv)).unwrap();
        up.write(b"2\n3,4\n").unwrap();
        assert_eq!(
            up.finish().unwrap_err().code,
            sqlstate::BAD_COPY_FILE_FORMAT
        );
        assert_eq!(fs::read_to_string(d.join("t.csv")).unwrap(), "a\n1\n");
        fs::remove_file(d.join("t.csv")).unwrap();
        fs::remove_file(d.join("p.parquet")).unwrap();

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
