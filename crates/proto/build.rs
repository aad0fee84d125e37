//! Compiles `proto/coinjecture/v1/*.proto` with protox (pure Rust; no system `protoc`), writes the
//! encoded `FileDescriptorSet` for gRPC reflection, and generates prost messages plus tonic clients
//! and servers from it.

use std::path::PathBuf;

use protox::prost::Message as _;

/// Root of the proto tree, relative to this crate.
const PROTO_ROOT: &str = "../../proto";

/// Every file of the package, in dependency order.
const PROTO_FILES: &[&str] = &[
    "coinjecture/v1/types.proto",
    "coinjecture/v1/crypto.proto",
    "coinjecture/v1/ledger.proto",
    "coinjecture/v1/consensus.proto",
    "coinjecture/v1/p2p.proto",
    "coinjecture/v1/api.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={PROTO_ROOT}");
    for file in PROTO_FILES {
        println!("cargo:rerun-if-changed={PROTO_ROOT}/{file}");
    }

    let fds = protox::compile(PROTO_FILES, [PROTO_ROOT])?;

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("coinjecture_descriptor.bin"), fds.encode_to_vec())?;

    // VerifyBlock's packed fields as `bytes::Bytes`: decoded without a copy (a slice of the
    // received buffer), for the one large request per block on Network B.
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .bytes(".coinjecture.v1.VerifyBlockRequest")
        .bytes(".coinjecture.v1.Ed25519PackedBatch")
        .compile_fds(fds)?;
    Ok(())
}
