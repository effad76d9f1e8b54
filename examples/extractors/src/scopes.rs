//! The example's scopes, as marker types for auth-core's [`RequireScope<S>`] guard (`&str`
//! const generics are not stable, so a scope is named by a type).
//!
//! [`RequireScope<S>`]: auth_core::RequireScope

use auth_core::ScopeName;

/// Scope `notes:read`: `RequireScope<Read>` in a handler's signature.
#[derive(Debug, Clone, Copy)]
pub struct Read;

impl ScopeName for Read {
    const NAME: &'static str = "notes:read";
}

/// Scope `notes:write`: `RequireScope<Write>` in a handler's signature.
#[derive(Debug, Clone, Copy)]
pub struct Write;

impl ScopeName for Write {
    const NAME: &'static str = "notes:write";
}
