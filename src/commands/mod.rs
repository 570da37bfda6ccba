//! The commands, one module each: parse's plain inputs in, the lower modules asked, the product
//! out. No command imports another; `main` dispatches here.

pub mod completions;
pub mod create;
pub mod decode;
pub mod login;
pub mod oauth;
pub mod setup;
