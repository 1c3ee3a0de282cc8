//! The `files` database: every CSV or Parquet file in a directory is a table named after the
//! file (without its extension). The directory is read on every lookup, so a file added while
//! the server runs is visible at once. A CSV table's column types are those its CREATE TABLE
//! declared (`declared_types`), or else read from its values, with a column that has none
//! read as text. It reads files; it never writes them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionState;

const EXTENSIONS: &[&str] = &["csv", "parquet"];

/// A schema whose tables are the CSV and Parquet files of one directory.
#[derive(Debug)]
pub struct FilesSchema {
    dir: PathBuf,
    state: SessionState,
}

impl FilesSchema {
    /// `state` is used to infer file schemas (object store, configuration).
    pub fn new(dir: PathBuf, state: SessionState) -> Self {
        FilesSchema { dir, state }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file behind table `name`, if there is one.
    fn file_for(&self, name: &str) -> Option<(PathBuf, &'static str)> {
        if name.contains('/') || name.contains('\\') || name.starts_with('.') {
            return None;
        }
        EXTENSIONS.iter().find_map(|ext| {
            let path = self.dir.join(format!("{name}.{ext}"));
            path.is_file().then_some((path, *ext))
        })
    }

    async fn open(&self, path: &Path, ext: &str) -> Result<Arc<dyn TableProvider>> {
        let url = ListingTableUrl::parse(path.to_string_lossy())?;
        let options = match ext {
            "csv" => ListingOptions::new(Arc::new(CsvFormat::default().with_has_header(true)))
                .with_file_extension(".csv"),
            _ => ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet"),
        };
        // Declared types (CREATE TABLE with columns) win over what the values suggest.
        let declared = match (ext, path.file_stem().and_then(|s| s.to_str())) {
            ("csv", Some(name)) => super::declared_types::declared(&self.dir, name)
                .map_err(|e| DataFusionError::External(Box::new(e)))?,
            _ => None,
        };
        if let Some(schema) = declared {
            let config = ListingTableConfig::new(url)
                .with_listing_options(options)
                .with_schema(schema);
            return Ok(Arc::new(ListingTable::try_new(config)?));
        }
        let schema = options.infer_schema(&self.state, &url).await.map_err(|e| {
            let err = crate::error::from_datafusion(&e)
                .context(format_args!("cannot read file {}", path.display()));
            DataFusionError::External(Box::new(err))
        })?;
        // A column with no values yet (a table made by CREATE TABLE, or one whose values are
        // all empty) reads as text rather than as DataFusion's Null type, which no value
        // could be inserted as.
        let schema = Arc::new(Schema::new_with_metadata(
            schema
                .fields()
                .iter()
                .map(|f| match f.data_type() {
                    DataType::Null => Arc::new(
                        f.as_ref()
                            .clone()
                            .with_data_type(DataType::Utf8)
                            .with_nullable(true),
                    ),
                    _ => f.clone(),
                })
                .collect::<Vec<_>>(),
            schema.metadata().clone(),
        ));
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(schema);
        Ok(Arc::new(ListingTable::try_new(config)?))
    }
}

#[async_trait]
impl SchemaProvider for FilesSchema {
    fn table_names(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .filter_map(|e| {
                let path = e.path();
                let ext = path.extension()?.to_str()?.to_ascii_lowercase();
                if !EXTENSIONS.contains(&ext.as_str()) {
                    return None;
                }
                Some(path.file_stem()?.to_str()?.to_string())
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        match self.file_for(name) {
            Some((path, ext)) => self.open(&path, ext).await.map(Some),
            None => Ok(None),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.file_for(name).is_some()
    }
}
