//! Ctrl-C (SIGINT) and SIGTERM during a bulk run: the first stops every line that has not been sent (lines
//! waiting for their turn or for quota included, through the client's cancellation token; the requests in flight
//! finish and are journaled); a second one quits at once.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use etoro_client::CancellationToken;
use tokio::task::JoinHandle;

use crate::output;

/// The signal that stopped a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C): exit 130.
    Interrupt = 2,
    /// SIGTERM: exit 143.
    Terminate = 15,
}

impl Signal {
    /// The exit code of a process stopped by this signal, by the shell's convention (128 + its number).
    pub fn exit_code(self) -> i32 {
        128 + self as i32
    }

    /// Its usual name.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    fn from_u8(value: u8) -> Option<Signal> {
        match value {
            2 => Some(Signal::Interrupt),
            15 => Some(Signal::Terminate),
            _ => None,
        }
    }
}

/// Listens for the signals while it lives. Installing it takes the signals' default action away from the
/// process (until it exits), so it is made only for a bulk run.
pub struct Interrupt {
    received: Arc<AtomicU8>,
    task: JoinHandle<()>,
}

impl Interrupt {
    /// Starts listening. The first signal cancels `stop`; `on_force` is printed when a second signal quits the
    /// process at once.
    pub fn listen(stop: CancellationToken, on_force: String) -> std::io::Result<Interrupt> {
        let received = Arc::new(AtomicU8::new(0));
        let mut signals = Signals::new()?;
        let task = tokio::spawn({
            let received = received.clone();
            async move {
                let first = signals.next().await;
                received.store(first as u8, Ordering::SeqCst);
                stop.cancel();
                let second = signals.next().await;
                // Off the progress line first: a line of its own (a "\n" inside a note would print escaped).
                output::note("");
                output::note(&format!("{} again: quitting now. {on_force}", second.name()));
                std::process::exit(second.exit_code());
            }
        });
        Ok(Interrupt { received, task })
    }

    /// The first signal received, if any.
    pub fn received(&self) -> Option<Signal> {
        Signal::from_u8(self.received.load(Ordering::SeqCst))
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(unix)]
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    async fn next(&mut self) -> Signal {
        tokio::select! {
            Some(()) = self.interrupt.recv() => Signal::Interrupt,
            Some(()) = self.terminate.recv() => Signal::Terminate,
            // Neither stream can end while the runtime lives; if they did, no signal would ever come.
            else => std::future::pending().await,
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn new() -> std::io::Result<Signals> {
        Ok(Signals)
    }

    async fn next(&mut self) -> Signal {
        let _ = tokio::signal::ctrl_c().await;
        Signal::Interrupt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        assert_eq!(Signal::Interrupt.exit_code(), 130);
        assert_eq!(Signal::Terminate.exit_code(), 143);
        assert_eq!(Signal::from_u8(Signal::Terminate as u8), Some(Signal::Terminate));
        assert_eq!(Signal::from_u8(0), None);
    }
}
