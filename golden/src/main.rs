//! `cargo run -p coinjecture-golden [-- --check]`: writes (or checks) `golden/*.json`.

use std::path::PathBuf;

use eyre::{WrapErr, bail};

fn main() -> eyre::Result<()> {
    let check = std::env::args().any(|a| a == "--check");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let files = coinjecture_golden::generate_all().map_err(|e| eyre::eyre!("generating vectors: {e}"))?;
    let mut stale = Vec::new();
    for (name, file) in &files {
        let path = dir.join(name);
        let rendered = coinjecture_golden::render(file);
        if check {
            let current = std::fs::read_to_string(&path).unwrap_or_default();
            if current != rendered {
                stale.push(path.display().to_string());
            }
        } else {
            std::fs::write(&path, rendered).wrap_err_with(|| format!("writing {}", path.display()))?;
            println!("wrote {} ({} cases)", path.display(), file.cases.len());
        }
    }
    if !stale.is_empty() {
        bail!("golden files differ from what the code computes: {}", stale.join(", "));
    }
    Ok(())
}
