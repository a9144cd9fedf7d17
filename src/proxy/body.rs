//! The response body type of the gateway listener, shared by every protocol's handler and by
//! forwarding.

use bytes::Bytes;

/// Errors carried by gateway response bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The gateway listener's response body: a fixed error document or a streamed backend body.
pub type GatewayBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// Boxes a body into a [`GatewayBody`].
pub fn boxed<B>(body: B) -> GatewayBody
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    http_body_util::BodyExt::boxed_unsync(http_body_util::BodyExt::map_err(body, Into::into))
}
