//! The Storage Read and Write APIs' messages: prost's code generated from Google's
//! definitions (`scripts/gen-bigquery-proto.sh` regenerates it; do not edit by hand).

#![allow(
    dead_code,
    clippy::all,
    clippy::pedantic,
    missing_docs,
    unreachable_pub
)]

/// The packages of the generated code, nested as prost's `super::` paths expect.
pub(crate) mod google {
    pub(crate) mod protobuf {
        include!("google.protobuf.rs");
    }
    pub(crate) mod rpc {
        include!("google.rpc.rs");
    }
    pub(crate) mod cloud {
        pub(crate) mod bigquery {
            pub(crate) mod storage {
                pub(crate) mod v1 {
                    include!("google.cloud.bigquery.storage.v1.rs");
                }
            }
        }
    }
}

pub(crate) use google::cloud::bigquery::storage::v1 as storage;
