#[doc(hidden)]
pub mod fixtures;
pub mod imaging;
