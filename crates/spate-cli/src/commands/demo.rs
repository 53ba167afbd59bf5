//! `spate demo generate`: writes the Cymbal Superstore data set.

use crate::cli::DemoCommand;
use crate::exit::Failure;

pub fn run(command: DemoCommand) -> Result<(), Failure> {
    match command {
        DemoCommand::Generate {
            transactions,
            days,
            start_date,
            seed,
            out,
            threads,
        } => {
            let options = spate_demo::GenerateOptions {
                transactions,
                days,
                start_date,
                seed,
                out,
                threads: threads.unwrap_or(0),
            };
            let summary = spate_demo::generate(&options).map_err(|e| match e {
                spate_demo::DemoError::InvalidOption { .. } => Failure::usage(e.to_string()),
                other => Failure::statement(other.to_string()),
            })?;
            let secs = summary.elapsed.as_secs_f64().max(1e-9);
            println!(
                "generated {} transactions, {} stores, {} customers, {} products into {} ({} files, {:.1} MiB) in {:.2}s ({:.0} transactions/s)",
                summary.transactions,
                summary.stores,
                summary.customers,
                summary.products,
                options.out.display(),
                summary.files,
                summary.bytes as f64 / (1024.0 * 1024.0),
                secs,
                summary.transactions as f64 / secs,
            );
            Ok(())
        }
    }
}
