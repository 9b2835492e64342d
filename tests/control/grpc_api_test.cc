// The gRPC API in process: a real server on 127.0.0.1:0 over a file store, called through the
// generated client stub.

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "control/grpc_service.h"
#include "store/config_store.h"

namespace fulcrum::control {
namespace {

namespace fs = std::filesystem;

constexpr const char* kBase = R"(apiVersion: fulcrum/v1
listeners: [{name: public, address: 127.0.0.1:8080}]
routes: [{name: web, rules: [{backends: [{pool: web}]}]}]
pools: [{name: web, endpoints: [{address: 127.0.0.1:9001}]}]
)";

class GrpcApiTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "fulcrum-grpc-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    auto opened = store::openStore("file://" + root_ + "/store");
    ASSERT_TRUE(opened);
    store_ = std::move(opened.value());
    std::ofstream(root_ + "/tokens") << "adm admin ada\ned editor eddie\n";
    tokens_ = std::move(TokenFile::open(root_ + "/tokens").value());
    service_ = std::make_unique<ControlService>(*store_, time_);
    api_ = std::make_unique<GrpcApi>(*service_, tokens_.get());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(api_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    stub_ = v1::ControlService::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                            grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    server_->Shutdown();
    fs::remove_all(root_);
  }

  std::unique_ptr<grpc::ClientContext> context(const char* token) {
    auto c = std::make_unique<grpc::ClientContext>();
    if (token != nullptr) {
      c->AddMetadata("authorization", std::string("Bearer ") + token);
    }
    return c;
  }

  std::string root_;
  RealTimeSource time_;
  std::unique_ptr<store::ConfigStore> store_;
  std::unique_ptr<TokenFile> tokens_;
  std::unique_ptr<ControlService> service_;
  std::unique_ptr<GrpcApi> api_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::ControlService::Stub> stub_;
};

TEST_F(GrpcApiTest, ApplyListDiffAndRollback) {
  v1::ApplyConfigRequest apply;
  apply.set_config(kBase);
  apply.mutable_change()->set_message("first");
  apply.mutable_change()->set_source("cli");
  v1::WriteResult written;
  auto status = stub_->ApplyConfig(context("ed").get(), apply, &written);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(written.revision().number(), 1u);
  EXPECT_EQ(written.revision().author(), "eddie");
  EXPECT_EQ(written.revision().source(), "cli");

  v1::PutResourceRequest put;
  put.set_kind(v1::POOLS);
  put.set_name("api");
  put.set_document("endpoints: [{address: 127.0.0.1:9100}]");
  put.mutable_change()->set_if_match(1);
  ASSERT_TRUE(stub_->PutResource(context("ed").get(), put, &written).ok());
  EXPECT_TRUE(written.created());
  EXPECT_EQ(written.current(), 2u);
  // The same precondition again is stale now.
  status = stub_->PutResource(context("ed").get(), put, &written);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  v1::ResourceRequest get;
  get.set_kind(v1::POOLS);
  get.set_name("api");
  get.set_format(v1::FORMAT_YAML);
  v1::Document document;
  ASSERT_TRUE(stub_->GetResource(context("ed").get(), get, &document).ok());
  EXPECT_EQ(document.revision(), 2u);
  EXPECT_NE(document.text().find("name: api"), std::string::npos);

  v1::ListRevisionsRequest list;
  v1::RevisionList revisions;
  ASSERT_TRUE(stub_->ListRevisions(context("ed").get(), list, &revisions).ok());
  ASSERT_EQ(revisions.items_size(), 2);
  EXPECT_EQ(revisions.items(0).number(), 2u);

  v1::DiffRevisionsRequest diffRequest;
  diffRequest.set_from(1);
  diffRequest.set_to(2);
  v1::Diff diff;
  ASSERT_TRUE(stub_->DiffRevisions(context("ed").get(), diffRequest, &diff).ok());
  EXPECT_NE(diff.text().find("name: api"), std::string::npos);

  v1::RollbackRequest rollback;
  rollback.set_revision(1);
  EXPECT_EQ(stub_->Rollback(context("ed").get(), rollback, &written).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(stub_->Rollback(context("adm").get(), rollback, &written).ok());
  EXPECT_EQ(written.revision().number(), 3u);
}

TEST_F(GrpcApiTest, InvalidConfigCarriesLocatedDiagnostics) {
  v1::ApplyConfigRequest apply;
  apply.set_config(
      "apiVersion: fulcrum/v1\nroutes: [{name: r, rules: [{backends: [{pool: x}]}]}]\n");
  apply.mutable_change()->set_file("bad.yaml");
  v1::WriteResult written;
  auto status = stub_->ApplyConfig(context("ed").get(), apply, &written);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::Status details;
  ASSERT_TRUE(details.ParseFromString(status.error_details()));
  ASSERT_EQ(details.details_size(), 1);
  v1::Problem problem;
  ASSERT_TRUE(details.details(0).UnpackTo(&problem));
  EXPECT_EQ(problem.http_status(), 422);
  ASSERT_GE(problem.errors_size(), 1);
  EXPECT_EQ(problem.errors(0).file(), "bad.yaml");
  EXPECT_GT(problem.errors(0).line(), 0);
  EXPECT_FALSE(problem.errors(0).path().empty());
  EXPECT_FALSE(store_->current().value());

  v1::ValidateRequest validate;
  validate.set_config(apply.config());
  v1::ValidateResult result;
  ASSERT_TRUE(stub_->Validate(context("ed").get(), validate, &result).ok());
  EXPECT_FALSE(result.valid());
  EXPECT_GE(result.errors_size(), 1);
}

TEST_F(GrpcApiTest, NeedsAToken) {
  v1::GetConfigRequest request;
  v1::Document document;
  EXPECT_EQ(stub_->GetConfig(context(nullptr).get(), request, &document).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(stub_->GetConfig(context("ed").get(), request, &document).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

} // namespace
} // namespace fulcrum::control
