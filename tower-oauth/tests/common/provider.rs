//! The real OpenID provider (`oidc-provider`, npm), started by the shared test kit.

pub use testkit::OidcProvider;
