#include "control/grpc_service.h"

#include <fmt/format.h>

#include "control/rest_api.h"
#include "store/codec.h"

namespace fulcrum::control {
namespace {

void fill(v1::RevisionMeta* out, const store::RevisionMeta& meta) {
  out->set_number(meta.number);
  out->set_author(meta.author);
  out->set_time(store::formatTime(meta.time));
  out->set_message(meta.message);
  out->set_source(meta.source);
  out->set_hash(meta.hash);
  out->set_parent(meta.parent);
}

void fill(v1::Diagnostic* out, const config::Diagnostic& d) {
  out->set_file(d.file);
  out->set_line(d.line);
  out->set_column(d.column);
  out->set_path(d.path);
  out->set_message(d.message);
}

void fill(v1::WriteResult* out, const WriteResult& result) {
  if (result.revision) {
    fill(out->mutable_revision(), *result.revision);
  }
  out->set_current(result.current);
  out->set_dry_run(result.dryRun);
  out->set_unchanged(result.unchanged);
  out->set_created(result.created);
  out->set_diff(result.diff);
}

std::string render(const Json& json, v1::Format format) {
  return format == v1::FORMAT_YAML ? toYaml(json) : json.dump(2) + "\n";
}

Kind kindOf(v1::Kind kind) {
  switch (kind) {
  case v1::LISTENERS:
    return Kind::Listeners;
  case v1::ROUTES:
    return Kind::Routes;
  case v1::POOLS:
    return Kind::Pools;
  default:
    throw ServiceError(400, "Bad request", "kind must be LISTENERS, ROUTES or POOLS");
  }
}

grpc::Status toStatus(const ServiceError& error) {
  v1::Problem problem;
  problem.set_http_status(error.status);
  problem.set_title(error.title);
  problem.set_detail(error.detail);
  for (const auto& d : error.errors) {
    fill(problem.add_errors(), d);
  }
  problem.set_current_revision(error.currentRevision.value_or(0));
  v1::Status status;
  auto code = grpcCode(error.status);
  status.set_code(static_cast<int>(code));
  status.set_message(error.detail);
  status.add_details()->PackFrom(problem);
  return grpc::Status(code, error.title + ": " + error.detail, status.SerializeAsString());
}

std::string metadata(grpc::ServerContext* context, const char* key) {
  const auto& md = context->client_metadata();
  auto it = md.find(key);
  return it == md.end() ? std::string() : std::string(it->second.data(), it->second.size());
}

} // namespace

grpc::StatusCode grpcCode(int httpStatus) {
  switch (httpStatus) {
  case 400:
  case 415:
  case 422:
    return grpc::StatusCode::INVALID_ARGUMENT;
  case 401:
    return grpc::StatusCode::UNAUTHENTICATED;
  case 403:
    return grpc::StatusCode::PERMISSION_DENIED;
  case 404:
    return grpc::StatusCode::NOT_FOUND;
  case 409:
    return grpc::StatusCode::ABORTED;
  case 412:
    return grpc::StatusCode::FAILED_PRECONDITION;
  case 503:
    return grpc::StatusCode::UNAVAILABLE;
  default:
    return grpc::StatusCode::INTERNAL;
  }
}

struct GrpcApi::Call {
  Principal principal;
  ChangeContext change;
};

template <class F>
grpc::Status GrpcApi::run(grpc::ServerContext* context, Role role, bool write,
                          std::string_view action, const v1::Change* change, F&& body) {
  std::string actor = "anonymous";
  std::string source = change != nullptr && !change->source().empty() ? change->source() : "api";
  bool dispatched = false;
  try {
    Call call;
    call.principal = authenticate(tokens_, metadata(context, "authorization"), role, write, &actor);
    call.change.principal = call.principal;
    if (change != nullptr) {
      if (!store::isValidSource(source)) {
        throw ServiceError(400, "Bad request", "source must be api, ui, cli or git:SHA");
      }
      call.change.source = source;
      call.change.message = change->message();
      if (change->if_match() != 0) {
        call.change.ifMatch = Precondition{false, {change->if_match()}};
      }
      call.change.dryRun = change->dry_run();
      if (!change->file().empty()) {
        call.change.file = change->file();
      }
    }
    dispatched = true;
    body(call);
    return grpc::Status::OK;
  } catch (const ServiceError& error) {
    if (write && !dispatched) {
      service_.auditRefusal(actor, action,
                            error.status == 401   ? "unauthenticated"
                            : error.status == 403 ? "forbidden"
                                                  : "bad-request",
                            store::isValidSource(source) ? source : "api", error.detail);
    }
    return toStatus(error);
  } catch (const std::exception& e) {
    return toStatus(ServiceError(500, "Internal error", e.what()));
  }
}

grpc::Status GrpcApi::GetConfig(grpc::ServerContext* context, const v1::GetConfigRequest* request,
                                v1::Document* response) {
  return run(context, Role::Viewer, false, "", nullptr, [&](Call&) {
    auto [revision, document] = service_.currentConfig();
    response->set_revision(revision.meta.number);
    response->set_text(render(document, request->format()));
  });
}

grpc::Status GrpcApi::ApplyConfig(grpc::ServerContext* context,
                                  const v1::ApplyConfigRequest* request,
                                  v1::WriteResult* response) {
  return run(context, Role::Editor, true, "config.put", &request->change(), [&](Call& call) {
    fill(response, service_.putConfig(request->config(), call.change));
  });
}

grpc::Status GrpcApi::ListResources(grpc::ServerContext* context,
                                    const v1::ListResourcesRequest* request,
                                    v1::Document* response) {
  return run(context, Role::Viewer, false, "", nullptr, [&](Call&) {
    auto view = service_.resources(kindOf(request->kind()));
    response->set_revision(view.revision);
    response->set_text(render(view.document, request->format()));
  });
}

grpc::Status GrpcApi::GetResource(grpc::ServerContext* context, const v1::ResourceRequest* request,
                                  v1::Document* response) {
  return run(context, Role::Viewer, false, "", nullptr, [&](Call&) {
    auto view = service_.resource(kindOf(request->kind()), request->name());
    response->set_revision(view.revision);
    response->set_text(render(view.document, request->format()));
  });
}

grpc::Status GrpcApi::PutResource(grpc::ServerContext* context,
                                  const v1::PutResourceRequest* request,
                                  v1::WriteResult* response) {
  return run(context, Role::Editor, true, "resource.put", &request->change(), [&](Call& call) {
    Kind kind = kindOf(request->kind());
    auto body = parseDocument(request->document());
    if (!body.value) {
      throw ServiceError(400, "Bad request", "document: " + body.error);
    }
    fill(response,
         service_.putResource(kind, request->name(), std::move(*body.value), call.change));
  });
}

grpc::Status GrpcApi::DeleteResource(grpc::ServerContext* context,
                                     const v1::DeleteResourceRequest* request,
                                     v1::WriteResult* response) {
  return run(context, Role::Editor, true, "resource.delete", &request->change(), [&](Call& call) {
    fill(response, service_.deleteResource(kindOf(request->kind()), request->name(), call.change));
  });
}

grpc::Status GrpcApi::ListRevisions(grpc::ServerContext* context,
                                    const v1::ListRevisionsRequest* request,
                                    v1::RevisionList* response) {
  return run(context, Role::Viewer, false, "", nullptr, [&](Call&) {
    auto metas = service_.revisions();
    response->set_current(metas.empty() ? 0 : metas.back().number);
    size_t limit = request->limit() == 0 ? metas.size() : request->limit();
    for (auto it = metas.rbegin(); it != metas.rend() && limit > 0; ++it, --limit) {
      fill(response->add_items(), *it);
    }
  });
}

grpc::Status GrpcApi::GetRevision(grpc::ServerContext* context,
                                  const v1::GetRevisionRequest* request, v1::Revision* response) {
  return run(context, Role::Viewer, false, "", nullptr, [&](Call&) {
    auto revision = service_.revision(request->number());
    fill(response->mutable_meta(), revision.meta);
    response->set_config(revision.config);
  });
}

grpc::Status GrpcApi::DiffRevisions(grpc::ServerContext* context,
                                    const v1::DiffRevisionsRequest* request, v1::Diff* response) {
  return run(context, Role::Viewer, false, "", nullptr,
             [&](Call&) { response->set_text(service_.diff(request->from(), request->to())); });
}

grpc::Status GrpcApi::Rollback(grpc::ServerContext* context, const v1::RollbackRequest* request,
                               v1::WriteResult* response) {
  return run(context, Role::Admin, true, "rollback", &request->change(), [&](Call& call) {
    fill(response, service_.rollback(request->revision(), call.change));
  });
}

grpc::Status GrpcApi::Validate(grpc::ServerContext* context, const v1::ValidateRequest* request,
                               v1::ValidateResult* response) {
  return run(context, Role::Viewer, false, "", nullptr, [&](Call&) {
    auto result =
        service_.validate(request->config(), request->file().empty() ? "request" : request->file());
    response->set_valid(result.errors.empty());
    for (const auto& d : result.errors) {
      fill(response->add_errors(), d);
    }
    response->set_hash(result.hash);
    response->set_diff(result.diff);
    response->set_current(result.current);
  });
}

grpc::Status GrpcApi::ListInstances(grpc::ServerContext* context, const v1::ListInstancesRequest*,
                                    v1::InstanceList* response) {
  return run(context, Role::Viewer, false, "", nullptr, [&](Call&) {
    response->set_current(service_.currentNumber());
    for (const auto& info : service_.instances()) {
      auto* item = response->add_items();
      item->set_id(info.status.id);
      item->set_admin_address(info.status.adminAddress);
      item->set_applied_revision(info.status.appliedRevision);
      item->set_refused_revision(info.status.refusedRevision);
      for (const auto& e : info.status.errors) {
        item->add_errors(e);
      }
      item->set_version(info.status.version);
      item->set_last_seen(store::formatTime(info.lastSeen));
      item->set_alive(info.alive);
    }
  });
}

grpc::Status GrpcApi::ListAudit(grpc::ServerContext* context, const v1::ListAuditRequest* request,
                                v1::AuditList* response) {
  return run(context, Role::Viewer, false, "", nullptr, [&](Call&) {
    auto entries = service_.audit(request->limit() == 0 ? 100 : request->limit());
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
      auto* item = response->add_items();
      item->set_time(store::formatTime(it->time));
      item->set_actor(it->actor);
      item->set_action(it->action);
      item->set_outcome(it->outcome);
      item->set_revision(it->revision);
      item->set_source(it->source);
      item->set_detail(it->detail);
    }
  });
}

} // namespace fulcrum::control
