//! Opaque handles for the C ABI: a core is never handed out as a pointer, only as a number
//! looked up here, so a freed, never-issued or forged handle is an error, not a crash.
//! Handles start at 1 and are never reused while the library is loaded.

use crate::shared::lock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub struct Registry<T> {
    next: AtomicU64,
    entries: Mutex<HashMap<u64, Arc<T>>>,
}

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Self {
            next: AtomicU64::new(1),
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<T> Registry<T> {
    pub fn insert(&self, value: T) -> u64 {
        let handle = self.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.entries).insert(handle, Arc::new(value));
        handle
    }

    /// The value behind `handle`. It stays alive for the caller even if it is removed meanwhile.
    pub fn get(&self, handle: u64) -> Option<Arc<T>> {
        lock(&self.entries).get(&handle).cloned()
    }

    pub fn remove(&self, handle: u64) -> Option<Arc<T>> {
        lock(&self.entries).remove(&handle)
    }

    pub fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_unique_and_freed_ones_are_unknown() {
        let registry = Registry::default();
        let a = registry.insert("a");
        let b = registry.insert("b");
        assert_ne!(a, b);
        assert_ne!(a, 0, "0 is never a handle");
        assert_eq!(registry.get(a).as_deref(), Some(&"a"));
        let held = registry.get(b).unwrap();
        assert!(registry.remove(b).is_some());
        assert!(registry.get(b).is_none());
        assert!(registry.remove(b).is_none());
        assert_eq!(*held, "b", "a caller holding it keeps it alive");
        assert!(registry.get(12345).is_none());
        let c = registry.insert("c");
        assert!(c > b, "handles are not reused");
        assert_eq!(registry.len(), 2);
    }
}
