//! Integration tests of the client against real HTTP servers on 127.0.0.1.
//!
//! One test binary with modules (faster to link than one binary per file); the crate's library, `support` here,
//! starts the servers and builds the clients.

use etoro_client_tests as support;

mod documented_answers;
mod drift;
mod errors;
mod faults;
mod hostile_quota;
mod mock_contract;
mod operations;
mod properties;
mod quota;
mod request;
mod rotation;
mod secrets;
mod v2;
mod validation;
