//! TPC-H data through `tpchgen-cli` (crates.io), so the benchmark does not build a second
//! Arrow version into this workspace.

use std::path::Path;
use std::process::Command;

/// Writes TPC-H Parquet at `scale` into `out`.
pub fn generate(scale: &str, out: &Path, parts: Option<u32>) -> Result<(), String> {
    ensure_tpchgen()?;
    let mut cmd = Command::new("tpchgen-cli");
    cmd.args(["parquet", "-s", scale, "--output-dir"]).arg(out);
    if let Some(parts) = parts {
        cmd.args(["--parts", &parts.to_string()]);
    }
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run tpchgen-cli: {e}"))?;
    if !status.success() {
        return Err(format!("tpchgen-cli failed: {status}"));
    }
    Ok(())
}

fn ensure_tpchgen() -> Result<(), String> {
    if Command::new("tpchgen-cli")
        .arg("--version")
        .output()
        .is_ok()
    {
        return Ok(());
    }
    // The PyPI wheel is prebuilt; `cargo install tpchgen-cli` compiles for minutes.
    eprintln!("installing tpchgen-cli==4.0.0 from PyPI");
    let status = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "tpchgen-cli==4.0.0"])
        .status()
        .map_err(|e| format!("cannot run python3 -m pip: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err("pip install tpchgen-cli==4.0.0 failed (benches/setup.sh installs it)".into())
    }
}
