#include <gtest/gtest.h>

#include "store/codec.h"
#include "store/config_store.h"
#include "store/etcd_store.h"

namespace fulcrum::store {
namespace {

TEST(CodecTest, TimeRoundTrips) {
  SystemTime t = SystemTime{} + std::chrono::milliseconds(1714564800123);
  EXPECT_EQ(formatTime(t), "2024-05-01T12:00:00.123Z");
  auto parsed = parseTime("2024-05-01T12:00:00.123Z");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, t);
  EXPECT_FALSE(parseTime("yesterday"));
}

TEST(CodecTest, RevisionMetaRoundTrips) {
  RevisionMeta meta{7,      "alice", SystemTime{} + std::chrono::seconds(5), "m", "git:abcdef0",
                    "00ff", 6};
  auto decoded = decodeRevisionMeta(toJson(meta).dump());
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->number, 7u);
  EXPECT_EQ(decoded->author, "alice");
  EXPECT_EQ(decoded->time, meta.time);
  EXPECT_EQ(decoded->source, "git:abcdef0");
  EXPECT_EQ(decoded->parent, 6u);
  EXPECT_FALSE(decodeRevisionMeta("[]"));
  EXPECT_FALSE(decodeRevisionMeta("{\"author\":\"x\"}"));
}

TEST(CodecTest, InstanceAndAuditRoundTrip) {
  InstanceStatus status{"proxy-1", "127.0.0.1:9901", 3, 4, {"f:1:2: p: bad"}, "0.1"};
  auto decoded = decodeInstanceStatus(toJson(status).dump());
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->errors, status.errors);
  EXPECT_EQ(decoded->refusedRevision, 4u);
  EXPECT_FALSE(decodeInstanceStatus("{\"id\":\"../x\"}"));
  AuditEntry entry{SystemTime{}, "bob", "config.put", "refused", 0, "cli", "2 errors"};
  auto audit = decodeAuditEntry(toJson(entry).dump());
  ASSERT_TRUE(audit);
  EXPECT_EQ(audit->outcome, "refused");
}

TEST(CodecTest, Sources) {
  EXPECT_TRUE(isValidSource("api"));
  EXPECT_TRUE(isValidSource("ui"));
  EXPECT_TRUE(isValidSource("cli"));
  EXPECT_TRUE(isValidSource("git:0123abc"));
  EXPECT_FALSE(isValidSource("git:0123ab"));
  EXPECT_FALSE(isValidSource("git:xyz1234"));
  EXPECT_FALSE(isValidSource("API"));
  EXPECT_FALSE(isValidSource(""));
}

TEST(CodecTest, InstanceIds) {
  EXPECT_TRUE(isValidInstanceId("proxy-1.eu_west"));
  EXPECT_FALSE(isValidInstanceId(""));
  EXPECT_FALSE(isValidInstanceId(".hidden"));
  EXPECT_FALSE(isValidInstanceId("a/b"));
  EXPECT_FALSE(isValidInstanceId(std::string(129, 'a')));
}

TEST(EtcdUrlTest, Parses) {
  auto config = parseEtcdUrl("etcd://127.0.0.1:2379,localhost:2380/?prefix=/team/");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->endpoints, (std::vector<std::string>{"127.0.0.1:2379", "127.0.0.1:2380"}));
  EXPECT_EQ(config->prefix, "/team");
  auto plain = parseEtcdUrl("etcd://[::1]:2379");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->prefix, "/fulcrum");
  EXPECT_FALSE(parseEtcdUrl("etcd://"));
  EXPECT_FALSE(parseEtcdUrl("etcd://host-without-port"));
  EXPECT_FALSE(parseEtcdUrl("etcd://127.0.0.1:2379?x=1"));
}

TEST(OpenStoreTest, RejectsUnknownSchemes) {
  auto store = openStore("zookeeper://x:1");
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find("file:///DIR"), std::string::npos);
  EXPECT_FALSE(openStore("file://"));
}

} // namespace
} // namespace fulcrum::store
