//! Records the git commit being built as `COINJECTURE_GIT_COMMIT` (for `coinjecture_build_info`),
//! when the source is a git checkout with `git` on `PATH`; otherwise the build
//! goes on without it. `COINJECTURE_GIT_COMMIT` in the build's environment wins (container builds
//! without `.git`).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    println!("cargo:rerun-if-env-changed=COINJECTURE_GIT_COMMIT");
    if let Ok(commit) = std::env::var("COINJECTURE_GIT_COMMIT") {
        println!("cargo:rustc-env=COINJECTURE_GIT_COMMIT={commit}");
        return;
    }
    let Some(commit) = git(&["rev-parse", "--short=12", "HEAD"]) else { return };
    println!("cargo:rustc-env=COINJECTURE_GIT_COMMIT={commit}");
    // Rebuild when HEAD moves: HEAD itself (a branch switch) and the branch's ref (a commit).
    // (Only existing files: cargo reruns the script on every build for a missing one.)
    let mut watch = vec!["HEAD".to_string(), "packed-refs".to_string()];
    watch.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for path in watch {
        if let Some(p) = git(&["rev-parse", "--path-format=absolute", "--git-path", &path])
            && std::path::Path::new(&p).exists()
        {
            println!("cargo:rerun-if-changed={p}");
        }
    }
}
