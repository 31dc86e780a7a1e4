//! Helpers shared by integration tests.

#[cfg(all(feature = "deflate", feature = "std"))]
pub mod deflate;
pub mod output;
pub mod pki;
