//! Runnable examples live beside this crate: `cargo run -p healthos-examples --example NAME`.
