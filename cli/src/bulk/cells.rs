//! `Cell` and `RefCell` look-alikes that are `Sync`, so that the engine can be a task of its own (`tokio::spawn`):
//! on a multi-threaded runtime it then runs on a worker thread, and a response wakes it on the worker that read
//! it instead of the thread that started the runtime (a futex wake and a context switch a response before,
//! measured with `strace -c` and `perf`). The engine is still one task: every lock is taken by that task only,
//! never across an `.await`, so none is ever contended; a lock poisoned by a panic (which ends the task anyway) is
//! taken as it is.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// A `Copy` value read and replaced whole, as with `Cell`.
#[derive(Debug, Default)]
pub struct Slot<T>(Mutex<T>);

impl<T: Copy> Slot<T> {
    /// A slot holding `value`.
    pub const fn new(value: T) -> Self {
        Slot(Mutex::new(value))
    }

    /// The value.
    pub fn get(&self) -> T {
        *lock(&self.0)
    }

    /// Replaces the value.
    pub fn set(&self, value: T) {
        *lock(&self.0) = value;
    }

    /// Replaces the value and returns the old one.
    pub fn replace(&self, value: T) -> T {
        std::mem::replace(&mut *lock(&self.0), value)
    }
}

/// A value borrowed for a moment, as with `RefCell` (a second borrow while one is held would block, where
/// `RefCell` would panic: the engine never does either).
#[derive(Debug, Default)]
pub struct Shared<T>(Mutex<T>);

impl<T> Shared<T> {
    /// A cell holding `value`.
    pub const fn new(value: T) -> Self {
        Shared(Mutex::new(value))
    }

    /// The value, to read.
    pub fn borrow(&self) -> MutexGuard<'_, T> {
        lock(&self.0)
    }

    /// The value, to change.
    pub fn borrow_mut(&self) -> MutexGuard<'_, T> {
        lock(&self.0)
    }

    /// The value, out of the cell.
    pub fn into_inner(self) -> T {
        self.0.into_inner().unwrap_or_else(PoisonError::into_inner)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_and_shared_cells_read_and_write_like_cells() {
        let slot = Slot::new(1u64);
        slot.set(2);
        assert_eq!(slot.replace(3), 2);
        assert_eq!(slot.get(), 3);
        let shared = Shared::new(vec![1]);
        shared.borrow_mut().push(2);
        assert_eq!(*shared.borrow(), [1, 2]);
        assert_eq!(shared.into_inner(), [1, 2]);
    }

    #[test]
    fn the_engine_can_be_shared_between_threads() {
        fn sync<T: Sync + Send>() {}
        sync::<Slot<u64>>();
        sync::<Shared<Vec<u8>>>();
    }
}
