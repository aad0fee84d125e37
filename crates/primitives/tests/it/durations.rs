//! The shared table of duration cases (`tests/data/durations.json`), which the Python
//! validator's parser runs too (`clients/python/tests/test_durations.py`).

use coinjecture_primitives::duration::parse_millis;

#[test]
fn every_case_of_the_shared_table() {
    let text = include_str!("../data/durations.json");
    let table: serde_json::Value = serde_json::from_str(text).expect("durations.json is JSON");
    let cases = table["cases"].as_array().expect("a `cases` array");
    assert!(cases.len() > 30, "the table lost its cases");
    for case in cases {
        let (input, expected) = (case[0].as_str().expect("a text"), case[1].as_u64());
        match (parse_millis(input), expected) {
            (Ok(ms), Some(want)) => assert_eq!(ms, want, "{input:?}"),
            (Err(e), None) => assert!(e.to_string().contains(input.trim()), "{input:?}: {e}"),
            (got, want) => panic!("{input:?}: got {got:?}, the table says {want:?}"),
        }
    }
}
