//! The session's default schema: tables registered in memory plus tables found in data
//! directories, resolved only when a query first names them.
//!
//! `--data DIR` may hold dozens of tables; reading every footer at start-up would make
//! `spate sql "select 1"` slow. [`DataSchema`] keeps each directory entry as a
//! [`TableSource`] and turns it into a table on first use, with the session's state, then
//! keeps the table. Statements like `CREATE VIEW` and `CREATE EXTERNAL TABLE` register into
//! the same schema, so every name lives in one place.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::datasource::empty::EmptyTable;
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::execution::context::SessionState;
use parking_lot::RwLock;

use super::resolve::{TableSource, resolve_table};

/// The default schema of a spate session. See the module doc.
#[derive(Debug, Default)]
pub(crate) struct DataSchema {
    /// The session's state, set once the session exists; weak so the schema (which the
    /// state owns) does not keep the state alive.
    state: RwLock<Weak<RwLock<SessionState>>>,
    tables: RwLock<HashMap<String, Arc<dyn TableProvider>>>,
    pending: RwLock<HashMap<String, TableSource>>,
}

impl DataSchema {
    /// Connects the schema to the session whose state resolves pending tables.
    pub fn attach(&self, state: Weak<RwLock<SessionState>>) {
        *self.state.write() = state;
    }

    /// Adds a table to resolve on first use. Replaces an earlier table of that name.
    pub fn add_pending(&self, source: TableSource) {
        let name = source.name.clone();
        self.tables.write().remove(&name);
        self.pending.write().insert(name, source);
    }

    fn session_state(&self) -> DFResult<SessionState> {
        let weak = self.state.read().clone();
        let state = weak.upgrade().ok_or_else(|| {
            DataFusionError::Internal("the session of this schema is gone".into())
        })?;
        let snapshot = state.read().clone();
        Ok(snapshot)
    }
}

#[async_trait]
impl SchemaProvider for DataSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tables.read().keys().cloned().collect();
        names.extend(self.pending.read().keys().cloned());
        names.sort();
        names
    }

    async fn table(&self, name: &str) -> DFResult<Option<Arc<dyn TableProvider>>> {
        if let Some(table) = self.tables.read().get(name) {
            return Ok(Some(Arc::clone(table)));
        }
        let Some(source) = self.pending.read().get(name).cloned() else {
            return Ok(None);
        };
        let state = self.session_state()?;
        let table = resolve_table(&state, &source)
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        self.pending.write().remove(name);
        self.tables
            .write()
            .insert(name.to_string(), Arc::clone(&table));
        Ok(Some(table))
    }

    fn register_table(
        &self,
        name: String,
        table: Arc<dyn TableProvider>,
    ) -> DFResult<Option<Arc<dyn TableProvider>>> {
        self.pending.write().remove(&name);
        Ok(self.tables.write().insert(name, table))
    }

    fn deregister_table(&self, name: &str) -> DFResult<Option<Arc<dyn TableProvider>>> {
        if self.pending.write().remove(name).is_some() {
            // Never resolved, so there is no table to hand back: an empty stand-in tells
            // DataFusion (DROP TABLE) that the name existed.
            let schema = Arc::new(datafusion::arrow::datatypes::Schema::empty());
            return Ok(Some(Arc::new(EmptyTable::new(schema))));
        }
        Ok(self.tables.write().remove(name))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.tables.read().contains_key(name) || self.pending.read().contains_key(name)
    }
}
