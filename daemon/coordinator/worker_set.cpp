// SPDX-License-Identifier: Apache-2.0
// WorkerSet (see worker_set.h).
#include "daemon/coordinator/worker_set.h"

#include <arpa/inet.h>
#include <event2/util.h>
#include <fmt/format.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "daemon/config.h"
#include "daemon/log.h"

namespace testrund::daemon {
namespace {

constexpr ops::MonoNs kHeartbeatInterval = ops::kNsPerSecond;
constexpr ops::MonoNs kResolveInterval = 10 * ops::kNsPerSecond;

ops::MonoNs Ns(double seconds) { return static_cast<ops::MonoNs>(seconds * ops::kNsPerSecond); }

// The worker at IP `host` (v4 or v6 text) and `port`; nullopt when `host` is not an IP.
std::optional<std::pair<WorkerAddress, std::string>> NumericWorker(const std::string& host,
                                                                   uint16_t port) {
  unsigned char bytes[16];
  std::string key;
  std::string text;
  if (evutil_inet_pton(AF_INET, host.c_str(), bytes) == 1) {
    key.assign(1, '4').append(reinterpret_cast<char*>(bytes), 4);
    text = fmt::format("{}:{}", host, port);
  } else if (evutil_inet_pton(AF_INET6, host.c_str(), bytes) == 1) {
    key.assign(1, '6').append(reinterpret_cast<char*>(bytes), 16);
    text = fmt::format("[{}]:{}", host, port);
  } else {
    return std::nullopt;
  }
  key.push_back(static_cast<char>(port >> 8));
  key.push_back(static_cast<char>(port & 0xff));
  return std::make_pair(WorkerAddress{text, host, port}, key);
}

}  // namespace

struct WorkerSet::Source {
  WorkerSet* owner = nullptr;
  std::string configured;  // as written: "NAME:PORT" or "IP:PORT"
  std::string host;
  uint16_t port = 0;
  bool numeric = false;
  bool resolved = false;  // a resolution has answered (numeric: always)
  std::vector<std::pair<WorkerAddress, std::string>> addresses;  // with their sort keys
  evdns_getaddrinfo_request* pending = nullptr;
};

WorkerSet::WorkerSet(ops::IoContext& io, const CoordinatorOptions& options)
    : io_(io), options_(options) {}

WorkerSet::~WorkerSet() {
  for (auto& source : sources_) {
    // Runs the callback at once with EVUTIL_EAI_CANCEL, which touches nothing.
    if (source->pending != nullptr) evdns_getaddrinfo_cancel(source->pending);
  }
}

void WorkerSet::Start() {
  for (const std::string& configured : options_.workers) {
    Result<HostPort> hp = ParseHostPort(configured);  // checked by the configuration
    if (!hp.ok()) continue;
    auto source = std::make_unique<Source>();
    source->owner = this;
    source->configured = configured;
    source->host = hp->host;
    source->port = hp->port;
    if (auto numeric = NumericWorker(hp->host, hp->port)) {
      source->numeric = true;
      source->resolved = true;
      source->addresses.push_back(std::move(*numeric));
    }
    sources_.push_back(std::move(source));
  }
  Rebuild();
  heartbeat_ = io_.clock().NewTimer([this] { OnHeartbeat(); });
  heartbeat_->ArmAt(io_.clock().Now());
  resolve_ = io_.clock().NewTimer([this] {
    for (auto& source : sources_) Resolve(*source);
    resolve_->ArmAt(io_.clock().Now() + kResolveInterval);
  });
  resolve_->ArmAt(io_.clock().Now());
}

void WorkerSet::Resolve(Source& source) {
  if (source.numeric || source.pending != nullptr) return;
  if (dns_ == nullptr) {
    dns_ = io_.dns();
    if (dns_ == nullptr) {
      // No nameservers (a sealed container): names of /etc/hosts still resolve.
      own_dns_.reset(evdns_base_new(io_.base(), 0));
      if (own_dns_) evdns_base_load_hosts(own_dns_.get(), nullptr);
      dns_ = own_dns_.get();
    }
    if (dns_ == nullptr) {
      LogError("coordinator: cannot create a resolver; {} stays unresolved", source.configured);
      return;
    }
  }
  evutil_addrinfo hints;
  std::memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  std::string port = std::to_string(source.port);
  // May answer inside the call (a name of /etc/hosts): `pending` is then left null.
  evdns_getaddrinfo_request* request =
      evdns_getaddrinfo(dns_, source.host.c_str(), port.c_str(), &hints, &OnResolved, &source);
  source.pending = request;
}

void WorkerSet::OnResolved(int result, evutil_addrinfo* addresses, void* arg) {
  auto* source = static_cast<Source*>(arg);
  source->pending = nullptr;
  if (result == EVUTIL_EAI_CANCEL) return;
  if (result != 0) {
    LogWarn("coordinator: cannot resolve {}: {}", source->configured, evutil_gai_strerror(result));
    return;
  }
  // IPv4 when the name has any: a dual-stack pod must not count as two workers.
  std::vector<std::pair<WorkerAddress, std::string>> v4;
  std::vector<std::pair<WorkerAddress, std::string>> v6;
  char text[INET6_ADDRSTRLEN];
  for (evutil_addrinfo* a = addresses; a != nullptr; a = a->ai_next) {
    const void* raw = nullptr;
    if (a->ai_family == AF_INET) {
      raw = &reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr;
    } else if (a->ai_family == AF_INET6) {
      raw = &reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr;
    } else {
      continue;
    }
    if (evutil_inet_ntop(a->ai_family, raw, text, sizeof(text)) == nullptr) continue;
    auto numeric = NumericWorker(text, source->port);
    if (numeric) (a->ai_family == AF_INET ? v4 : v6).push_back(std::move(*numeric));
  }
  if (addresses != nullptr) evutil_freeaddrinfo(addresses);
  source->addresses = v4.empty() ? std::move(v6) : std::move(v4);
  source->resolved = true;
  source->owner->Rebuild();
}

void WorkerSet::Rebuild() {
  std::vector<std::pair<WorkerAddress, std::string>> wanted;
  for (const auto& source : sources_) {
    wanted.insert(wanted.end(), source->addresses.begin(), source->addresses.end());
  }
  std::sort(wanted.begin(), wanted.end(),
            [](const auto& a, const auto& b) { return a.second < b.second; });
  wanted.erase(std::unique(wanted.begin(), wanted.end(),
                           [](const auto& a, const auto& b) { return a.second == b.second; }),
               wanted.end());
  std::vector<std::unique_ptr<Worker>> next;
  bool changed = wanted.size() != workers_.size();
  for (auto& [address, key_binding] : wanted) {
    // A named copy: clang 14 cannot capture a structured binding.
    const std::string& key = key_binding;
    auto old = std::find_if(workers_.begin(), workers_.end(),
                            [&key](const auto& w) { return w && w->sort_key == key; });
    if (old != workers_.end()) {
      next.push_back(std::move(*old));
      continue;
    }
    changed = true;
    auto worker = std::make_unique<Worker>();
    worker->address = address;
    worker->sort_key = key;
    worker->last_heard = io_.clock().Now();
    next.push_back(std::move(worker));
  }
  // Workers no longer listed go with their heartbeat calls (never inside those calls'
  // callbacks: this runs from the resolver's or from Start).
  workers_ = std::move(next);
  if (!changed) return;
  std::string list;
  for (const auto& w : workers_) list += (list.empty() ? "" : ", ") + w->address.text;
  LogInfo("coordinator: {} worker(s){}{}", workers_.size(), list.empty() ? "" : ": ", list);
}

WorkerSet::Worker* WorkerSet::Find(const std::string& address) const {
  for (const auto& w : workers_) {
    if (w->address.text == address) return w.get();
  }
  return nullptr;
}

bool WorkerSet::IsLost(const std::string& address) const {
  const Worker* w = Find(address);
  return w != nullptr && w->lost;
}

void WorkerSet::Heard(const std::string& address) {
  Worker* w = Find(address);
  if (w == nullptr) return;
  w->last_heard = io_.clock().Now();
  w->last_answer = io_.clock().WallNow();
  if (w->lost) {
    w->lost = false;
    LogInfo("coordinator: worker {} is up again", address);
  }
}

std::vector<std::string> WorkerSet::Resolving() const {
  std::vector<std::string> names;
  for (const auto& source : sources_) {
    if (!source->resolved) names.push_back(source->configured);
  }
  return names;
}

uint64_t WorkerSet::instances_live() const {
  uint64_t sum = 0;
  for (const auto& w : workers_) sum += w->lost ? 0 : w->instances_live;
  return sum;
}

void WorkerSet::OnHeartbeat() {
  ops::MonoNs now = io_.clock().Now();
  std::string request = WorkerRequest("GetServerInfo", rapidjson::Value(rapidjson::kObjectType),
                                      options_.worker_token);
  for (const auto& owned : workers_) {
    Worker& w = *owned;
    if (!w.lost && now - w.last_heard > Ns(options_.worker_timeout)) {
      w.lost = true;
      LogWarn("coordinator: worker {} lost: no answer for {} s", w.address.text,
              options_.worker_timeout);
    }
    // A call still in flight has its own timeout; the next beat asks again.
    if (w.heartbeat && !w.heartbeat->done()) continue;
    // Replacing a finished call here is safe: this is the timer's callback, not the call's.
    w.heartbeat = WorkerCall::Start(io_, w.address, request, Ns(options_.worker_timeout),
                                    [this, &w](WorkerAnswer& a) { OnHeartbeatAnswer(w, a); });
  }
  heartbeat_->ArmAt(now + kHeartbeatInterval);
}

void WorkerSet::OnHeartbeatAnswer(Worker& worker, WorkerAnswer& answer) {
  if (!answer.answered()) return;
  Heard(worker.address.text);
  if (!answer.ok() || !answer.result->IsObject()) return;
  auto read = [&](const char* name, uint64_t& field) {
    auto it = answer.result->FindMember(name);
    if (it != answer.result->MemberEnd() && it->value.IsUint64()) field = it->value.GetUint64();
  };
  read("runs", worker.runs);
  read("instances_live", worker.instances_live);
}

rapidjson::Value WorkerSet::Describe(rapidjson::Document::AllocatorType& alloc) const {
  rapidjson::Value list(rapidjson::kArrayType);
  for (const std::string& name : Resolving()) {
    rapidjson::Value w(rapidjson::kObjectType);
    w.AddMember("address", rapidjson::Value(name.c_str(), alloc), alloc);
    w.AddMember("state", "resolving", alloc);
    w.AddMember("last_answer", rapidjson::Value(), alloc);
    w.AddMember("runs", 0, alloc);
    w.AddMember("instances_live", 0, alloc);
    list.PushBack(w, alloc);
  }
  for (const auto& owned : workers_) {
    const Worker& worker = *owned;
    rapidjson::Value w(rapidjson::kObjectType);
    w.AddMember("address", rapidjson::Value(worker.address.text.c_str(), alloc), alloc);
    w.AddMember("state", rapidjson::StringRef(worker.lost ? "lost" : "up"), alloc);
    rapidjson::Value last;
    if (worker.last_answer) {
      last.SetArray();
      last.PushBack(static_cast<int64_t>(worker.last_answer->sec), alloc)
          .PushBack(static_cast<int64_t>(worker.last_answer->usec), alloc);
    }
    w.AddMember("last_answer", last, alloc);
    w.AddMember("runs", worker.runs, alloc);
    w.AddMember("instances_live", worker.instances_live, alloc);
    list.PushBack(w, alloc);
  }
  return list;
}

}  // namespace testrund::daemon
