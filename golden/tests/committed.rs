//! The committed golden files are exactly what the code computes, and they all pass.

#[test]
fn committed_golden_files_match_the_generator() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, file) in coinjecture_golden::generate_all().expect("inputs are valid") {
        let committed = std::fs::read_to_string(dir.join(name)).expect("golden file exists");
        assert!(
            committed == coinjecture_golden::render(&file),
            "golden/{name} is stale: run `cargo run -p coinjecture-golden` and review the diff"
        );
    }
}

#[test]
fn every_embedded_vector_passes_through_the_library() {
    let results = coinjecture_crypto_core::golden::run_embedded();
    let failed: Vec<_> = results.iter().filter(|r| !r.passed).collect();
    assert!(failed.is_empty(), "failing vectors: {failed:#?}");
    let upstream = results.iter().filter(|r| r.file.starts_with("upstream/")).count();
    assert_eq!(upstream, 50, "all 50 upstream v4 vectors run");
    for (file, _) in coinjecture_crypto_core::golden::EMBEDDED {
        let cases = results.iter().filter(|r| r.file == *file).count();
        assert!(cases >= 3, "{file}: only {cases} cases ran");
    }
}
