//! [`DirectoryTables`]: the tables of a `--data` directory, local or on an object store.
//!
//! Each visible entry is a table named after it, lower-cased: a subdirectory
//! (`orders/` -> `orders`) or a file with a known extension (`Items.csv` -> `items`).
//! Hidden entries (`.x`, `_SUCCESS`) and other files are skipped; two entries that would
//! be the same table are an error naming both.

use std::collections::HashMap;

use datafusion::datasource::listing::ListingTableUrl;
use datafusion::error::DataFusionError;
use datafusion::execution::context::SessionState;

use super::format::FileFormatKind;
use crate::error::{Result, SpateError};

/// Table names and their locations, collected entry by entry.
#[derive(Debug)]
pub(crate) struct DirectoryTables {
    /// The directory, as the user gave it (for messages).
    dir: String,
    found: HashMap<String, String>,
}

impl DirectoryTables {
    pub fn new(dir: impl Into<String>) -> Self {
        DirectoryTables {
            dir: dir.into(),
            found: HashMap::new(),
        }
    }

    /// Adds the entry `file_name` at `location`, when it is a table.
    pub fn add(&mut self, file_name: &str, is_dir: bool, location: String) -> Result<()> {
        if file_name.starts_with('.') || file_name.starts_with('_') {
            return Ok(());
        }
        let name = if is_dir {
            file_name
        } else if FileFormatKind::from_path(file_name).is_some() {
            match file_name.rsplit_once('.') {
                Some((stem, _)) => stem,
                None => return Ok(()),
            }
        } else {
            return Ok(());
        };
        let name = name.to_lowercase();
        if let Some(other) = self.found.insert(name.clone(), location.clone()) {
            return Err(SpateError::InvalidOption {
                option: "data directory".into(),
                value: self.dir.clone(),
                reason: format!("both {other} and {location} would be table `{name}`"),
            });
        }
        Ok(())
    }

    /// The tables found, by name.
    pub fn into_tables(self) -> HashMap<String, String> {
        self.found
    }
}

/// The tables directly under the object-store directory `url` (`s3://bucket/warehouse/`).
pub(crate) async fn remote_directory_tables(
    state: &SessionState,
    url: &str,
) -> Result<HashMap<String, String>> {
    let dir = if url.ends_with('/') {
        url.to_string()
    } else {
        format!("{url}/")
    };
    let listing_url = ListingTableUrl::parse(&dir)?;
    let store = state.runtime_env().object_store(&listing_url)?;
    let listing = store
        .list_with_delimiter(Some(listing_url.prefix()))
        .await
        .map_err(|e| SpateError::Storage {
            location: super::resolve::shown_location(&dir),
            reason: SpateError::from(DataFusionError::ObjectStore(Box::new(e))).to_string(),
        })?;
    let mut tables = DirectoryTables::new(super::resolve::shown_location(&dir));
    for prefix in &listing.common_prefixes {
        if let Some(name) = prefix.filename() {
            tables.add(name, true, format!("{dir}{name}/"))?;
        }
    }
    for object in &listing.objects {
        if object.size == 0 {
            continue;
        }
        if let Some(name) = object.location.filename() {
            tables.add(name, false, format!("{dir}{name}"))?;
        }
    }
    if tables.found.is_empty() {
        return Err(SpateError::NoDataFiles {
            path: super::resolve::shown_location(&dir),
            hint: String::new(),
        });
    }
    Ok(tables.into_tables())
}
