//! `SET spark.*` in Spark SQL scripts: [`SparkSettings`], a DataFusion configuration
//! extension under the prefix `spark` that accepts every key and keeps its value.
//!
//! Spark teams' scripts start with `SET spark.sql.shuffle.partitions=64` and the like; a
//! script must not fail on them. The values are kept (`SHOW ALL` lists them) and these
//! have a spate meaning, read where spate needs them: `spark.sql.shuffle.partitions`
//! (reduce partitions of spate's shuffles, when `spate.shuffle_partitions` is not set) and
//! `spark.sql.ansi.enabled`, which also sets DataFusion's
//! `datafusion.execution.enable_ansi_mode` ([`follow_ansi`]: the Spark functions of the
//! `datafusion-spark` crate raise Spark's ANSI errors under it). Every other key is
//! accepted and has no effect.

use std::collections::BTreeMap;

use datafusion::config::{ConfigEntry, ConfigExtension, ExtensionOptions};

/// The `spark.*` settings of a session, by key without the `spark.` prefix.
#[derive(Debug, Clone, Default)]
pub(crate) struct SparkSettings {
    values: BTreeMap<String, String>,
}

impl SparkSettings {
    /// The value of `spark.<key>`, if set.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// The settings of a session's options (none when the extension is missing).
    pub(crate) fn of(options: &datafusion::config::ConfigOptions) -> Option<&SparkSettings> {
        options.extensions.get::<SparkSettings>()
    }

    /// `spark.sql.shuffle.partitions`, when set to a positive number.
    pub(crate) fn shuffle_partitions(&self) -> Option<usize> {
        self.get("sql.shuffle.partitions")?
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
    }
}

impl ExtensionOptions for SparkSettings {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> datafusion::error::Result<()> {
        let value = value.trim().trim_matches(['\'', '"']).to_string();
        self.values.insert(key.to_string(), value);
        Ok(())
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        self.values
            .iter()
            .map(|(key, value)| ConfigEntry {
                key: format!("{}.{key}", Self::PREFIX),
                value: Some(value.clone()),
                description: "a Spark setting (see docs/spark-sql.md)",
            })
            .collect()
    }
}

/// When `plan` sets `spark.sql.ansi.enabled` to a boolean, sets DataFusion's ANSI mode
/// (`datafusion.execution.enable_ansi_mode`) in `ctx` to the same value; the plan itself
/// then keeps the Spark key.
pub(crate) fn follow_ansi(
    ctx: &datafusion::execution::context::SessionContext,
    plan: &datafusion::logical_expr::LogicalPlan,
) {
    use datafusion::logical_expr::{LogicalPlan, SetVariable, Statement};
    let LogicalPlan::Statement(Statement::SetVariable(SetVariable { variable, value })) = plan
    else {
        return;
    };
    if !variable.eq_ignore_ascii_case("spark.sql.ansi.enabled") {
        return;
    }
    if let Some(ansi) = ansi_value(value) {
        ctx.state_ref()
            .write()
            .config_mut()
            .options_mut()
            .execution
            .enable_ansi_mode = ansi;
    }
}

/// A Spark boolean setting's value (`true`, `'FALSE'`), if it is one.
fn ansi_value(value: &str) -> Option<bool> {
    match value
        .trim()
        .trim_matches(['\'', '"'])
        .to_ascii_lowercase()
        .as_str()
    {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

impl ConfigExtension for SparkSettings {
    const PREFIX: &'static str = "spark";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_any_key_and_reads_shuffle_partitions() {
        let mut settings = SparkSettings::default();
        settings.set("sql.shuffle.partitions", " 64").unwrap();
        settings.set("sql.legacy.anything", "'x'").unwrap();
        assert_eq!(settings.shuffle_partitions(), Some(64));
        assert_eq!(settings.get("sql.legacy.anything"), Some("x"));
        assert_eq!(settings.entries().len(), 2);
        settings.set("sql.shuffle.partitions", "0").unwrap();
        assert_eq!(settings.shuffle_partitions(), None);
    }

    #[test]
    fn spark_ansi_mode_sets_datafusion_ansi_mode() {
        use datafusion::logical_expr::{LogicalPlan, SetVariable, Statement};
        let ctx = datafusion::execution::context::SessionContext::new();
        let set = |variable: &str, value: &str| {
            LogicalPlan::Statement(Statement::SetVariable(SetVariable {
                variable: variable.into(),
                value: value.into(),
            }))
        };
        let ansi = |ctx: &datafusion::execution::context::SessionContext| {
            ctx.state().config().options().execution.enable_ansi_mode
        };
        follow_ansi(&ctx, &set("spark.sql.ansi.enabled", "'TRUE'"));
        assert!(ansi(&ctx));
        follow_ansi(&ctx, &set("spark.sql.ansi.enabled", "maybe"));
        assert!(ansi(&ctx));
        follow_ansi(&ctx, &set("spark.sql.other", "false"));
        assert!(ansi(&ctx));
        follow_ansi(&ctx, &set("spark.sql.ansi.enabled", "false"));
        assert!(!ansi(&ctx));
    }
}
