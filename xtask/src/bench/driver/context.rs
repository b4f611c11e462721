//! What every step of a full run shares: the servers, the clients' runtime, the wire format, the workload sizes
//! and the settings `cargo xtask bench` handed over.

use tokio::runtime::Runtime;

use crate::args::Settings;
use crate::clients::Wire;
use crate::plan::Plan;
use crate::servers::Servers;

/// The shared state of a full run, handed to each step.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// The loopback servers.
    pub servers: &'a Servers,
    /// The runtime the in-process clients run on.
    pub client_rt: &'a Runtime,
    /// The path and `api-version` the wrapper sends, which the raw clients copy.
    pub wire: &'a Wire,
    /// The workload sizes.
    pub plan: Plan,
    /// What `cargo xtask bench` handed over.
    pub settings: &'a Settings,
}
