//! Lays the release binary's code out hot-first.
//!
//! Why: most of an idle server's resident memory was its own machine code. The kernel maps a
//! binary's cached pages in large blocks around each instruction it runs, so code that runs
//! (start-up, a sign-in, the API's common requests, the background workers) scattered across
//! the 19 MB of `.text` made nearly all of it resident. `code-order.txt` names those functions
//! (about 4 MB of code), made by `bench/code_order.sh` from a callgrind run of the release
//! binary; the linker puts them first, so the rest is read only when it runs
//! (BENCHMARKS.md, "Hot code first").
//!
//! A name the build no longer has (the list is older than the code) is skipped without a word:
//! the binary is the same, only less of its hot code is together. Only release builds for
//! x86_64 Linux get the list, where Rust links with LLD (`--symbol-ordering-file` is LLD's).
//! `STEWARD_CODE_ORDER=0` builds without it.

fn main() {
    println!("cargo:rerun-if-changed=code-order.txt");
    println!("cargo:rerun-if-env-changed=STEWARD_CODE_ORDER");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let lld_target = std::env::var("TARGET").is_ok_and(|t| t == "x86_64-unknown-linux-gnu");
    let wanted = !std::env::var("STEWARD_CODE_ORDER").is_ok_and(|v| v == "0");
    if !(release && lld_target && wanted) {
        return;
    }
    let list = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("code-order.txt");
    if list.exists() {
        println!("cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}", list.display());
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}
