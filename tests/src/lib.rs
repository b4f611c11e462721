//! Integration tests for the workspace live in `tests/tests/`: `it/` (one binary with modules), `contract/`
//! (Prism, run by `.ci/contract`), and `proxy.rs` and `memory.rs` (binaries of their own).
