//! The list of hot functions the release link lays out first (`build.rs`, made by
//! `bench/code_order.sh`): a list made from the wrong binary or cut short would leave most of the
//! hot code scattered again, and the linker says nothing about names it does not find.

#[test]
fn the_hot_code_list_names_the_server_s_own_code_and_its_stack() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("code-order.txt");
    let list = std::fs::read_to_string(&path).expect("crates/steward/code-order.txt is in the repository");
    let names: Vec<&str> = list.lines().collect();
    assert!(names.len() > 1_000, "only {} names: make it again with bench/code_order.sh", names.len());
    assert!(names.windows(2).all(|w| w[0] < w[1]), "the list is sorted, each name once (stable diffs)");
    assert!(names.iter().all(|n| !n.is_empty() && !n.contains(char::is_whitespace)), "one symbol name a line");
    // Start-up, a sign-in and the common requests run code of every layer and of the stack
    // under it; a list without one of them was not made from a served session.
    for part in
        ["steward_server", "steward_app", "steward_store", "steward_domain", "tokio", "hyper", "sqlx", "sqlite3"]
    {
        assert!(names.iter().any(|n| n.contains(part)), "no function of {part} in the list");
    }
}
