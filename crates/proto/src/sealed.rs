//! Sealed values across an in-process call of a generated service trait.
//!
//! A caller in the same process puts the [`SealedBatch`] in the request's extensions (and leaves
//! the protobuf list empty); the service then uses the sealed transactions, with the encoding
//! and hash they were sealed with, instead of converting and hashing again. Extensions never
//! travel over the wire: a remote caller sends the protobuf list, and the service seals it
//! itself, so no remote caller can hand a service a hash.

use coinjecture_primitives::SealedTransaction;

/// The transactions of a request, sealed (an in-process request extension).
#[derive(Debug, Clone, Default)]
pub struct SealedBatch(pub Vec<SealedTransaction>);

/// The request's [`SealedBatch`], when an in-process caller attached one. `Err` names the
/// problem when the request carries both sealed and protobuf transactions (one list only).
pub fn sealed_batch<T>(
    request: &tonic::Request<T>,
    protobuf_items: usize,
) -> Result<Option<&SealedBatch>, tonic::Status> {
    match request.extensions().get::<SealedBatch>() {
        Some(_) if protobuf_items > 0 => Err(tonic::Status::invalid_argument(
            "transactions: sent both as protobuf and as sealed values; send one list",
        )),
        found => Ok(found),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]
    use super::*;

    #[test]
    fn a_request_with_both_lists_is_refused_and_one_without_extension_has_no_batch() {
        let mut request = tonic::Request::new(());
        assert!(sealed_batch(&request, 3).unwrap().is_none());
        request.extensions_mut().insert(SealedBatch::default());
        assert!(sealed_batch(&request, 0).unwrap().is_some());
        let refused = sealed_batch(&request, 1).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        assert!(refused.message().contains("send one list"), "{}", refused.message());
    }
}
