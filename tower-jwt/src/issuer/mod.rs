//! Issuing access and refresh tokens (to be written).
