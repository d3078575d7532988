//! The OMS public contracts, generated from the `.proto` files in `proto/`.
//!
//! Packages are versioned (`oms.orders.v1`); a breaking change is a new package version,
//! and field numbers are never reused.

// Generated code: a `oneof` of messages of different sizes is what the contract says.
#![allow(clippy::large_enum_variant)]

/// The encoded descriptors of every contract, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/oms_descriptor.bin"));

pub mod kernel;
pub mod limits;
pub mod topics;

pub mod admin {
    pub mod v1 {
        tonic::include_proto!("oms.admin.v1");
    }
}

pub mod common {
    pub mod v1 {
        tonic::include_proto!("oms.common.v1");
    }
}

pub mod inventory {
    pub mod v1 {
        tonic::include_proto!("oms.inventory.v1");
    }
}

pub mod pos {
    pub mod v1 {
        tonic::include_proto!("oms.pos.v1");
    }
}

pub mod fulfilment {
    pub mod v1 {
        tonic::include_proto!("oms.fulfilment.v1");
    }
}

pub mod returns {
    pub mod v1 {
        tonic::include_proto!("oms.returns.v1");
    }
}

pub mod orders {
    pub mod v1 {
        tonic::include_proto!("oms.orders.v1");
    }
}

pub mod routing {
    pub mod v1 {
        tonic::include_proto!("oms.routing.v1");
    }
}
