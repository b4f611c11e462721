//! The mock, checked through real HTTP requests on loopback with plain reqwest: the requests are written by hand
//! from the spec (no client types), so a serialization mistake in the client cannot hide in both.
//!
//! One test binary with modules (faster to link than one binary per file); `support` holds what they share.

mod support;

mod faults;
mod quota;
mod record;
mod routes;
mod state;
mod update_v1;
mod update_v2;
