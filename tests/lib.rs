//! End-to-end tests across crates live in `e2e/`: `cargo test -p healthos-tests`.
