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

/// The names in the list are mangled with their crates' versions: after a dependency update
/// most of them no longer exist, the linker skips them without a word and idle memory rises
/// (sqlx 0.9.0 -> 0.9.1 dropped half of them: 15 -> 22 MiB after the first sign-in). So the
/// list is kept with the packages it was made from, and must be made again when they change.
#[test]
fn the_hot_code_list_was_made_with_the_dependencies_of_cargo_lock() {
    use std::collections::BTreeSet;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let lock = std::fs::read_to_string(dir.join("../../Cargo.lock")).expect("Cargo.lock");
    let mut locked = BTreeSet::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_string());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), &name) {
            locked.insert(format!("{n} {}", v.trim_matches('"')));
        }
    }
    let deps = std::fs::read_to_string(dir.join("code-order.deps")).expect("crates/steward/code-order.deps");
    let listed: BTreeSet<String> =
        deps.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).map(str::to_string).collect();
    assert!(locked.len() > 100, "Cargo.lock was not read: {} packages", locked.len());
    let added: Vec<_> = locked.difference(&listed).collect();
    let gone: Vec<_> = listed.difference(&locked).collect();
    assert!(
        added.is_empty() && gone.is_empty(),
        "Cargo.lock changed since crates/steward/code-order.txt was made (now {added:?}, then {gone:?}): \
         run bench/code_order.sh again (it rewrites both files)"
    );
}
