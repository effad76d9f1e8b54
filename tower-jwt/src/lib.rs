//! # tower-jwt
//!
//! Strict JWT verification for tower, on the `auth-core` engine.
//!
//! (Crate docs to be completed by the verification work.)

pub mod issuer;
pub mod revocation;
