//! Compiles `proto/notes.proto` with the `protoc` shipped by `protoc-bin-vendored`, so the
//! build needs no system protoc.

use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let mut config = tonic_prost_build::Config::new();
    // The vendored binary, handed to prost-build directly (what `PROTOC` would do, without
    // mutating the build script's environment).
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure().compile_with_config(
        config,
        &["proto/notes.proto"],
        &["proto"],
    )?;
    Ok(())
}
