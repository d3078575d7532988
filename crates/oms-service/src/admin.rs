//! `oms.admin.v1.Admin`: what every service answers for its operators beside its own API.

use oms_eventsourcing::{Model, Writer};
use oms_proto::admin::v1 as pb;
use oms_proto::admin::v1::admin_server::{Admin, AdminServer};
use tonic::{Request, Response, Status};

/// The admin API over a service's writer.
pub struct AdminApi<M: Model> {
    writer: Writer<M>,
}

impl<M: Model> AdminApi<M> {
    pub fn server(writer: Writer<M>) -> AdminServer<Self> {
        AdminServer::new(Self { writer })
    }
}

#[tonic::async_trait]
impl<M: Model> Admin for AdminApi<M> {
    async fn get_state_digest(
        &self,
        _: Request<pb::GetStateDigestRequest>,
    ) -> Result<Response<pb::StateDigest>, Status> {
        let mut answer = pb::StateDigest {
            model: M::NAME.to_owned(),
            ..Default::default()
        };
        if let Some((position, digest)) = self.writer.digest_at_rest() {
            answer.at_rest = true;
            answer.position = position;
            answer.digest = digest.to_string();
        }
        Ok(Response::new(answer))
    }
}
