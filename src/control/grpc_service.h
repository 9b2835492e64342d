#pragma once

// The gRPC face of the control plane: fulcrum.control.v1.ControlService (api/fulcrum/control/v1/
// control.proto) over the same ControlService and tokens as the REST API. Authentication comes
// from the `authorization` metadata; refusals become gRPC status codes with a Problem in the
// status details (mapping in docs/control-api.md).
//
// Thread-safety: gRPC's sync server calls the methods concurrently on its own threads; the
// service and the token file are thread-safe.

#include "control/service.h"
#include "control/tokens.h"
#include "fulcrum/control/v1/control.grpc.pb.h"

namespace fulcrum::control {

class GrpcApi final : public v1::ControlService::Service {
public:
  GrpcApi(ControlService& service, TokenFile* tokens) : service_(service), tokens_(tokens) {}

  grpc::Status GetConfig(grpc::ServerContext* context, const v1::GetConfigRequest* request,
                         v1::Document* response) override;
  grpc::Status ApplyConfig(grpc::ServerContext* context, const v1::ApplyConfigRequest* request,
                           v1::WriteResult* response) override;
  grpc::Status ListResources(grpc::ServerContext* context, const v1::ListResourcesRequest* request,
                             v1::Document* response) override;
  grpc::Status GetResource(grpc::ServerContext* context, const v1::ResourceRequest* request,
                           v1::Document* response) override;
  grpc::Status PutResource(grpc::ServerContext* context, const v1::PutResourceRequest* request,
                           v1::WriteResult* response) override;
  grpc::Status DeleteResource(grpc::ServerContext* context,
                              const v1::DeleteResourceRequest* request,
                              v1::WriteResult* response) override;
  grpc::Status ListRevisions(grpc::ServerContext* context, const v1::ListRevisionsRequest* request,
                             v1::RevisionList* response) override;
  grpc::Status GetRevision(grpc::ServerContext* context, const v1::GetRevisionRequest* request,
                           v1::Revision* response) override;
  grpc::Status DiffRevisions(grpc::ServerContext* context, const v1::DiffRevisionsRequest* request,
                             v1::Diff* response) override;
  grpc::Status Rollback(grpc::ServerContext* context, const v1::RollbackRequest* request,
                        v1::WriteResult* response) override;
  grpc::Status Validate(grpc::ServerContext* context, const v1::ValidateRequest* request,
                        v1::ValidateResult* response) override;
  grpc::Status ListInstances(grpc::ServerContext* context, const v1::ListInstancesRequest* request,
                             v1::InstanceList* response) override;
  grpc::Status ListAudit(grpc::ServerContext* context, const v1::ListAuditRequest* request,
                         v1::AuditList* response) override;

private:
  struct Call;
  template <class F>
  grpc::Status run(grpc::ServerContext* context, Role role, bool write, std::string_view action,
                   const v1::Change* change, F&& body);

  ControlService& service_;
  TokenFile* tokens_;
};

// HTTP status of a ServiceError -> gRPC status code.
grpc::StatusCode grpcCode(int httpStatus);

} // namespace fulcrum::control
