//! `cargo xtask upstream import|diff`, through the built binary on copied checkouts (exit statuses, output) and
//! through the library where limits must be small to test.
//!
//! Every newer document here is made from the committed snapshot by editing it in code, never from eToro's prose.

mod diff;
mod fetch;
mod import;
mod support;
mod surface;
