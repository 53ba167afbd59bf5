//! [`TableRef`]: a BigQuery table's name, parsed from `bigquery://PROJECT/DATASET/TABLE`
//! or `PROJECT.DATASET.TABLE`.

use std::fmt;

use crate::error::{BigQueryError, Result};

/// The scheme of BigQuery locations.
pub const SCHEME: &str = "bigquery://";

/// Whether `location` names a BigQuery table (`bigquery://...`).
pub fn is_bigquery_location(location: &str) -> bool {
    location
        .get(..SCHEME.len())
        .is_some_and(|s| s.eq_ignore_ascii_case(SCHEME))
}

/// A BigQuery table: project, dataset and table ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableRef {
    /// The project id.
    pub project: String,
    /// The dataset id.
    pub dataset: String,
    /// The table id.
    pub table: String,
}

impl TableRef {
    /// Parses `bigquery://PROJECT/DATASET/TABLE` or `PROJECT.DATASET.TABLE`.
    ///
    /// ```
    /// use spate_bigquery::TableRef;
    /// let t = TableRef::parse("bigquery://shop-prod/sales/daily").unwrap();
    /// assert_eq!(t, TableRef::parse("shop-prod.sales.daily").unwrap());
    /// assert_eq!(t.to_string(), "shop-prod.sales.daily");
    /// assert!(TableRef::parse("bigquery://shop-prod/sales").is_err());
    /// ```
    pub fn parse(location: &str) -> Result<TableRef> {
        let bad = |reason: &str| BigQueryError::BadLocation {
            location: location.to_string(),
            reason: reason.to_string(),
        };
        let parts: Vec<&str> = if is_bigquery_location(location) {
            location[SCHEME.len()..]
                .trim_end_matches('/')
                .split('/')
                .collect()
        } else if location.contains("://") {
            return Err(bad("not a bigquery:// URL"));
        } else {
            location.split('.').collect()
        };
        let [project, dataset, table] = parts.as_slice() else {
            return Err(bad("it must name a project, a dataset and a table"));
        };
        for (what, id) in [("project", project), ("dataset", dataset), ("table", table)] {
            if id.is_empty() {
                return Err(bad(&format!("the {what} is empty")));
            }
            let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':' | '$');
            if !id.chars().all(allowed) {
                return Err(bad(&format!(
                    "the {what} '{id}' has characters BigQuery ids cannot hold"
                )));
            }
        }
        Ok(TableRef {
            project: project.to_string(),
            dataset: dataset.to_string(),
            table: table.to_string(),
        })
    }

    /// The resource name of the Storage APIs: `projects/P/datasets/D/tables/T`.
    pub fn resource(&self) -> String {
        format!(
            "projects/{}/datasets/{}/tables/{}",
            self.project, self.dataset, self.table
        )
    }

    /// `bigquery://PROJECT/DATASET/TABLE`.
    pub fn url(&self) -> String {
        format!("{SCHEME}{}/{}/{}", self.project, self.dataset, self.table)
    }

    /// The prefix `spate.toml` settings are looked up under: `bigquery://PROJECT/DATASET/TABLE`
    /// (a `[[stores]]` prefix `bigquery://PROJECT` matches it).
    pub fn settings_key(&self) -> String {
        self.url()
    }

    /// `PROJECT.DATASET`, for messages.
    pub fn dataset_name(&self) -> String {
        format!("{}.{}", self.project, self.dataset)
    }

    /// A table in the same dataset, named `TABLE__spate_staging_<suffix>`.
    pub fn staging(&self, suffix: &str) -> TableRef {
        TableRef {
            table: format!("{}__spate_staging_{suffix}", self.table),
            ..self.clone()
        }
    }

    /// The table quoted for GoogleSQL: `` `project.dataset.table` ``.
    pub fn quoted(&self) -> String {
        format!("`{}.{}.{}`", self.project, self.dataset, self.table)
    }
}

impl fmt::Display for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.project, self.dataset, self.table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms_and_rejects_the_rest() {
        let t = TableRef::parse("BigQuery://p-1/d_2/t3/").unwrap();
        assert_eq!(
            (t.project.as_str(), t.dataset.as_str(), t.table.as_str()),
            ("p-1", "d_2", "t3")
        );
        assert_eq!(t.resource(), "projects/p-1/datasets/d_2/tables/t3");
        assert_eq!(t.staging("ab").table, "t3__spate_staging_ab");
        for bad in [
            "bigquery://p/d",
            "p.d",
            "s3://p/d/t",
            "bigquery://p//t",
            "p.d.t;drop",
        ] {
            let err = TableRef::parse(bad).unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
        assert!(is_bigquery_location("bigquery://p/d/t"));
        assert!(!is_bigquery_location("./warehouse/x"));
    }
}
