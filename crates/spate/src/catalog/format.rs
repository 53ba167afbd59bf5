//! File formats spate reads, and how they are told from file names.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::datasource::file_format::FileFormat;
use datafusion::execution::context::SessionState;

use crate::error::{Result, SpateError};

/// A file format that tables can be read from and results written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileFormatKind {
    /// Apache Parquet (`.parquet`, `.parq`).
    Parquet,
    /// Comma-separated values with a header line (`.csv`).
    Csv,
    /// Tab-separated values with a header line (`.tsv`).
    Tsv,
    /// Newline-delimited JSON (`.json`, `.ndjson`, `.jsonl`).
    Json,
    /// Arrow IPC files (`.arrow`, `.ipc`, `.feather`).
    Arrow,
}

impl FileFormatKind {
    /// The format a file name's extension stands for, if any.
    ///
    /// ```
    /// use spate::FileFormatKind;
    /// assert_eq!(FileFormatKind::from_path("day=1/part-0.parquet"), Some(FileFormatKind::Parquet));
    /// assert_eq!(FileFormatKind::from_path("notes.md"), None);
    /// ```
    pub fn from_path(path: &str) -> Option<Self> {
        let name = path.rsplit('/').next().unwrap_or(path);
        let (_, ext) = name.rsplit_once('.')?;
        Self::from_name(ext)
    }

    /// The format called `name` (an extension or a format name, any case).
    ///
    /// ```
    /// assert_eq!(spate::FileFormatKind::from_name("NDJSON"), Some(spate::FileFormatKind::Json));
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "parquet" | "parq" => Some(Self::Parquet),
            "csv" => Some(Self::Csv),
            "tsv" => Some(Self::Tsv),
            "json" | "ndjson" | "jsonl" => Some(Self::Json),
            "arrow" | "ipc" | "feather" => Some(Self::Arrow),
            _ => None,
        }
    }

    /// Parses a user-given format name, with an error that lists the known ones.
    ///
    /// ```
    /// assert!(spate::FileFormatKind::parse("xml").unwrap_err().to_string().contains("expected parquet, csv"));
    /// ```
    pub fn parse(name: &str) -> Result<Self> {
        Self::from_name(name).ok_or_else(|| SpateError::InvalidOption {
            option: "format".into(),
            value: name.to_string(),
            reason: "expected parquet, csv, tsv, json or arrow".into(),
        })
    }

    /// The extensions files of this format carry, with the dot.
    ///
    /// ```
    /// assert_eq!(spate::FileFormatKind::Tsv.extensions(), [".tsv"]);
    /// ```
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Parquet => &[".parquet", ".parq"],
            Self::Csv => &[".csv"],
            Self::Tsv => &[".tsv"],
            Self::Json => &[".json", ".ndjson", ".jsonl"],
            Self::Arrow => &[".arrow", ".ipc", ".feather"],
        }
    }

    /// DataFusion's name of the format (its `STORED AS` keyword).
    pub(crate) fn datafusion_name(self) -> &'static str {
        match self {
            Self::Parquet => "parquet",
            Self::Csv | Self::Tsv => "csv",
            Self::Json => "json",
            Self::Arrow => "arrow",
        }
    }

    /// Builds DataFusion's reader for this format from the session's defaults and
    /// `options` (DataFusion's `format.*` keys, as in `CREATE EXTERNAL TABLE ... OPTIONS`;
    /// short keys such as `delimiter` or `header` are accepted too).
    pub(crate) fn file_format(
        self,
        state: &SessionState,
        options: &HashMap<String, String>,
    ) -> Result<Arc<dyn FileFormat>> {
        let mut format_options = self.qualified_options(options);
        if matches!(self, Self::Csv | Self::Tsv) {
            format_options
                .entry("format.has_header".into())
                .or_insert_with(|| "true".into());
        }
        let factory = state
            .get_file_format_factory(self.datafusion_name())
            .ok_or_else(|| SpateError::InvalidOption {
                option: "format".into(),
                value: self.datafusion_name().into(),
                reason: "this build has no reader for it".into(),
            })?;
        Ok(factory.create(state, &format_options)?)
    }
}

impl FileFormatKind {
    /// `options` as DataFusion's `format.*` keys, with this format's own defaults (a tab
    /// delimiter for TSV). Used for reading and for writing alike.
    pub(crate) fn qualified_options(
        self,
        options: &HashMap<String, String>,
    ) -> HashMap<String, String> {
        let mut qualified = HashMap::new();
        if self == Self::Tsv {
            qualified.insert("format.delimiter".into(), "\t".into());
        }
        for (key, value) in options {
            qualified.insert(qualify_option(key), value.clone());
        }
        qualified
    }
}

/// `delimiter` → `format.delimiter`; `header` → `format.has_header`.
fn qualify_option(key: &str) -> String {
    let key = key.to_ascii_lowercase();
    if key.contains('.') {
        return key;
    }
    let key = match key.as_str() {
        "header" => "has_header",
        "sep" => "delimiter",
        other => other,
    };
    format!("format.{key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_paths() {
        assert_eq!(
            FileFormatKind::from_path("/a/b/part-0.PARQUET"),
            Some(FileFormatKind::Parquet)
        );
        assert_eq!(
            FileFormatKind::from_path("x.tsv"),
            Some(FileFormatKind::Tsv)
        );
        assert_eq!(
            FileFormatKind::from_path("x.jsonl"),
            Some(FileFormatKind::Json)
        );
        assert_eq!(FileFormatKind::from_path("dir.v2/readme"), None);
        assert_eq!(FileFormatKind::from_path("README.md"), None);
    }

    #[test]
    fn short_option_names() {
        assert_eq!(qualify_option("header"), "format.has_header");
        assert_eq!(qualify_option("Delimiter"), "format.delimiter");
        assert_eq!(qualify_option("format.quote"), "format.quote");
    }
}
