// SPDX-License-Identifier: Apache-2.0
// The option table and the parsers behind Config (see config.h). Every default, bound and
// help line is in kOptions; the file reader, the flag reader, --help and the unit tests all
// read that one table.
#include "daemon/config.h"

#include <fmt/core.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "daemon/log.h"
#include "ops/base/check.h"

namespace testrund::daemon {
namespace {

constexpr double kNoMin = 0;
constexpr double kNoMax = 0;
constexpr uint64_t kKi = 1024;

// The field `Members` name, one member inside the other, starting from Config: the row's
// ConfigField (e.g. &At<&Config::engine, &ops::EngineLimits::max_runs>).
template <auto... Members>
auto& At(Config& config) {
  return (config.*....*Members);
}

// clang-format off
const OptionSpec kOptions[] = {
  {"listen", OptionType::kAddressList, "127.0.0.1:9009", kNoMin, kNoMax,
   "plain listener HOST:PORT (repeatable; empty value disables; port 0 = ephemeral)",
   &At<&Config::listen>},
  {"tls_listen", OptionType::kAddressList, "", kNoMin, kNoMax,
   "TLS listener HOST:PORT (repeatable; needs tls_cert and tls_key)", &At<&Config::tls_listen>},
  {"tls_cert", OptionType::kString, "", kNoMin, kNoMax,
   "PEM certificate (chain) file for TLS listeners", &At<&Config::tls_cert>},
  {"tls_key", OptionType::kString, "", kNoMin, kNoMax,
   "PEM private key file for TLS listeners", &At<&Config::tls_key>},
  {"token", OptionType::kTokenList, "", kNoMin, kNoMax,
   "TOKEN:ROLE, ROLE operator or observer (repeatable; none = no authentication)",
   &At<&Config::token>},
  {"results_dir", OptionType::kString, "", kNoMin, kNoMax,
   "write each run's final status to DIR/<run_id>.json (empty = off)", &At<&Config::results_dir>},
  {"state_dir", OptionType::kString, "", kNoMin, kNoMax,
   "keep each run's definition, control state and latest results in DIR (empty = off)",
   &At<&Config::state_dir>},
  {"checkpoint_interval", OptionType::kSeconds, "10", 1, 3600,
   "seconds between writes of a live run's results to state_dir", &At<&Config::checkpoint_interval>},
  {"log_level", OptionType::kLogLevel, "info", kNoMin, kNoMax,
   "error, warn, info or debug", &At<&Config::log_level>},
  {"log_file", OptionType::kString, "", kNoMin, kNoMax,
   "append the log to FILE, reopened on SIGHUP (empty = stderr)", &At<&Config::log_file>},
  {"max_body_bytes", OptionType::kSize, "16M", 256, 1024.0 * kKi * kKi,
   "largest request body (length prefix or HTTP body)", &At<&Config::transport, &TransportLimits::max_body_bytes>},
  {"max_json_depth", OptionType::kCount, "64", 1, 1000,
   "deepest JSON nesting accepted in a request", &At<&Config::dispatch, &rpc::DispatchLimits::max_json_depth>},
  {"max_runs", OptionType::kCount, "1000", 1, 1e6,
   "live runs", &At<&Config::engine, &ops::EngineLimits::max_runs>},
  {"max_instances", OptionType::kCount, "2000000", 1, 1e9,
   "instances in progress, all runs together", &At<&Config::engine, &ops::EngineLimits::max_instances>},
  {"max_operations", OptionType::kCount, "10000", 1, 1e6,
   "operations per run", &At<&Config::engine, &ops::EngineLimits::max_operations>},
  {"lua_instruction_limit", OptionType::kCount, "1000000", 1000, 2147483647,
   "Lua instructions per evaluation", &At<&Config::engine, &ops::EngineLimits::lua, &ops::LuaLimits::instruction_limit>},
  {"lua_memory_limit", OptionType::kSize, "256M", 1024.0 * kKi, 64.0 * kKi * kKi * kKi,
   "Lua memory per run", &At<&Config::engine, &ops::EngineLimits::lua, &ops::LuaLimits::memory_limit>},
  {"max_steps_without_wait", OptionType::kCount, "100000", 1, 1e9,
   "operations an instance may execute without waiting before it aborts",
   &At<&Config::engine, &ops::EngineLimits::max_steps_without_wait>},
  {"max_header_bytes", OptionType::kSize, "64K", 1024, 1024.0 * kKi,
   "largest HTTP start line + headers", &At<&Config::transport, &TransportLimits::max_header_bytes>},
  {"idle_timeout", OptionType::kSeconds, "60", 0.1, 86400,
   "seconds a connection may stay idle or stalled, or take to send a request, before it is "
   "closed",
   &At<&Config::transport, &TransportLimits::idle_timeout>},
  {"max_connections", OptionType::kCount, "10000", 1, 1e6,
   "open client connections; further connections are accepted and closed at once",
   &At<&Config::transport, &TransportLimits::max_connections>},
  {"completed_run_retention", OptionType::kSeconds, "0", 0, 7 * 86400.0,
   "seconds a completed run stays queryable after QueryTest returned it",
   &At<&Config::engine, &ops::EngineLimits::completed_run_retention>},
  {"data_dir", OptionType::kString, "", kNoMin, kNoMax,
   "directory of the CSV files ExecuteTest's data may name (empty = none may be named)",
   &At<&Config::engine, &ops::EngineLimits::data_dir>},
  {"max_data_bytes", OptionType::kSize, "256M", 1024, 2.0 * kKi * kKi * kKi,
   "largest data of one run: CSV text or file, or the cells of JSON rows",
   &At<&Config::engine, &ops::EngineLimits::data, &ops::DataLimits::max_bytes>},
  {"max_data_rows", OptionType::kCount, "10000000", 1, 1e9,
   "most data rows of one run", &At<&Config::engine, &ops::EngineLimits::data, &ops::DataLimits::max_rows>},
  {"webhook_allow", OptionType::kAllowList, ops::WebhookAllowList::kDefaultText, kNoMin, kNoMax,
   "hosts webhook reporters may POST to: addresses, CIDR networks, names (empty = none)",
   &At<&Config::webhook_allow>},
  {"coordinator", OptionType::kBool, "false", kNoMin, kNoMax,
   "run no tests: shard every run over the workers and merge their results",
   &At<&Config::coordinator, &CoordinatorOptions::enabled>},
  {"workers", OptionType::kAddressCsv, "", kNoMin, kNoMax,
   "coordinator: the workers, HOST:PORT,HOST:PORT,... or one NAME:PORT resolving to several",
   &At<&Config::coordinator, &CoordinatorOptions::workers>},
  {"worker_token", OptionType::kString, "", kNoMin, kNoMax,
   "coordinator: the token sent to every worker (empty = none)",
   &At<&Config::coordinator, &CoordinatorOptions::worker_token>},
  {"shard_lead", OptionType::kSeconds, "1", 0.1, 60,
   "coordinator: seconds from ExecuteTest to the shards' common start",
   &At<&Config::coordinator, &CoordinatorOptions::shard_lead>},
  {"worker_timeout", OptionType::kSeconds, "5", 0.5, 60,
   "coordinator: seconds a worker call may take; a worker silent this long is lost",
   &At<&Config::coordinator, &CoordinatorOptions::worker_timeout>},
};
// clang-format on

const OptionSpec* FindOption(std::string_view key) {
  for (const OptionSpec& spec : kOptions) {
    if (spec.key == key) return &spec;
  }
  return nullptr;
}

bool IsList(const OptionSpec& spec) {
  return spec.type == OptionType::kAddressList || spec.type == OptionType::kTokenList;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

std::string FormatBound(const OptionSpec& spec, double bound) {
  if (spec.type == OptionType::kSeconds) return fmt::format("{}", bound);
  return fmt::format("{}", static_cast<uint64_t>(bound));
}

Status CheckBounds(const OptionSpec& spec, std::string_view text, double value) {
  if (value < spec.min || value > spec.max) {
    return Status::Error(fmt::format("\"{}\" is out of range ({} to {})", text,
                                     FormatBound(spec, spec.min), FormatBound(spec, spec.max)));
  }
  return Status::Ok();
}

Result<uint64_t> ParseCount(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return Status::Error(fmt::format("\"{}\" is not a non-negative integer", text));
  }
  return value;
}

Result<double> ParseSeconds(std::string_view text) {
  double value = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::fixed);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value) || value < 0) {
    return Status::Error(fmt::format("\"{}\" is not a number of seconds", text));
  }
  return value;
}

Status ParseToken(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    // Quote the role only: the token itself is a secret.
    return Status::Error("expected TOKEN:ROLE");
  }
  std::string_view token = text.substr(0, colon);
  std::string_view role = text.substr(colon + 1);
  if (role != "operator" && role != "observer") {
    return Status::Error(fmt::format("role \"{}\" is not operator or observer", role));
  }
  for (char c : token) {
    if (std::isspace(static_cast<unsigned char>(c)) ||
        std::iscntrl(static_cast<unsigned char>(c))) {
      return Status::Error("a token may not contain spaces or control characters");
    }
  }
  return Status::Ok();
}

// Sets one option from its text. `replace_list` clears a list before adding to it.
Status SetOption(const OptionSpec& spec, std::string_view raw, bool replace_list, Config* config) {
  std::string_view text = Trim(raw);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
    text = text.substr(1, text.size() - 2);
  }
  switch (spec.type) {
    case OptionType::kString:
    case OptionType::kLogLevel: {
      if (spec.type == OptionType::kLogLevel) {
        Result<LogLevel> level = ParseLogLevel(text);
        if (!level.ok()) return level.status();
      }
      std::get<std::string& (*)(Config&)>(spec.field)(*config) = std::string(text);
      return Status::Ok();
    }
    case OptionType::kAddressList:
    case OptionType::kTokenList: {
      auto& list = std::get<std::vector<std::string>& (*)(Config&)>(spec.field)(*config);
      if (replace_list) list.clear();
      if (text.empty()) {
        list.clear();
        return Status::Ok();
      }
      if (spec.type == OptionType::kAddressList) {
        Result<HostPort> address = ParseHostPort(text);
        if (!address.ok()) return address.status();
      } else {
        Status status = ParseToken(text);
        if (!status.ok()) return status;
      }
      list.emplace_back(text);
      return Status::Ok();
    }
    case OptionType::kSize:
    case OptionType::kCount: {
      Result<uint64_t> value = spec.type == OptionType::kSize ? ParseSize(text) : ParseCount(text);
      if (!value.ok()) return value.status();
      Status bounds = CheckBounds(spec, text, static_cast<double>(*value));
      if (!bounds.ok()) return bounds;
      std::get<uint64_t& (*)(Config&)>(spec.field)(*config) = *value;
      return Status::Ok();
    }
    case OptionType::kBool: {
      if (text != "true" && text != "false") {
        return Status::Error(fmt::format("\"{}\" is not true or false", text));
      }
      std::get<bool& (*)(Config&)>(spec.field)(*config) = text == "true";
      return Status::Ok();
    }
    case OptionType::kAddressCsv: {
      std::vector<std::string> addresses;
      for (std::string_view rest = text; !rest.empty();) {
        size_t comma = rest.find(',');
        std::string_view one = Trim(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        Result<HostPort> address = ParseHostPort(one);
        if (!address.ok()) return address.status();
        addresses.emplace_back(one);
      }
      std::get<std::vector<std::string>& (*)(Config&)>(spec.field)(*config) =
          std::move(addresses);
      return Status::Ok();
    }
    case OptionType::kAllowList: {
      Result<ops::WebhookAllowList> list = ops::WebhookAllowList::Parse(text);
      if (!list.ok()) return list.status();
      std::get<ops::WebhookAllowList& (*)(Config&)>(spec.field)(*config) = std::move(*list);
      return Status::Ok();
    }
    case OptionType::kSeconds: {
      Result<double> value = ParseSeconds(text);
      if (!value.ok()) return value.status();
      Status bounds = CheckBounds(spec, text, *value);
      if (!bounds.ok()) return bounds;
      std::get<double& (*)(Config&)>(spec.field)(*config) = *value;
      return Status::Ok();
    }
  }
  return Status::Error("unknown option type");
}

std::string FlagName(std::string_view key) {
  std::string flag = "--";
  for (char c : key) flag += c == '_' ? '-' : c;
  return flag;
}

}  // namespace

std::span<const OptionSpec> OptionTable() { return kOptions; }

Config DefaultConfig() {
  Config config;
  for (const OptionSpec& spec : kOptions) {
    Status status = SetOption(spec, spec.default_value, true, &config);
    CHECK(status.ok());
  }
  return config;
}

Result<uint64_t> ParseSize(std::string_view text) {
  uint64_t multiplier = 1;
  std::string_view digits = text;
  if (!digits.empty()) {
    switch (digits.back()) {
      case 'k':
      case 'K':
        multiplier = kKi;
        break;
      case 'm':
      case 'M':
        multiplier = kKi * kKi;
        break;
      case 'g':
      case 'G':
        multiplier = kKi * kKi * kKi;
        break;
      default:
        break;
    }
    if (multiplier != 1) digits.remove_suffix(1);
  }
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
      value > std::numeric_limits<uint64_t>::max() / multiplier) {
    return Status::Error(
        fmt::format("\"{}\" is not a size (bytes, or a number with a K, M or G suffix)", text));
  }
  return value * multiplier;
}

Result<HostPort> ParseHostPort(std::string_view text) {
  auto bad = [&] {
    return Status::Error(fmt::format("\"{}\" is not HOST:PORT (port 0-65535)", text));
  };
  HostPort result;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad();
    }
    result.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad();
    result.host = std::string(text.substr(0, colon));
    if (result.host.find(':') != std::string::npos) return bad();  // IPv6 needs brackets
    port_text = text.substr(colon + 1);
  }
  uint32_t port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (result.host.empty() || port_text.empty() || ec != std::errc() ||
      end != port_text.data() + port_text.size() || port > 65535) {
    return bad();
  }
  result.port = static_cast<uint16_t>(port);
  return result;
}

Status ApplyConfigText(std::string_view text, std::string_view file_name, Config* config) {
  std::set<std::string_view> lists_seen;
  size_t line_number = 0;
  while (!text.empty()) {
    size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    ++line_number;
    // A comment starts a line or follows whitespace, so tokens may contain '#'.
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '#' && (i == 0 || std::isspace(static_cast<unsigned char>(line[i - 1])))) {
        line = line.substr(0, i);
        break;
      }
    }
    line = Trim(line);
    if (line.empty()) continue;
    size_t equals = line.find('=');
    std::string_view key = Trim(line.substr(0, equals));
    if (equals == std::string_view::npos) {
      return Status::Error(
          fmt::format("{}:{}: {}: expected \"key = value\"", file_name, line_number, key));
    }
    const OptionSpec* spec = FindOption(key);
    if (spec == nullptr) {
      return Status::Error(fmt::format("{}:{}: {}: unknown key", file_name, line_number, key));
    }
    bool replace = IsList(*spec) && lists_seen.insert(spec->key).second;
    Status status = SetOption(*spec, line.substr(equals + 1), replace, config);
    if (!status.ok()) {
      return Status::Error(
          fmt::format("{}:{}: {}: {}", file_name, line_number, key, status.message()));
    }
  }
  return Status::Ok();
}

Status ApplyConfigFile(const std::string& path, Config* config) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::Error(
        fmt::format("{}: cannot read config file: {}", path, std::strerror(errno)));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) {
    return Status::Error(fmt::format("{}: cannot read config file", path));
  }
  config->config_file = path;
  return ApplyConfigText(contents.str(), path, config);
}

Result<Invocation> ParseCommandLine(std::span<const char* const> args) {
  struct Flag {
    const OptionSpec* spec;
    std::string name;
    std::string value;
  };
  Invocation invocation;
  std::vector<Flag> flags;
  std::string config_path;
  for (size_t i = 1; i < args.size(); ++i) {
    std::string_view arg = args[i];
    std::string name(arg);
    std::optional<std::string> value;
    if (size_t equals = arg.find('='); arg.starts_with("--") && equals != std::string_view::npos) {
      name = std::string(arg.substr(0, equals));
      value = std::string(arg.substr(equals + 1));
    }
    if (name == "--help" || name == "-h") {
      invocation.action = Action::kHelp;
      return invocation;
    }
    if (name == "--version") {
      invocation.action = Action::kVersion;
      return invocation;
    }
    if (name == "--check-config") {
      invocation.action = Action::kCheckConfig;
      continue;
    }
    const OptionSpec* spec = nullptr;
    if (name != "--config") {
      for (const OptionSpec& candidate : kOptions) {
        if (FlagName(candidate.key) == name) spec = &candidate;
      }
      if (spec == nullptr) {
        return Status::Error(fmt::format("command line: {}: unknown option (see --help)", name));
      }
    }
    if (!value && spec != nullptr && spec->type == OptionType::kBool) value = "true";
    if (!value) {
      if (i + 1 >= args.size()) {
        return Status::Error(fmt::format("command line: {}: needs a value", name));
      }
      value = args[++i];
    }
    if (spec == nullptr) {
      config_path = *value;
    } else {
      flags.push_back(Flag{spec, name, *value});
    }
  }

  Config config = DefaultConfig();
  if (!config_path.empty()) {
    Status status = ApplyConfigFile(config_path, &config);
    if (!status.ok()) return status;
  }
  std::set<std::string_view> lists_seen;
  for (const Flag& flag : flags) {
    bool replace = IsList(*flag.spec) && lists_seen.insert(flag.spec->key).second;
    Status status = SetOption(*flag.spec, flag.value, replace, &config);
    if (!status.ok()) {
      return Status::Error(fmt::format("command line: {}: {}", flag.name, status.message()));
    }
  }
  Status valid = Validate(config);
  if (!valid.ok()) return valid;
  invocation.config = std::move(config);
  return invocation;
}

Status Validate(const Config& config) {
  std::string where = config.config_file.empty() ? "configuration" : config.config_file;
  if (config.listen.empty() && config.tls_listen.empty()) {
    return Status::Error(
        fmt::format("{}: listen: no listener configured (listen, tls_listen)", where));
  }
  if (!config.tls_listen.empty() && (config.tls_cert.empty() || config.tls_key.empty())) {
    return Status::Error(fmt::format("{}: tls_listen: needs both tls_cert and tls_key", where));
  }
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    return Status::Error(fmt::format("{}: {}: tls_cert and tls_key go together", where,
                                     config.tls_cert.empty() ? "tls_cert" : "tls_key"));
  }
  if (config.coordinator.enabled && config.coordinator.workers.empty()) {
    return Status::Error(fmt::format(
        "{}: workers: a coordinator needs workers (HOST:PORT,HOST:PORT,... or NAME:PORT)",
        where));
  }
  return Status::Ok();
}

std::string HelpText() {
  std::string text =
      "usage: testrund [--config FILE] [--listen HOST:PORT]... [--tls-listen HOST:PORT]...\n"
      "                [--tls-cert FILE] [--tls-key FILE] [--token TOKEN:ROLE]...\n"
      "                [--results-dir DIR] [--log-level error|warn|info|debug]\n"
      "                [--log-file FILE] [--coordinator --workers HOST:PORT,...]\n"
      "                [--check-config] [--version] [--help]\n"
      "\n"
      "A load-testing daemon speaking JSON-RPC 2.0 (length-prefixed or HTTP/1.1).\n"
      "Every option can be set in the config file as `key = value` (underscores);\n"
      "a flag overrides the file. Sizes take a K, M or G suffix.\n"
      "\n";
  // One column for every flag, as wide as the longest one (plus two spaces).
  const std::pair<std::string, std::string_view> kFixed[] = {
      {"--config FILE", "read options from FILE first"},
      {"--check-config", "validate the configuration and exit"},
      {"--version", "print the version and exit"},
      {"--help", "print this text and exit"},
  };
  size_t width = 0;
  for (const auto& [flag, help] : kFixed) width = std::max(width, flag.size());
  // A boolean's flag alone sets it (--coordinator); --flag=false clears it.
  auto invocation = [](const OptionSpec& spec) {
    return FlagName(spec.key) + (spec.type == OptionType::kBool ? "" : " VALUE");
  };
  for (const OptionSpec& spec : kOptions) width = std::max(width, invocation(spec).size());
  width += 2;
  for (const auto& [flag, help] : kFixed) text += fmt::format("  {:<{}}{}\n", flag, width, help);
  for (const OptionSpec& spec : kOptions) {
    std::string line = fmt::format("  {:<{}}{}", invocation(spec), width, spec.help);
    if (!spec.default_value.empty()) line += fmt::format(" [{}]", spec.default_value);
    text += line + "\n";
  }
  return text;
}

}  // namespace testrund::daemon
