//! Empty: it makes Cargo resolve the build-dependencies of Cargo.toml with the host crates.
fn main() {}
