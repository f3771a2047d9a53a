//! Items written under optimistic concurrency: each write expects the
//! version it read (0: never written) and stores the next one. The store's
//! adapters write by it; `effects::read_decide_write` retries on it.

pub trait Versioned {
    /// The version the item was read at.
    fn version(&self) -> u64;
    /// Follows a successful write: the item now is what the store holds.
    fn bump_version(&mut self);
}

/// An item that may not exist yet: never written, nothing to bump.
impl<T: Versioned> Versioned for Option<T> {
    fn version(&self) -> u64 {
        self.as_ref().map_or(0, T::version)
    }

    fn bump_version(&mut self) {
        if let Some(item) = self {
            item.bump_version();
        }
    }
}

/// Implements [`Versioned`] for types that keep it in a `version` field.
macro_rules! versioned {
    ($($value:ty),+ $(,)?) => {$(
        impl $crate::core::version::Versioned for $value {
            fn version(&self) -> u64 {
                self.version
            }

            fn bump_version(&mut self) {
                self.version += 1;
            }
        }
    )+};
}
pub(crate) use versioned;
